package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/app"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// BenchmarkChainAccept is the load tool's accept flow (bench/ab.sh, SCEN=accept)
// through the whole Echo stack of web, in process: a client posts a quote,
// its driver (with a current vehicle, as the load tool gives them) offers, the
// client accepts — three requests per op, over 16 client/driver pairs,
// 32 flows in flight per core. Production settings as BenchmarkChain (Clerk
// tokens, JSON logs to io.Discard), throttles off, frames published to a
// recorder. On PostgreSQL (TEST_DATABASE_URL) it pays the round trips too;
// cpu-ns/op is this process's CPU per flow (what web spends, plus httptest).
//
//	go test -run '^$' -bench BenchmarkChainAccept -benchmem -benchtime 2000x ./pkg/httpapi/
func BenchmarkChainAccept(b *testing.B) {
	j := testutil.NewJWKS(b)
	cfg := testutil.Config(b)
	cfg.Debug = false
	cfg.ClerkFrontendAPIURL, cfg.ClerkJWTIssuer = j.URL, j.URL
	cfg.ThrottleUserWrites, cfg.ThrottleQuotes, cfg.ThrottleAnon = "0", "0", "0"
	st := testutil.NewStore(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w, err := app.BuildWeb(ctx, cfg, log, st, &app.Broker{Publisher: &testutil.Recorder{}})
	if err != nil {
		b.Fatal(err)
	}
	h := w.Handler
	do := func(method, path, tok, body string, want int) []byte {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.RemoteAddr = "192.0.2.10:40000"
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Errorf("%s %s: status %d: %s", method, path, rec.Code, rec.Body)
			return nil
		}
		return rec.Body.Bytes()
	}
	const pairs = 16
	type pair struct{ client, driver string }
	ps := make([]pair, pairs)
	var cats []struct {
		ID string `json:"id"`
	}
	for i := range ps {
		ps[i] = pair{j.Token(b, fmt.Sprintf("user_accept_client_%d", i)), j.Token(b, fmt.Sprintf("user_accept_driver_%d", i))}
		do("GET", "/user/api/me/", ps[i].client, "", 200) // first sight creates the users
		do("GET", "/user/api/me/", ps[i].driver, "", 200)
		benchVehicle(b, st, fmt.Sprintf("user_accept_driver_%d", i))
	}
	if err := json.Unmarshal(do("GET", "/deliveries/api/categories/", ps[0].client, "", 200), &cats); err != nil || len(cats) == 0 {
		b.Fatalf("categories: %v", err)
	}
	quote := `{"category_id":"` + cats[0].ID + `","client_price":12000,"payment_method":"efectivo",` +
		`"pickup_address":"Carrera 33 # 42-1, Bucaramanga","delivery_address":"Calle 56 # 17A-23, Ricaurte, Bucaramanga",` +
		`"description":"Caja mediana (carga de prueba)","observations":["Frágil"],"estimated_weight":3.5,"estimated_size":"Mediano"}`
	offer := `{"proposed_price": "13500", "estimated_delivery_time": "00:20:00"}`
	idOf := func(body []byte) string {
		var v struct {
			ID string `json:"id"`
		}
		if body == nil || json.Unmarshal(body, &v) != nil || v.ID == "" {
			b.Errorf("no id in %s", body)
		}
		return v.ID
	}
	flow := func(p pair) {
		qid := idOf(do("POST", "/deliveries/api/quotes/", p.client, quote, 201))
		if qid == "" {
			return
		}
		oid := idOf(do("POST", "/deliveries/api/quotes/"+qid+"/offers/", p.driver, offer, 201))
		if oid == "" {
			return
		}
		do("POST", "/deliveries/api/offers/"+oid+"/accept/", p.client, "", 201)
	}
	for _, p := range ps { // warms the statement caches and the user cache
		if flow(p); b.Failed() {
			return
		}
	}
	b.ReportAllocs()
	var next atomic.Int64
	b.ResetTimer()
	cpu0, pg0 := processCPU(b), postgresCPU(b, st)
	b.SetParallelism(16) // 32 flows in flight on two cores, as ab.sh's c=32
	b.RunParallel(func(pb *testing.PB) {
		p := ps[next.Add(1)%pairs]
		for pb.Next() {
			flow(p)
		}
	})
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	if pg0 != nil {
		var pg int64
		for pid, t := range postgresCPU(b, st) {
			pg += t - pg0[pid]
		}
		b.ReportMetric(float64(pg)/float64(b.N), "pg-cpu-ns/op")
	}
}

// postgresCPU is the CPU time so far (user + system, ns) of each PostgreSQL
// backend serving st's database, by pid (nil on SQLite, or when /proc cannot
// be read: the server is elsewhere).
func postgresCPU(b *testing.B, st *store.Store) map[int]int64 {
	b.Helper()
	if st.Dialect != store.Postgres {
		return nil
	}
	var pids []int
	if err := st.DB.Raw("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").Scan(&pids).Error; err != nil {
		b.Fatal(err)
	}
	hz := int64(100) // USER_HZ
	out := map[int]int64{}
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64) // utime, stime: fields 14 and 15
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = (u + s) * int64(time.Second) / hz
	}
	return out
}

// benchVehicle gives userID a current vehicle (a verified Moto).
func benchVehicle(b *testing.B, st *store.Store, userID string) {
	b.Helper()
	var vt store.VehicleType
	if err := st.DB.Where("name = ?", "Moto").Take(&vt).Error; err != nil {
		b.Fatalf("vehicle type: %v", err)
	}
	now := store.Now()
	suffix := strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", ""))
	v := store.Vehicle{VehicleID: uuid.New(), UserID: userID, TypeID: vt.ID, Brand: "Bajaj", Model: "Boxer", Year: 2021,
		LicensePlate: suffix[:6], VIN: suffix[:17], Color: "Negro", DriverLicenseStatus: "pending",
		RegistrationCardStatus: "pending", InsurancePolicyStatus: "pending", CriminalRecordStatus: "pending",
		IsVerified: true, CreatedAt: now, UpdatedAt: now}
	if err := st.DB.Omit("Type").Create(&v).Error; err != nil {
		b.Fatalf("create vehicle: %v", err)
	}
	if err := st.DB.Model(&store.User{}).Where("userid = ?", userID).Update("current_vehicle_id", v.VehicleID).Error; err != nil {
		b.Fatalf("set current vehicle: %v", err)
	}
}
