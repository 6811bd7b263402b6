package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"hermez/bench/load"
)

// token is a JWT-shaped token for sub with the load tool's claims (the bare
// server reads them without verifying the signature).
func token(t *testing.T, sub string) string {
	t.Helper()
	claims, err := json.Marshal(map[string]any{"sub": sub, "username": sub, "first_name": "Bench", "last_name": sub,
		"email": sub + "@bench.invalid", "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims) + "." + enc([]byte("unchecked"))
}

func post(t *testing.T, url, tok string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url+quotesPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestBareServer drives the bare writer as the load tool's quote scenario
// does (categories, then the tool's bodies with its tokens) and checks the
// rows it wrote are the reference's, marked published; bad input is a 4xx.
func TestBareServer(t *testing.T) {
	_, pool := newDB(t)
	ctx := context.Background()
	m := newMarker(pool)
	go m.run(ctx)
	s, err := newServer(ctx, writer{pool: pool, m: m, tx: txPipelined}, payloadRendered, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/deliveries/api/categories/")
	if err != nil {
		t.Fatal(err)
	}
	var cats []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&cats); err != nil || res.StatusCode != 200 || len(cats) == 0 {
		t.Fatalf("categories: %d %v %v", res.StatusCode, cats, err)
	}
	res.Body.Close()

	var ids []uuid.UUID
	for i := range 3 {
		for range 2 { // the second of a client's bodies reuses the kept template
			body, _ := json.Marshal(load.QuoteFields(cats[0].ID, i))
			status, answer := post(t, srv.URL, token(t, "bench_quote_"+string(rune('0'+i))), body)
			var a struct {
				ID uuid.UUID `json:"id"`
			}
			if status != 201 || json.Unmarshal(answer, &a) != nil || a.ID == uuid.Nil {
				t.Fatalf("POST quote %d: %d %s", i, status, answer)
			}
			ids = append(ids, a.ID)
		}
	}
	if s.nShapes.Load() != 3 {
		t.Errorf("kept %d templates, want 3 (one per client and body)", s.nShapes.Load())
	}
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}

	// The rows: the reference's for the same body (same function), marked.
	cfg := config{c: 1, users: 1, userPrefix: "bench_dbwrt", payload: payloadRendered}
	shapes, err := benchShapes(ctx, cfg, pool)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := writer{pool: pool, tx: txPipelined}.writeQuote(ctx, shapes[0])
	if err != nil {
		t.Fatal(err)
	}
	want := sizesOf(t, pool, ref)
	got := sizesOf(t, pool, ids[0])
	within(t, "bare server's frames as stored (compressed; the ids vary)", got.framesStored, want.framesStored, 0.03)
	if got.framesStored = want.framesStored; got != want {
		t.Errorf("bare server's rows %+v, the reference's %+v", got, want)
	}
	var n, unpublished int
	var client, frames string
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox_events`).Scan(&n, &unpublished); err != nil {
		t.Fatal(err)
	}
	if n != len(ids)+1 || unpublished != 0 {
		t.Errorf("outbox rows %d (%d unpublished), want %d, all published", n, unpublished, len(ids)+1)
	}
	if err := pool.QueryRow(ctx, `SELECT q.client_id, o.frames FROM delivery_quotes q JOIN outbox_events o ON o.heads LIKE 'quote:' || q.id || ' %' WHERE q.id = $1`, ids[5]).Scan(&client, &frames); err != nil {
		t.Fatal(err)
	}
	if client != "bench_quote_2" || !strings.Contains(frames, `"pickup_address":"Carrera 33 # 42-2, Bucaramanga"`) || !strings.Contains(frames, ids[5].String()) {
		t.Errorf("quote %s: client %s, frames %.300s", ids[5], client, frames)
	}

	// Bad input: 400 (or 401 without a token), never 500, nothing written.
	good, _ := json.Marshal(load.QuoteFields(cats[0].ID, 0))
	for name, c := range map[string]struct {
		tok  string
		body string
		want int
	}{
		"not JSON":          {token(t, "bench_quote_0"), `{"category_id":`, 400},
		"wrong types":       {token(t, "bench_quote_0"), `{"category_id":1,"client_price":"x"}`, 400},
		"unknown category":  {token(t, "bench_quote_0"), strings.Replace(string(good), cats[0].ID, uuid.NewString(), 1), 400},
		"no pickup address": {token(t, "bench_quote_0"), strings.Replace(string(good), `"pickup_address":"Carrera 33 # 42-0, Bucaramanga"`, `"pickup_address":" "`, 1), 400},
		"no price":          {token(t, "bench_quote_0"), strings.Replace(string(good), `"client_price":12000`, `"client_price":0`, 1), 400},
		"no token":          {"", string(good), 401},
		"not a JWT":         {"abc", string(good), 401},
	} {
		if status, answer := post(t, srv.URL, c.tok, []byte(c.body)); status != c.want {
			t.Errorf("%s: %d %s, want %d", name, status, answer, c.want)
		}
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM delivery_quotes`).Scan(&n); err != nil || n != len(ids)+1 {
		t.Errorf("quotes %d (%v), want %d", n, err, len(ids)+1)
	}
	if res, err := http.Get(srv.URL + "/nowhere"); err != nil || res.StatusCode != 404 {
		t.Errorf("unknown path: %v %v", res, err)
	}
}

func TestFlags(t *testing.T) {
	db := "-db=postgres://postgres@127.0.0.1:5432/x"
	cfg, err := parseFlags([]string{db})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.users != 64 || cfg.conns != 64 || cfg.payload != payloadRendered || cfg.marks != "batched" || cfg.tx != txPipelined || cfg.serve != "" {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg, err = parseFlags([]string{db, "-c", "300"}); err != nil || cfg.users != 200 {
		t.Errorf("-c 300: users %d (%v), want 200 as the load tool", cfg.users, err)
	}
	if cfg, err = parseFlags([]string{db, "-serve", "127.0.0.1:0"}); err != nil || cfg.conns != webPool {
		t.Errorf("-serve: conns %d (%v), want web's %d", cfg.conns, err, webPool)
	}
	if cfg, err = parseFlags([]string{db, "-payload", "repeat", "-conns", "20", "-users", "16"}); err != nil || cfg.conns != 20 || cfg.users != 16 {
		t.Errorf("explicit flags: %+v %v", cfg, err)
	}
	for _, bad := range [][]string{
		{db, "-c", "0"}, {db, "-c", "2000"}, {db, "-users", "-1"}, {db, "-conns", "5000"},
		{db, "-duration", "0s"}, {db, "-duration", "2h"}, {db, "-marks", "some"}, {db, "-payload", "zeros"}, {db, "-tx", "none"},
		{db, "-max-ops", "0"}, {db, "-user-prefix", ""}, {db, "-serve-for", "0s"},
		{db, "-serve", "10.0.0.1:80"}, {db, "-serve", "example.com:80"}, {"-db", "postgres://postgres@10.1.2.3:5432/x"},
		{"-db", ""}, {db, "stray"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
