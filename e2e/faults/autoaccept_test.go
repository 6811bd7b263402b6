package faults

import (
	"database/sql"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"hermez/pkg/market"
	"hermez/pkg/testutil"
)

// The automatic accept of the lowest offer (place.md §7) with two webs and two
// workers as separate processes on one database: both workers' runners look
// for due quotes every 500 ms, and for a third of the quotes the client accepts
// another offer through the other web at the due instant. Every quote that
// accepts automatically becomes exactly one delivery (the lowest offer's, with
// the automatic history line) within 2 s of its auto_accept_at; a raced quote
// becomes exactly one delivery, whichever won; a quote its client cancelled or
// switched off before the instant becomes none.
func TestAutoAcceptExactlyOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	began := time.Now()
	url, prefix := testutil.Redis(t)
	const delay = 2 * time.Second
	s := newSystem(t, url, prefix, "AUTO_ACCEPT_DELAY_SECONDS=2")
	s.startWorker("worker-1")
	s.startWorker("worker-2")
	t.Logf("processes up in %s", time.Since(began).Round(time.Millisecond))
	webs := []*api{newAPI(s.startWeb(0).url), newAPI(s.startWeb(0).url)}
	db, err := sql.Open("pgx", s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Three drivers with a current vehicle each.
	drivers := make([]string, 3)
	for i := range drivers {
		drivers[i] = s.token(fmt.Sprintf("user_aa_driver_%d", i))
		a := webs[i%2]
		types := a.list(t, "/user/api/me/vehicle-types/", drivers[i])
		veh := a.must(t, "POST", "/user/api/me/vehicles/", drivers[i], map[string]any{
			"type_id": types[0]["id"], "brand": "Bajaj", "model": "Boxer", "year": "2021",
			"licensePlate": fmt.Sprintf("AAQ%02dF", i), "vin": fmt.Sprintf("MD2A21BZ5MWC4081%d", i), "color": "Negro"}, 201)
		a.must(t, "POST", "/user/api/me/set-current-vehicle/", drivers[i], map[string]any{"vehicle_id": veh["vehicleId"]}, 200)
	}

	type kind int
	const (
		auto kind = iota
		raced
		cancelled
		switchedOff
	)
	type quote struct {
		id, history string
		kind        kind
		client      string
		lowest      string // the lowest offer's id (the second driver's)
		highest     string // the one a racing client accepts
		at          time.Time
	}
	var quotes []*quote
	for i := range 24 {
		k := auto
		switch {
		case i%3 == 1:
			k = raced
		case i == 2:
			k = cancelled
		case i == 5:
			k = switchedOff
		}
		client := s.token(fmt.Sprintf("user_aa_client_%d", i%4))
		a := webs[i%2]
		m := a.must(t, "POST", "/deliveries/api/quotes/", client, map[string]any{
			"category_id": s.categoryID(a, client), "client_price": 20000, "payment_method": "efectivo",
			"pickup_address": "Carrera 33 # 42-18", "delivery_address": fmt.Sprintf("Calle %d # 17A-23", 10+i),
			"auto_accept_lowest": true,
		}, 201)
		q := &quote{id: m["id"].(string), kind: k, client: client}
		if err := db.QueryRow(`SELECT history_id FROM delivery_quotes WHERE id = $1`, q.id).Scan(&q.history); err != nil {
			t.Fatal(err)
		}
		quotes = append(quotes, q)
	}
	// Offers from the three drivers through both webs, concurrently per quote.
	var wg sync.WaitGroup
	for i, q := range quotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d, price := range []int{19000, 17000, 18000} {
				code, m, err := webs[(i+d)%2].do("POST", "/deliveries/api/quotes/"+q.id+"/offers/", drivers[d],
					map[string]any{"proposed_price": price, "estimated_delivery_time": "00:20:00"})
				if err != nil || code != 201 {
					t.Errorf("offer %d on %s: %d %v %v", d, q.id, code, m, err)
					return
				}
				switch d {
				case 0:
					q.highest = m["id"].(string)
				case 1:
					q.lowest = m["id"].(string)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, q := range quotes {
		var at sql.NullTime
		if err := db.QueryRow(`SELECT auto_accept_at FROM delivery_quotes WHERE id = $1`, q.id).Scan(&at); err != nil || !at.Valid {
			t.Fatalf("quote %s: auto_accept_at %v %v, want set by its first offer", q.id, at, err)
		}
		q.at = at.Time
	}
	// Before the instant: cancel two, switch two off.
	for i, q := range quotes {
		switch q.kind {
		case cancelled:
			webs[i%2].must(t, "POST", "/deliveries/api/quotes/"+q.id+"/cancel/", q.client, nil, 200)
		case switchedOff:
			m := webs[i%2].must(t, "PATCH", "/deliveries/api/quotes/"+q.id+"/", q.client, map[string]any{"auto_accept_lowest": false}, 200)
			if m["auto_accept_at"] != nil {
				t.Fatalf("switched off: auto_accept_at %v, want null", m["auto_accept_at"])
			}
		}
	}
	// At the instant, the raced quotes' clients accept the highest offer through the other web.
	manual := map[string]int{}
	var mu sync.Mutex
	for i, q := range quotes {
		if q.kind != raced {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(q.at.Add(time.Duration(i%5) * 100 * time.Millisecond)))
			code, _, err := webs[(i+1)%2].do("POST", "/deliveries/api/offers/"+q.highest+"/accept/", q.client, nil)
			if err != nil {
				t.Errorf("accept: %v", err)
				return
			}
			mu.Lock()
			manual[fmt.Sprint(code)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	latest := quotes[0].at
	for _, q := range quotes {
		if q.at.After(latest) {
			latest = q.at
		}
	}
	t.Logf("set up in %s", time.Since(began).Round(time.Millisecond))
	time.Sleep(time.Until(latest.Add(3 * time.Second)))

	var late []time.Duration
	autoWins := 0
	for _, q := range quotes {
		rows, err := db.Query(`SELECT id, final_price::text, created_at FROM deliveries WHERE history_id = $1`, q.history)
		if err != nil {
			t.Fatal(err)
		}
		type made struct {
			id, price string
			at        time.Time
		}
		var ds []made
		for rows.Next() {
			var d made
			if err := rows.Scan(&d.id, &d.price, &d.at); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		rows.Close()
		var accepts int
		var desc sql.NullString
		if err := db.QueryRow(`SELECT count(*), max(description) FROM delivery_history WHERE history_id = $1 AND event_type = 'offer_accepted'`,
			q.history).Scan(&accepts, &desc); err != nil {
			t.Fatal(err)
		}
		switch q.kind {
		case cancelled, switchedOff:
			if len(ds) != 0 || accepts != 0 {
				t.Errorf("quote %s (cancelled or switched off): %d deliveries, %d accepts, want none", q.id, len(ds), accepts)
			}
		case auto, raced:
			if len(ds) != 1 || accepts != 1 {
				t.Errorf("quote %s: %d deliveries, %d offer_accepted, want exactly one", q.id, len(ds), accepts)
				continue
			}
			if desc.String == market.MsgAutoAccepted {
				autoWins++
				if ds[0].price != "17000.00" {
					t.Errorf("quote %s accepted automatically at %s, want the lowest 17000.00", q.id, ds[0].price)
				}
				late = append(late, ds[0].at.Sub(q.at))
			} else if q.kind == auto {
				t.Errorf("quote %s: accepted by %q, want the automatic accept", q.id, desc.String)
			}
		}
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	if len(late) == 0 {
		t.Fatal("no automatic accept happened")
	}
	figure(t, "auto-accept-race", "2 webs + 2 workers, %d quotes (delay %s): %d automatic accepts, raced client accepts answered %v; "+
		"delivery created after auto_accept_at: median %s, max %s",
		len(quotes), delay, autoWins, manual, late[len(late)/2].Round(time.Millisecond), late[len(late)-1].Round(time.Millisecond))
	for _, l := range late {
		if l < 0 || l > 2*time.Second {
			t.Errorf("an automatic accept %s after auto_accept_at, want within [0, 2 s]", l)
		}
	}
}
