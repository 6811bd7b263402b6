package ws

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"hermez/pkg/realtime"
)

// slowSubscriber records every (un)subscription call; each takes 20 ms, as a
// round trip to a broker would, and sees the context it was given.
type slowSubscriber struct {
	mu     sync.Mutex
	calls  [][]string // groups per Subscribe call
	unsubs [][]string
	ctxErr []error
	group  map[string]bool
}

func (s *slowSubscriber) Subscribe(ctx context.Context, groups ...string) error {
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, groups)
	s.ctxErr = append(s.ctxErr, ctx.Err())
	for _, g := range groups {
		s.group[g] = true
	}
	return nil
}

func (s *slowSubscriber) Unsubscribe(ctx context.Context, groups ...string) error {
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsubs = append(s.unsubs, groups)
	for _, g := range groups {
		delete(s.group, g)
	}
	return nil
}

func (s *slowSubscriber) Run(ctx context.Context, _ func(realtime.Message), _ func([]string)) error {
	<-ctx.Done()
	return nil
}

func (s *slowSubscriber) Ping(context.Context) error { return nil }

// 200 sockets joining 200 groups at once are subscribed in a few batched
// SUBSCRIBEs, every join returning only once its group is subscribed; their
// leaving is batched likewise; after Run returns, the hub's context (which
// bounds subscription changes) has ended.
func TestSubscriptionsBatched(t *testing.T) {
	sub := &slowSubscriber{group: map[string]bool{}}
	h := NewHub(sub, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()

	const n = 200
	conns := make([]*Conn, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var missing []string
	for i := range conns {
		conns[i] = &Conn{user: fmt.Sprint("user_", i), group: fmt.Sprint("quote_", i), opts: &h.opts}
		wg.Add(1)
		go func(c *Conn) {
			defer wg.Done()
			if !h.join(c) {
				t.Error("join refused")
			}
			sub.mu.Lock()
			ok := sub.group[c.group]
			sub.mu.Unlock()
			if !ok {
				mu.Lock()
				missing = append(missing, c.group)
				mu.Unlock()
			}
		}(conns[i])
	}
	wg.Wait()
	if len(missing) > 0 {
		t.Fatalf("join returned before its group was subscribed: %v", missing[:min(5, len(missing))])
	}
	sub.mu.Lock()
	calls, total := len(sub.calls), 0
	for _, c := range sub.calls {
		total += len(c)
	}
	sub.mu.Unlock()
	if total != n || calls > 10 {
		t.Fatalf("%d groups in %d SUBSCRIBE calls, want %d groups in a few batches", total, calls, n)
	}

	for _, c := range conns {
		wg.Add(1)
		go func(c *Conn) { defer wg.Done(); h.leave(c) }(c)
	}
	wg.Wait()
	sub.mu.Lock()
	left, unsubCalls := len(sub.group), len(sub.unsubs)
	sub.mu.Unlock()
	if left != 0 || unsubCalls > 10 {
		t.Fatalf("%d groups still subscribed after every leave, %d UNSUBSCRIBE calls", left, unsubCalls)
	}
	for i, err := range sub.ctxErr {
		if err != nil {
			t.Fatalf("SUBSCRIBE call %d had an ended context: %v", i, err)
		}
	}

	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if h.life.Err() == nil {
		t.Fatal("the hub's context outlived Run")
	}
}
