package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"hermez/bench/load"
)

type httpClient struct {
	c *http.Client
}

func newHTTPClient(workers int, timeout time.Duration) *httpClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers * 2,
		MaxIdleConnsPerHost: workers * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &httpClient{c: &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends one request and fails unless the status is want; the body is read
// (and returned when keep is true) so the connection is reused.
func (h *httpClient) do(ctx context.Context, method, url, token string, body []byte, want int, keep bool) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out []byte
	if keep || res.StatusCode != want {
		out, err = io.ReadAll(io.LimitReader(res.Body, 8<<20))
	} else {
		_, err = io.Copy(io.Discard, res.Body)
	}
	if err != nil {
		return nil, err
	}
	if res.StatusCode != want {
		if len(out) > 200 {
			out = out[:200]
		}
		return nil, fmt.Errorf("%s %s: status %d, want %d: %s", method, req.URL.Path, res.StatusCode, want, bytes.TrimSpace(out))
	}
	return out, nil
}

// id reads the "id" of a JSON object answer.
func id(b []byte) (string, error) {
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("no id in answer %.200s", b)
	}
	return v.ID, nil
}

// firstCategory is the id of the first category (quotes need one).
func (b *bench) firstCategory(ctx context.Context, token string) (string, error) {
	body, err := b.client.do(ctx, "GET", b.o.target+"/deliveries/api/categories/", token, nil, 200, true)
	if err != nil {
		return "", fmt.Errorf("fetch categories (is the database seeded? run `web seed`): %w", err)
	}
	var cats []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &cats); err != nil || len(cats) == 0 {
		return "", fmt.Errorf("no categories (run `web seed`): %.200s", body)
	}
	return cats[0].ID, nil
}

func quoteBody(category string, w int) []byte {
	b, _ := json.Marshal(quoteFields(category, w))
	return b
}

// quoteFields is a valid quote body (one more field may be added).
func quoteFields(category string, w int) map[string]any { return load.QuoteFields(category, w) }

// httpReport is one HTTP run.
type httpReport struct {
	Scenario      string   `json:"scenario"`
	Mode          string   `json:"mode"`
	Workers       int      `json:"workers"`
	Rate          float64  `json:"rate,omitempty"`
	Run           int      `json:"run"`
	ReqPerOp      int      `json:"requests_per_op"`
	OpsPerSec     float64  `json:"ops_per_sec"`
	ReqPerSec     float64  `json:"requests_per_sec"`
	Ops           int64    `json:"ops"`
	Errors        int64    `json:"errors"`
	Late          int64    `json:"late,omitempty"`
	P50ms         float64  `json:"p50_ms"`
	P90ms         float64  `json:"p90_ms"`
	P99ms         float64  `json:"p99_ms"`
	P999ms        float64  `json:"p999_ms"`
	Maxms         float64  `json:"max_ms"`
	ElapsedS      float64  `json:"elapsed_s"`
	LoadBefore    float64  `json:"loadavg1_before"`
	LoadAfter     float64  `json:"loadavg1_after"`
	ErrorExamples []string `json:"error_examples,omitempty"`
}

func (r httpReport) line() string {
	s := fmt.Sprintf("scenario=%s mode=%s c=%d", r.Scenario, r.Mode, r.Workers)
	if r.Rate > 0 {
		s += fmt.Sprintf(" rate=%.0f/s", r.Rate)
	}
	s += fmt.Sprintf(" run=%d ops=%d errors=%d ops/s=%.0f req/s=%.0f p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms",
		r.Run, r.Ops, r.Errors, r.OpsPerSec, r.ReqPerSec, r.P50ms, r.P90ms, r.P99ms, r.Maxms)
	if r.Late > 0 {
		s += fmt.Sprintf(" late=%d", r.Late)
	}
	return s + fmt.Sprintf(" load1=%.1f→%.1f", r.LoadBefore, r.LoadAfter)
}

func (b *bench) httpScenario(ctx context.Context) error {
	o := b.o
	users := o.users
	toks, err := b.tokens(o.scenario, users)
	if err != nil {
		return err
	}
	var op load.Op
	reqPerOp := 1
	switch o.scenario {
	case "me":
		url := o.target + "/user/api/me/"
		op = func(ctx context.Context, w int) error {
			_, err := b.client.do(ctx, "GET", url, toks[w%users], nil, 200, false)
			return err
		}
	case "categories":
		url := o.target + "/deliveries/api/categories/"
		op = func(ctx context.Context, w int) error {
			_, err := b.client.do(ctx, "GET", url, toks[w%users], nil, 200, false)
			return err
		}
	case "quote":
		cat, err := b.firstCategory(ctx, toks[0])
		if err != nil {
			return err
		}
		url := o.target + "/deliveries/api/quotes/"
		bodies := make([][]byte, users)
		for i := range bodies {
			bodies[i] = quoteBody(cat, i)
		}
		op = func(ctx context.Context, w int) error {
			_, err := b.client.do(ctx, "POST", url, toks[w%users], bodies[w%users], 201, false)
			return err
		}
	case "accept":
		reqPerOp = 3
		op, err = b.acceptFlow(ctx, toks)
		if err != nil {
			return err
		}
	}
	mode := "saturation"
	if o.rate > 0 {
		mode = "fixed-rate"
	}
	plan := load.Plan{Rate: o.rate, Duration: o.duration, Workers: o.workers, MaxOps: o.maxOps}
	if o.warmup > 0 {
		load.Run(ctx, load.Plan{Duration: o.warmup, Workers: o.workers, MaxOps: o.maxOps}, op, load.NewRecorder(1))
	}
	var rps, p50, p99, maxs []float64
	var errs, ops int64
	for i := 1; i <= o.runs && ctx.Err() == nil; i++ {
		if i > 1 {
			time.Sleep(o.pause)
		}
		la := load.LoadAvg()
		res := load.Run(ctx, plan, op, load.NewRecorder(o.maxSamples))
		r := httpReport{Scenario: o.scenario, Mode: mode, Workers: o.workers, Rate: o.rate, Run: i, ReqPerOp: reqPerOp,
			OpsPerSec: res.Throughput, ReqPerSec: res.Throughput * float64(reqPerOp), Ops: res.Count, Errors: res.Errors, Late: res.Late,
			P50ms: msf(res.P50), P90ms: msf(res.P90), P99ms: msf(res.P99), P999ms: msf(res.P999), Maxms: msf(res.Max),
			ElapsedS: res.Elapsed.Seconds(), ErrorExamples: res.ErrorSamples, LoadBefore: la, LoadAfter: load.LoadAvg()}
		b.report(r.line(), r)
		for _, e := range res.ErrorSamples {
			fmt.Fprintln(b.out, "  error:", e)
		}
		errs, ops = errs+r.Errors, ops+r.Ops
		rps, p50, p99, maxs = append(rps, r.ReqPerSec), append(p50, r.P50ms), append(p99, r.P99ms), append(maxs, r.Maxms)
	}
	if o.runs > 1 {
		med := map[string]any{"scenario": o.scenario, "mode": mode, "workers": o.workers, "rate": o.rate, "runs": len(rps),
			"median_requests_per_sec": load.Median(rps), "median_p50_ms": load.Median(p50),
			"median_p99_ms": load.Median(p99), "median_max_ms": load.Median(maxs), "ops": ops, "errors": errs}
		b.report(fmt.Sprintf("MEDIAN scenario=%s mode=%s c=%d rate=%.0f runs=%d req/s=%.0f p50=%.2fms p99=%.2fms max=%.2fms (ops=%d errors=%d)",
			o.scenario, mode, o.workers, o.rate, len(rps), load.Median(rps), load.Median(p50), load.Median(p99), load.Median(maxs), ops, errs), med)
	}
	return nil
}

// acceptFlow is the whole marketplace story per operation: the worker's
// client posts a quote, its driver offers, the client accepts.
func (b *bench) acceptFlow(ctx context.Context, clients []string) (load.Op, error) {
	o := b.o
	drivers, err := b.tokens("accept_driver", len(clients))
	if err != nil {
		return nil, err
	}
	cat, err := b.firstCategory(ctx, clients[0])
	if err != nil {
		return nil, err
	}
	b.driverVehicles(ctx, drivers)
	n := len(clients)
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = quoteBody(cat, i)
	}
	offer := []byte(`{"proposed_price": "13500", "estimated_delivery_time": "00:20:00"}`)
	return func(ctx context.Context, w int) error {
		i := w % n
		q, err := b.client.do(ctx, "POST", o.target+"/deliveries/api/quotes/", clients[i], bodies[i], 201, true)
		if err != nil {
			return err
		}
		qid, err := id(q)
		if err != nil {
			return err
		}
		of, err := b.client.do(ctx, "POST", o.target+"/deliveries/api/quotes/"+qid+"/offers/", drivers[i], offer, 201, true)
		if err != nil {
			return err
		}
		oid, err := id(of)
		if err != nil {
			return err
		}
		_, err = b.client.do(ctx, "POST", o.target+"/deliveries/api/offers/"+oid+"/accept/", clients[i], nil, 201, false)
		return err
	}, nil
}

// driverVehicles gives each driver a current vehicle when they have none
// (best effort: offers also work without one unless REQUIRE_VERIFIED_VEHICLE).
func (b *bench) driverVehicles(ctx context.Context, drivers []string) {
	o := b.o
	body, err := b.client.do(ctx, "GET", o.target+"/user/api/me/vehicle-types/", drivers[0], nil, 200, true)
	if err != nil {
		fmt.Fprintln(b.out, "note: no vehicle types, drivers offer without a vehicle:", err)
		return
	}
	var types []struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &types) != nil || len(types) == 0 {
		return
	}
	for i, tok := range drivers {
		me, err := b.client.do(ctx, "GET", o.target+"/user/api/me/", tok, nil, 200, true)
		if err != nil {
			fmt.Fprintln(b.out, "note: driver setup:", err)
			return
		}
		var users []struct {
			CurrentVehicle *struct{} `json:"current_vehicle"`
		}
		if json.Unmarshal(me, &users) == nil && len(users) == 1 && users[0].CurrentVehicle != nil {
			continue
		}
		plate := fmt.Sprintf("BN%04d", i)
		v, _ := json.Marshal(map[string]any{"type_id": types[0].ID, "brand": "Bajaj", "model": "Boxer", "year": 2021,
			"licensePlate": plate, "vin": fmt.Sprintf("BENCHVIN%09d", i), "color": "Negro"})
		vb, err := b.client.do(ctx, "POST", o.target+"/user/api/me/vehicles/", tok, v, 201, true)
		if err != nil {
			fmt.Fprintln(b.out, "note: driver vehicle setup failed, offers go without a vehicle:", err)
			return
		}
		var veh struct {
			VehicleID string `json:"vehicleId"`
		}
		if json.Unmarshal(vb, &veh) != nil {
			return
		}
		sb, _ := json.Marshal(map[string]string{"vehicle_id": veh.VehicleID})
		if _, err := b.client.do(ctx, "POST", o.target+"/user/api/me/set-current-vehicle/", tok, sb, 200, false); err != nil {
			fmt.Fprintln(b.out, "note: set current vehicle failed:", err)
			return
		}
	}
}
