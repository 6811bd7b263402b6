package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hermez/pkg/config"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// Clients that hang up mid-request (their transactions are cut short and
// their connections to the database may be dropped) do not hurt the clients
// that stay: every request of a client that waits gets its 201, and no
// quote is left without its history row.
func TestClientsHangingUpDoNotHurtOthers(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ThrottleQuotes, c.ThrottleUserWrites = "0", "0" }})
	const steady, flaky = 6, 6
	actors := make([]actor, steady+flaky)
	bodies := make([][]byte, len(actors))
	for i := range actors {
		actors[i] = newActor(t, w, fmt.Sprintf("user_hangup_%02d", i))
		b, err := json.Marshal(quoteBody(t, w, actors[i], nil))
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = b
	}
	post := func(ctx context.Context, i int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", w.URL+"/deliveries/api/quotes/", bytes.NewReader(bodies[i]))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+actors[i].Tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		return res.StatusCode, nil
	}
	var (
		wg                 sync.WaitGroup
		ok, hungUp, failed atomic.Int64
		mu                 sync.Mutex
		bad                []string
	)
	deadline := time.Now().Add(3 * time.Second)
	for i := range actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if i >= steady {
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rand.IntN(15_000))*time.Microsecond)
				}
				status, err := post(ctx, i)
				cancel()
				switch {
				case i >= steady && err != nil:
					hungUp.Add(1)
				case err == nil && status == http.StatusCreated:
					ok.Add(1)
				default:
					failed.Add(1)
					mu.Lock()
					bad = append(bad, fmt.Sprintf("client %d: status %d, err %v", i, status, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%s: %d answered, %d hung up by their clients, %d failed", testutil.Dialect(), ok.Load(), hungUp.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d requests of clients that waited failed: %v", failed.Load(), bad[:min(len(bad), 5)])
	}
	if hungUp.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("the test did not exercise both kinds: %d answered, %d hung up", ok.Load(), hungUp.Load())
	}
	// One statement, one snapshot: hung-up clients' requests may still be
	// committing (their work is finished, not cut short).
	var counts struct{ Quotes, Created int64 }
	err := w.Store.DB.Raw(`SELECT (SELECT COUNT(*) FROM delivery_quotes) AS quotes,
		(SELECT COUNT(*) FROM delivery_history WHERE event_type = ?) AS created`, store.HistoryQuoteCreated).Scan(&counts).Error
	if err != nil {
		t.Fatal(err)
	}
	if quotes, created := counts.Quotes, counts.Created; quotes != created {
		t.Fatalf("%d quotes but %d quote_created history rows: a change was half written", quotes, created)
	}
}
