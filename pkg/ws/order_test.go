package ws_test

import (
	"context"
	"testing"
	"time"

	"hermez/pkg/app"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
	"hermez/pkg/ws"
)

// The order rule (docs/realtime.md): a frame older than what a socket's snapshot
// showed, or than a frame of the same resource already delivered, is dropped;
// same-version frames (one change) and other resources go through, in order.
func TestHubDropsFramesOlderThanDeliveredOrSnapshotted(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	if err := st.DB.Model(&store.Quote{}).Where("id = ?", f.Quote.ID).Update("version", 7).Error; err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, st, nil, app.WorkerOptions{})
	m := memoryOf(t, w.Broker)
	c := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", w.token(t, f.Client))
	if snap := read(t, c, wait); snap["type"] != "user_quotes.initial" {
		t.Fatalf("snapshot: %v", snap)
	}
	group := realtime.GroupUserQuotes(f.Client)
	joined(t, w, group, 1)
	quote, offer := realtime.ResourceQuote(f.Quote.ID.String()), realtime.ResourceOffer(f.Offer.ID.String())
	staleBefore := value(metrics.FramesStale)
	send := func(typ, res string, ver int64, mark int) {
		msg, err := realtime.NewMessage(group, typ, map[string]any{"mark": mark})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Publish(context.Background(), msg.About(res, ver, false)); err != nil {
			t.Fatal(err)
		}
	}
	send(realtime.QuoteUpdated, quote, 6, 1) // older than the snapshot: dropped
	send(realtime.QuoteUpdated, quote, 7, 2) // what the snapshot showed: delivered
	send(realtime.QuoteUpdated, quote, 9, 3)
	send(realtime.QuoteUpdated, quote, 8, 4) // older than delivered: dropped
	send(realtime.QuoteExpired, quote, 9, 5) // same change as 3: delivered
	send(realtime.OfferMade, offer, 1, 6)    // another resource
	send(realtime.OfferUpdated, offer, 1, 7) // its version was never bumped: same state, delivered
	for _, want := range []float64{2, 3, 5, 6, 7} {
		got := read(t, c, wait)
		data, _ := got["data"].(map[string]any)
		if data["mark"] != want {
			t.Fatalf("got frame %v, want mark %v", got, want)
		}
	}
	expectSilence(t, c, 50*time.Millisecond)
	if d := value(metrics.FramesStale) - staleBefore; d != 2 {
		t.Fatalf("stale frames counted: %v, want 2", d)
	}
	if n := w.W.Hub.OrderEntries(); n < 2 {
		t.Fatalf("hub remembers %d resources, want the quote and the offer", n)
	}
	c.Close()
	testutil.Eventually(t, wait, "socket gone", func() bool { return w.W.Hub.Members(group) == 0 })
	if n := w.W.Hub.OrderEntries(); n != 0 {
		t.Fatalf("a group without sockets keeps %d order entries", n)
	}
}

var _ = ws.Options{}
