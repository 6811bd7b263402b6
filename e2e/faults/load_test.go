package faults

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hermez/pkg/testutil"
)

// Many concurrent writers and no fault: the order rule never closes a healthy
// socket (0 resyncs, 0 1012) — broadcast groups like new_quotes see changes of
// many quotes committed in any order — no session shows an older state after
// a newer one, and at the end every socket shows the database's state.
func TestConcurrentWritersNoResync(t *testing.T) {
	t.Parallel()
	url, prefix := testutil.Redis(t)
	s := newSystem(t, url, prefix)
	w1, w2 := s.startWorker("worker-1"), s.startWorker("worker-2")
	web := s.startWeb(0)
	a := newAPI(web.url)
	const writers, quotesEach, rounds = 16, 2, 15
	type owned struct {
		token string
		ids   []string
	}
	owners := make([]owned, writers)
	for i := range owners {
		owners[i].token = s.token(fmt.Sprintf("user_cw_%02d", i))
		for range quotesEach {
			owners[i].ids = append(owners[i].ids, s.createQuote(a, owners[i].token, 100))
		}
	}
	driver := s.token("user_cw_driver")
	urls := []string{w1.url, w2.url}
	ws := sockets(urls, "/ws/deliveries/new-quotes/", driver, 10)
	defer func() {
		for _, w := range ws {
			w.close()
		}
	}()
	if n := settle(ws, owners[0].ids[0], 100, 20*time.Second); n != 0 {
		t.Fatal("sockets not up")
	}
	for i := 0; i < 4; i++ { // and the quote groups of a few
		more := sockets(urls, "/ws/deliveries/quotes/"+owners[i].ids[0]+"/", owners[i].token, 2)
		ws = append(ws, more...)
		if n := settle(more, owners[i].ids[0], 100, 20*time.Second); n != 0 {
			t.Fatal("sockets not up")
		}
	}
	var writes, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range owners {
		for _, id := range owners[i].ids {
			wg.Add(1)
			go func(tok, id string) { // each quote: its own writer, changes as fast as answered
				defer wg.Done()
				for r := 1; r <= rounds; r++ {
					code, _, err := a.do("PATCH", "/deliveries/api/quotes/"+id+"/", tok, map[string]any{"client_price": 100 + r})
					if err != nil || code != 200 {
						failed.Add(1)
						continue
					}
					writes.Add(1)
				}
			}(owners[i].token, id)
		}
	}
	wg.Wait()
	took := time.Since(start)
	diverged := 0
	for i := range owners {
		for _, id := range owners[i].ids {
			for _, w := range ws {
				if w.path == "/ws/deliveries/new-quotes/" || w.path == "/ws/deliveries/quotes/"+id+"/" {
					if settle([]*watcher{w}, id, 100+rounds, 10*time.Second) != 0 {
						diverged++
					}
				}
			}
		}
	}
	st := sum(ws)
	figure(t, "concurrent-writers", "%d writers on %d quotes, %d changes in %s (%.0f/s), %d failed; %d sockets on 2 workers: "+
		"resyncs (1012) %d, other closes %v, order violations %d, socket×quote states diverged at the end %d, frames %d",
		writers*quotesEach, writers*quotesEach, writes.Load(), took.Round(10*time.Millisecond), float64(writes.Load())/took.Seconds(),
		failed.Load(), len(ws), st.codes[1012], st.codes, st.violations, diverged, st.frames)
	if st.codes[1012] != 0 || len(st.codes) != 0 || st.sessions != len(ws) {
		t.Fatalf("healthy sockets were closed: %v (%d sessions for %d sockets)", st.codes, st.sessions, len(ws))
	}
	if st.violations != 0 || diverged != 0 || failed.Load() != 0 {
		t.Fatalf("violations %d, diverged %d, failed writes %d", st.violations, diverged, failed.Load())
	}
}
