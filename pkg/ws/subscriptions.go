package ws

import (
	"context"
	"sync"
	"time"

	"hermez/pkg/metrics"
)

// subscriptionTimeout bounds one broker (un)subscription round.
const subscriptionTimeout = 5 * time.Second

// subscriptions batches the broker subscription changes of the hub: a join
// or leave marks its group and waits for a round that covers it; one caller
// at a time runs rounds, each sending every marked group that must be
// subscribed in one SUBSCRIBE and every one that must not in one UNSUBSCRIBE
// (the broker's variadic calls). Marks made during a round go in the next
// one, which the same caller runs before returning, so a burst of joins
// (sockets reconnecting after a restart) costs a few round trips instead of
// one per group. A join still returns only once its group's subscription was
// sent (join before snapshot, docs/realtime.md).
type subscriptions struct {
	mu         sync.Mutex
	subscribed map[string]bool     // requested from the broker (set when a round decides it)
	sent       map[string]bool     // the broker call covering it has returned
	marked     map[string]struct{} // waiting for the next round
	running    bool                // a caller is running rounds
	next       chan struct{}       // closed when the round covering marked ends
}

func newSubscriptions() subscriptions {
	return subscriptions{subscribed: map[string]bool{}, sent: map[string]bool{}, marked: map[string]struct{}{}}
}

// syncSubscription makes the broker subscription of group match whether it
// has local members, and returns once a round that read the membership after
// this call has been sent. Each round reads the current membership, so the
// last round after any sequence of joins and leaves wins.
func (h *Hub) syncSubscription(groups ...string) {
	if len(groups) == 0 {
		return
	}
	s := &h.subs
	s.mu.Lock()
	for _, g := range groups {
		s.marked[g] = struct{}{}
	}
	if s.running {
		if s.next == nil {
			s.next = make(chan struct{})
		}
		wait := s.next
		s.mu.Unlock()
		<-wait
		return
	}
	s.running = true
	for len(s.marked) > 0 {
		batch, done := s.marked, s.next
		s.marked, s.next = map[string]struct{}{}, nil
		s.mu.Unlock()
		h.subscriptionRound(batch)
		if done != nil {
			close(done)
		}
		s.mu.Lock()
	}
	s.running = false
	s.mu.Unlock()
}

// subscriptionRound sends one batch: one SUBSCRIBE for the groups that
// gained their first local member, one UNSUBSCRIBE for those that lost their
// last, within subscriptionTimeout and the hub's context.
func (h *Hub) subscriptionRound(batch map[string]struct{}) {
	closing := h.Closing()
	var subs, unsubs []string
	h.mu.RLock()
	h.subs.mu.Lock()
	for g := range batch {
		want := len(h.groups[g]) > 0 || h.wantsLocationGroup(g)
		switch {
		case want == h.subs.subscribed[g]:
		case want:
			subs = append(subs, g)
			h.subs.subscribed[g] = true // kept even on error: the broker retries it on reconnect
		case !closing: // shutting down: the subscriptions end with the process
			unsubs = append(unsubs, g)
			delete(h.subs.subscribed, g)
			delete(h.subs.sent, g)
		}
	}
	h.subs.mu.Unlock()
	h.mu.RUnlock()
	if len(subs) == 0 && len(unsubs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(h.life, subscriptionTimeout)
	defer cancel()
	if len(subs) > 0 {
		metrics.SocketGroups.Add(float64(len(subs)))
		if err := h.sub.Subscribe(ctx, subs...); err != nil {
			h.log.Warn("broker subscription failed", "groups", len(subs), "first", subs[0], "err", err)
		}
		h.subs.mu.Lock()
		for _, g := range subs {
			if h.subs.subscribed[g] {
				h.subs.sent[g] = true
			}
		}
		h.subs.mu.Unlock()
	}
	if len(unsubs) > 0 {
		metrics.SocketGroups.Sub(float64(len(unsubs)))
		if err := h.sub.Unsubscribe(ctx, unsubs...); err != nil {
			h.log.Warn("broker unsubscription failed", "groups", len(unsubs), "first", unsubs[0], "err", err)
		}
	}
}
