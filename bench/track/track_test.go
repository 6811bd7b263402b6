// Package track is the live-tracking load (issue 21, place.md §6 "Cost"):
// BENCH_DRIVERS drivers (default 1000), each with an active delivery and a
// socket on one worker, send one `location` frame a second for
// BENCH_SECONDS (default 60); each delivery's client has a socket on
// user_deliveries. It prints publish→receipt percentiles on the clients'
// sockets (recorded_at is the driver's send time), the trail rows written ÷
// updates sent, and the worker's CPU per update (/proc/<pid>/stat).
// Run: bench/track.sh (skipped unless BENCH_TRACK=1; needs TEST_DATABASE_URL
// and TEST_REDIS_URL).
package track

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/shopspring/decimal"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// cpuTicks is utime+stime of pid (clock ticks, 100 a second on Linux).
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// socketUpdates reads hermez_location_updates_total{source="socket"} by outcome from the worker's /metrics.
func socketUpdates(t *testing.T, base string) map[string]float64 {
	res, err := http.Get("http://" + base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "hermez_location_updates_total{") || !strings.Contains(l, `source="socket"`) {
			continue
		}
		i := strings.Index(l, `outcome="`)
		if i < 0 {
			continue
		}
		o := l[i+9:]
		o = o[:strings.IndexByte(o, '"')]
		f := strings.Fields(l)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		out[o] = v
	}
	return out
}

func TestTrackLoad(t *testing.T) {
	if os.Getenv("BENCH_TRACK") != "1" || !testutil.IsPostgres() || os.Getenv("TEST_REDIS_URL") == "" {
		t.Skip("BENCH_TRACK=1 with TEST_DATABASE_URL and TEST_REDIS_URL runs the tracking load (bench/track.sh)")
	}
	drivers, seconds := envInt("BENCH_DRIVERS", 1000), envInt("BENCH_SECONDS", 60)
	web, workerBin := testutil.Binaries(t)
	_ = web
	dbURL := testutil.NewDatabaseURL(t)
	redisURL, prefix := testutil.Redis(t)
	jwks := testutil.NewJWKS(t)
	st, err := store.OpenWith(dbURL, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Users and active deliveries, written directly (the accept flow is not what is measured).
	var cat store.Category
	if err := st.DB.Take(&cat).Error; err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	plat, plng, dlat, dlng := 4.60, -74.08, 4.65, -74.05
	var users []store.User
	var ds []store.Delivery
	for i := range drivers {
		c, d := fmt.Sprintf("bench_trk_c%05d", i), fmt.Sprintf("bench_trk_d%05d", i)
		users = append(users, store.User{UserID: c, CreatedAt: now, UpdatedAt: now}, store.User{UserID: d, IsAvailable: true, CreatedAt: now, UpdatedAt: now})
		ds = append(ds, store.Delivery{ID: uuid.New(), ClientID: c, DeliveryPersonID: &d, PickupAddress: "Calle 1", DeliveryAddress: "Calle 2",
			CategoryID: cat.ID, Observations: store.StringList{}, PaymentMethod: "efectivo", FinalPrice: decimal.NewFromInt(9000),
			Status: store.DeliveryPickedUp, CreatedAt: now, UpdatedAt: now, HistoryID: uuid.New(),
			PickupLatitude: &plat, PickupLongitude: &plng, DeliveryLatitude: &dlat, DeliveryLongitude: &dlng})
	}
	if err := st.DB.CreateInBatches(users, 500).Error; err != nil {
		t.Fatal(err)
	}
	if err := st.DB.Omit("Client", "Driver", "Category").CreateInBatches(ds, 500).Error; err != nil {
		t.Fatal(err)
	}

	port := testutil.FreePort(t)
	cmd := exec.Command(workerBin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix,
		"CLERK_FRONTEND_API_URL="+jwks.URL, "SECRET_KEY=bench-"+strings.Repeat("s", 40), "DEBUG=false",
		"WS_MAX_SOCKETS_PER_USER=0", "THROTTLE_USER_WRITES=0", "THROTTLE_QUOTES=0", "THROTTLE_ANON=0", "DATABASE_MAX_CONNECTIONS=8")
	logf, _ := os.CreateTemp("", "bench-track-worker-*.log")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "127.0.0.1:" + strconv.Itoa(port)
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get("http://" + base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(end) {
			t.Fatalf("worker not ready (log %s)", logf.Name())
		}
	}
	time.Sleep(time.Second) // the tracker's first refresh fills the index from the active deliveries

	dial := func(sub, path string) *websocket.Conn {
		tok := jwks.Token(t, sub)
		for attempt := 0; ; attempt++ {
			d := websocket.Dialer{HandshakeTimeout: 20 * time.Second, Subprotocols: []string{tok}}
			c, _, err := d.Dial("ws://"+base+path, nil)
			if err == nil {
				return c
			}
			if attempt == 5 {
				t.Fatalf("dial %s: %v", path, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Clients: one socket each, recording publish→receipt.
	var mu sync.Mutex
	var lat []time.Duration
	var received atomic.Int64
	var wg sync.WaitGroup
	clients := make([]*websocket.Conn, drivers)
	driverConns := make([]*websocket.Conn, drivers)
	var opening sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range drivers {
		opening.Add(1)
		sem <- struct{}{}
		go func() {
			defer opening.Done()
			defer func() { <-sem }()
			clients[i] = dial(fmt.Sprintf("bench_trk_c%05d", i), "/ws/deliveries/users/me/deliveries/")
			driverConns[i] = dial(fmt.Sprintf("bench_trk_d%05d", i), "/ws/deliveries/drivers/me/deliveries/")
		}()
	}
	opening.Wait()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					return
				}
				at := time.Now()
				var f struct {
					Type string `json:"type"`
					Data struct {
						RecordedAt time.Time `json:"recorded_at"`
					} `json:"data"`
				}
				if json.Unmarshal(b, &f) == nil && f.Type == "driver_location" {
					received.Add(1)
					mu.Lock()
					lat = append(lat, at.Sub(f.Data.RecordedAt))
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range driverConns { // their snapshots: not read further
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	var rows0 int64
	st.DB.Model(&store.TrackPoint{}).Count(&rows0)

	// Drivers: one frame a second each, spread over the second; 3 m north each time.
	m0 := socketUpdates(t, base)
	cpu0, began := cpuTicks(t, cmd.Process.Pid), time.Now()
	var sent atomic.Int64
	var senders sync.WaitGroup
	stop := time.Now().Add(time.Duration(seconds) * time.Second)
	for i, c := range driverConns {
		senders.Add(1)
		go func() {
			defer senders.Done()
			time.Sleep(time.Duration(i) * time.Second / time.Duration(drivers))
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for n := 0; time.Now().Before(stop); n++ {
				at := time.Now().UTC()
				msg := fmt.Sprintf(`{"type":"location","latitude":%.6f,"longitude":%.6f,"speed":5,"recorded_at":%q}`,
					4.61+float64(n)*0.000027, -74.07+float64(i)*0.00001, at.Format(time.RFC3339Nano))
				if c.WriteMessage(websocket.TextMessage, []byte(msg)) != nil {
					return
				}
				sent.Add(1)
				<-tick.C
			}
		}()
	}
	senders.Wait()
	elapsed := time.Since(began)
	cpu1 := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(2 * time.Second) // last frames and the drainer (every 200 ms)
	m1 := socketUpdates(t, base)
	keptN, soon := m1["kept"]-m0["kept"], m1["too_soon"]-m0["too_soon"]
	var rows int64
	st.DB.Model(&store.TrackPoint{}).Count(&rows)
	for _, c := range append(clients, driverConns...) {
		c.Close()
	}
	wg.Wait()

	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	mu.Unlock()
	var kept string
	if b, err := os.ReadFile(logf.Name()); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"level":"ERROR"`) {
				kept = sc.Text()
			}
		}
	}
	n := sent.Load()
	t.Logf("FIGURE track-load: %d drivers × 1 location/s over sockets to one worker for %s: sent %d, kept %.0f, dropped by the once-a-second rule %.0f (%.1f%%), other %v; driver_location received %d (%.3f per kept update), publish→receipt p50 %s p99 %s max %s; trail rows written %d (%.4f per update sent, %.4f per kept); worker CPU %.3f ms per update sent (%.0f%% of one core)",
		drivers, elapsed.Round(time.Second), n, keptN, soon, 100*soon/float64(n), m1, received.Load(), float64(received.Load())/keptN,
		pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), pct(1).Round(time.Millisecond),
		rows-rows0, float64(rows-rows0)/float64(n), float64(rows-rows0)/keptN, float64(cpu1-cpu0)*10/float64(n), float64(cpu1-cpu0)/elapsed.Seconds())
	if kept != "" {
		t.Logf("last worker error: %s", kept)
	}
	_ = context.Background
}
