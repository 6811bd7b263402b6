package httpapi_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/app"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// clockStart is the fixed instant the expiry tests' clocks start at.
var clockStart = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// fixedClock is a store (its own database) whose clock reads clockStart plus
// an offset the test moves, plus one microsecond per reading (rows made one
// after the other keep their order, as with a real clock): tests with their
// own clocks run in parallel.
func fixedClock(t *testing.T) (*store.Store, *atomic.Int64) {
	t.Helper()
	st := testutil.NewStore(t)
	var offset, ticks atomic.Int64
	st.Now = func() time.Time {
		return clockStart.Add(time.Duration(offset.Load()) + time.Duration(ticks.Add(1))*time.Microsecond)
	}
	return st, &offset
}

// Expiry with a controllable clock: expired quotes (with their offers) and
// expired offers go, unexpired ones stay, their events are published; the
// retention purge removes old webhook ids and published outbox rows. The
// clock starts at a fixed instant and moves by steps.
func TestExpire(t *testing.T) {
	t.Parallel()
	st, offset := fixedClock(t)
	w := testutil.NewWeb(t, testutil.WebOptions{Store: st})
	c := newActor(t, w, "user_exp_client")
	d1 := newActor(t, w, "user_exp_d1")
	d2 := newActor(t, w, "user_exp_d2")
	qA := createQuote(t, w, c, nil) // expires at +10 min
	qB := createQuote(t, w, c, nil)
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qB+"/extend-expiration/", c.Tok, map[string]any{"minutes": 30}), 200)
	oA1 := makeOffer(t, w, d1, qA, 9000, 201)["id"].(string) // expires at +4 min
	oB1 := makeOffer(t, w, d1, qB, 9000, 201)["id"].(string) // expires at +4 min
	offset.Store(int64(8 * time.Minute))
	oB2 := makeOffer(t, w, d2, qB, 9500, 201)["id"].(string) // expires at +12 min

	now := st.Now()
	if d := now.Sub(clockStart.Add(8 * time.Minute)); d <= 0 || d > time.Second {
		t.Fatalf("the store's clock reads %s", now)
	}
	old := now.Add(-8 * 24 * time.Hour)
	w.Store.DB.Create(&store.WebhookEvent{SvixID: "msg_old", EventType: "user.updated", ReceivedAt: old})
	w.Store.DB.Create(&store.WebhookEvent{SvixID: "msg_new", EventType: "user.updated", ReceivedAt: now.Add(-time.Hour)})
	stale := now.Add(-48 * time.Hour)
	w.Store.DB.Create(&store.OutboxEvent{GroupName: "x", EventType: "old", Payload: "{}", CreatedAt: stale, PublishedAt: &stale})
	w.Store.DB.Create(&store.OutboxEvent{GroupName: "x", EventType: "unpublished", Payload: "{}", CreatedAt: stale})

	// At +9 min only the two first offers are expired.
	offset.Store(int64(9 * time.Minute))
	w.Recorder.Take()
	quotes, offers, err := w.App.Market.Expire(context.Background())
	if err != nil || quotes != 0 || offers != 2 {
		t.Fatalf("expire at +9: %d quotes %d offers err %v", quotes, offers, err)
	}
	var wants []want
	for _, o := range []struct{ id, qid, driver string }{{oA1, qA, d1.ID}, {oB1, qB, d1.ID}} {
		for _, typ := range []string{"offer_expired", "offer_deleted"} {
			wants = append(wants, want{Type: typ, Group: "quote_" + o.qid, ID: o.id, CanAccept: bp(false)},
				want{Type: typ, Group: "user_quotes_" + c.ID, ID: o.id, CanAccept: bp(false)},
				want{Type: typ, Group: "driver_offers_" + o.driver, ID: o.id, CanAccept: bp(false)})
		}
	}
	expectFrames(t, decodeFrames(t, w.Recorder.Take()), wants)

	// At +11 min quote A is expired; B and its newer offer stay.
	offset.Store(int64(11 * time.Minute))
	makeOffer(t, w, d2, qA, 9100, 400) // an expired quote takes no offers
	w.Recorder.Take()
	quotes, offers, err = w.App.Market.Expire(context.Background())
	if err != nil || quotes != 1 || offers != 0 {
		t.Fatalf("expire at +11: %d quotes %d offers err %v", quotes, offers, err)
	}
	wants = nil
	for _, typ := range []string{"quote_expired", "quote_deleted"} {
		wants = append(wants, want{Type: typ, Group: "new_quotes", ID: qA}, want{Type: typ, Group: "quote_" + qA, ID: qA},
			want{Type: typ, Group: "user_quotes_" + c.ID, ID: qA})
	}
	expectFrames(t, decodeFrames(t, w.Recorder.Take()), wants)

	var n int64
	w.Store.DB.Model(&store.Quote{}).Where("id = ?", qA).Count(&n)
	if n != 0 {
		t.Fatal("expired quote kept")
	}
	var left []store.Offer
	w.Store.DB.Find(&left)
	if len(left) != 1 || left[0].ID.String() != oB2 {
		t.Fatalf("offers left %v, want only %s", left, oB2)
	}
	mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qB+"/", d1.Tok, nil), 200)

	// The retention purge (the runner's purge job) removes old webhook ids
	// and published outbox rows, not unpublished ones.
	if err := app.Purge(w.App.Account, w.App.Outbox, slog.Default())(context.Background()); err != nil {
		t.Fatal(err)
	}
	var hooks []store.WebhookEvent
	w.Store.DB.Find(&hooks)
	if len(hooks) != 1 || hooks[0].SvixID != "msg_new" {
		t.Fatalf("webhook ids after purge: %v", hooks)
	}
	w.Store.DB.Model(&store.OutboxEvent{}).Where("event_type = ?", "old").Count(&n)
	if n != 0 {
		t.Fatal("old published outbox row kept")
	}
	w.Store.DB.Model(&store.OutboxEvent{}).Where("event_type = ?", "unpublished").Count(&n)
	if n != 1 {
		t.Fatal("an unpublished outbox row was purged")
	}

	// Nothing more to do: nothing published.
	quotes, offers, err = w.App.Market.Expire(context.Background())
	if err != nil || quotes != 0 || offers != 0 || len(w.Recorder.Take()) != 0 {
		t.Fatalf("second sweep: %d %d %v", quotes, offers, err)
	}

	// The accept of an offer that expired but was not swept yet is refused.
	oB3 := makeOffer(t, w, d1, qB, 9900, 201)["id"].(string)
	offset.Store(int64(16 * time.Minute))
	m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oB3+"/accept/", c.Tok, nil), 400)
	if m["detail"] != "La oferta ha expirado" {
		t.Fatalf("accept of an expired offer: %v", m)
	}
	// Offering again renews it (it was not swept).
	if again := makeOffer(t, w, d1, qB, 9800, 200); again["id"] != oB3 {
		t.Fatalf("renewed offer %v", again)
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oB3+"/accept/", c.Tok, nil), 201)
}

type failingPublisher struct{ calls atomic.Int64 }

func (f *failingPublisher) Publish(context.Context, ...realtime.Message) error {
	f.calls.Add(1)
	return errors.New("broker down")
}

// A crash (or an outage) between commit and publish: the action still
// succeeds, the rows stay in the outbox, and the relay publishes each frame once.
func TestRelayAfterLostPublish(t *testing.T) {
	t.Parallel()
	down := &failingPublisher{}
	w := testutil.NewWeb(t, testutil.WebOptions{Broker: &app.Broker{Publisher: down}})
	c := newActor(t, w, "user_relay_client")
	d := newActor(t, w, "user_relay_driver")
	qid := createQuote(t, w, c, nil)
	oid := makeOffer(t, w, d, qid, 5000, 201)["id"].(string)
	// The first publish failed; the next one, within realtime.FlushBackoff,
	// was not even tried (left to the relay, so requests do not wait on a
	// broker that is down).
	if down.calls.Load() != 1 {
		t.Fatalf("%d publish attempts, want 1", down.calls.Load())
	}

	// And a change written and committed with the publish skipped entirely.
	err := w.Store.Transaction(context.Background(), func(tx *gorm.DB) error {
		msgs, err := w.App.Market.RemoveUserMarketplace(tx, d.ID)
		if err != nil {
			return err
		}
		_, err = realtime.Write(tx, msgs...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	rec := &testutil.Recorder{}
	relay := &realtime.Outbox{Store: w.Store, Publisher: rec}
	n, err := relay.Relay(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeFrames(t, rec.Take())
	if n != len(got) || n != 3+3+6 {
		t.Fatalf("relay published %d (recorded %d), want 12", n, len(got))
	}
	expectFrames(t, got, []want{
		{Type: "quote_created", Group: "new_quotes", ID: qid},
		{Type: "quote_created", Group: "quote_" + qid, ID: qid},
		{Type: "quote_created", Group: "user_quotes_" + c.ID, ID: qid},
		{Type: "offer_made", Group: "quote_" + qid, ID: oid, CanAccept: bp(true)},
		{Type: "offer_made", Group: "user_quotes_" + c.ID, ID: oid, CanAccept: bp(true)},
		{Type: "offer_made", Group: "driver_offers_" + d.ID, ID: oid, CanAccept: bp(false)},
		{Type: "offer_expired", Group: "quote_" + qid, ID: oid},
		{Type: "offer_expired", Group: "user_quotes_" + c.ID, ID: oid},
		{Type: "offer_expired", Group: "driver_offers_" + d.ID, ID: oid},
		{Type: "offer_deleted", Group: "quote_" + qid, ID: oid},
		{Type: "offer_deleted", Group: "user_quotes_" + c.ID, ID: oid},
		{Type: "offer_deleted", Group: "driver_offers_" + d.ID, ID: oid},
	})
	if n, err := relay.Relay(context.Background(), 0, 1000); err != nil || n != 0 || len(rec.Take()) != 0 {
		t.Fatalf("second relay published %d (err %v)", n, err)
	}
}

// A deleted profile's open quotes and pending offers are removed with their events.
func TestRemoveUserMarketplace(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	u := newActor(t, w, "user_rm_leaving")
	x := newActor(t, w, "user_rm_other_client")
	d := newActor(t, w, "user_rm_driver")
	qU := createQuote(t, w, u, nil)
	oD := makeOffer(t, w, d, qU, 5000, 201)["id"].(string)
	qX := createQuote(t, w, x, nil)
	oU := makeOffer(t, w, u, qX, 6000, 201)["id"].(string)
	w.Recorder.Take()

	var msgs []realtime.Message
	err := w.Store.Transaction(context.Background(), func(tx *gorm.DB) error {
		var err error
		msgs, err = w.App.Market.RemoveUserMarketplace(tx, u.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeFrames(t, msgs)
	wants := []want{}
	for _, typ := range []string{"quote_expired", "quote_deleted"} {
		wants = append(wants, want{Type: typ, Group: "new_quotes", ID: qU}, want{Type: typ, Group: "quote_" + qU, ID: qU},
			want{Type: typ, Group: "user_quotes_" + u.ID, ID: qU})
	}
	wants = append(wants, want{Type: "offer_expired", Group: "driver_offers_" + d.ID, ID: oD},
		want{Type: "offer_deleted", Group: "driver_offers_" + d.ID, ID: oD})
	for _, typ := range []string{"offer_expired", "offer_deleted"} {
		wants = append(wants, want{Type: typ, Group: "quote_" + qX, ID: oU, CanAccept: bp(false)},
			want{Type: typ, Group: "user_quotes_" + x.ID, ID: oU}, want{Type: typ, Group: "driver_offers_" + u.ID, ID: oU, CanAccept: bp(false)})
	}
	expectFrames(t, got, wants)
	if got[0].Data["status"] != "cancelled" {
		t.Fatalf("removed quote status %v", got[0].Data["status"])
	}
	var n int64
	w.Store.DB.Model(&store.Quote{}).Where("client_id = ?", u.ID).Count(&n)
	if n != 0 {
		t.Fatal("quote kept")
	}
	w.Store.DB.Model(&store.Offer{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d offers kept", n)
	}
	mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qX+"/", x.Tok, nil), 200)
}
