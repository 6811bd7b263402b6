package market_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/market"
	"hermez/pkg/optional"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// autoFixture: a service on its own database on a stepped clock, with the
// delay of place.md §7 at 60 s, offers living 4 min and quotes 10 min.
type autoFixture struct {
	t       *testing.T
	st      *store.Store
	clock   *testutil.Clock
	cfg     market.Config
	svc     *market.Service
	client  *store.User
	drivers []*store.User
	cat     store.Category
	t0      time.Time
}

const autoDelay = 60 * time.Second

func newAutoFixture(t *testing.T, drivers int) *autoFixture {
	t.Helper()
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	st := testutil.NewStore(t)
	clock := testutil.NewClock(t0)
	st.Now = clock.Now
	f := &autoFixture{t: t, st: st, clock: clock, t0: t0,
		cfg:    market.Config{QuoteTTL: 10 * time.Minute, OfferTTL: 4 * time.Minute, QuoteMaxLifetime: time.Hour, AutoAcceptDelay: autoDelay},
		client: &store.User{UserID: "user_auto_client", CreatedAt: t0, UpdatedAt: t0}}
	users := []*store.User{f.client}
	for i := range drivers {
		d := &store.User{UserID: fmt.Sprintf("user_auto_driver%d", i), CreatedAt: t0, UpdatedAt: t0}
		f.drivers = append(f.drivers, d)
		users = append(users, d)
	}
	for _, u := range users {
		if err := st.DB.Create(u).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DB.Where("is_active").Order("name").Take(&f.cat).Error; err != nil {
		t.Fatal(err)
	}
	f.svc = market.New(st, nil, f.cfg, nil)
	return f
}

func (f *autoFixture) quote(auto bool) *store.Quote {
	f.t.Helper()
	in := validQuote(f.cat.ID)
	in.AutoAcceptLowest = optional.Value(auto)
	q, err := f.svc.CreateQuote(context.Background(), f.client, in)
	if err != nil {
		f.t.Fatal(err)
	}
	if q.AutoAcceptLowest != auto || q.AutoAcceptAt != nil {
		f.t.Fatalf("new quote: auto %v at %v", q.AutoAcceptLowest, q.AutoAcceptAt)
	}
	return q
}

func (f *autoFixture) offer(q *store.Quote, driver int, price int64) *store.Offer {
	f.t.Helper()
	id := q.ID
	o, _, err := f.svc.MakeOffer(context.Background(), f.drivers[driver], q.ID, market.OfferInput{
		DriverID: f.drivers[driver].UserID, QuoteID: &id, ProposedPrice: optional.Value(decimal.NewFromInt(price)), Invalid: apperr.Fields{}})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

// stored is the quote's row (nil once it is gone).
func (f *autoFixture) stored(id uuid.UUID) *store.Quote {
	f.t.Helper()
	var qs []store.Quote
	if err := f.st.DB.Where("id = ?", id).Find(&qs).Error; err != nil {
		f.t.Fatal(err)
	}
	if len(qs) == 0 {
		return nil
	}
	return &qs[0]
}

// deliveries are the deliveries born of the quote's lifecycle.
func (f *autoFixture) deliveries(q *store.Quote) []store.Delivery {
	f.t.Helper()
	var ds []store.Delivery
	if err := f.st.DB.Where("history_id = ?", q.HistoryID).Find(&ds).Error; err != nil {
		f.t.Fatal(err)
	}
	return ds
}

func (f *autoFixture) accepted(q *store.Quote) []store.HistoryEvent {
	f.t.Helper()
	var hs []store.HistoryEvent
	if err := f.st.DB.Where("history_id = ? AND event_type = ?", q.HistoryID, store.HistoryOfferAccepted).Find(&hs).Error; err != nil {
		f.t.Fatal(err)
	}
	return hs
}

func (f *autoFixture) due() int {
	f.t.Helper()
	n, err := f.svc.AutoAcceptDue(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// The lowest pending offer (ties: the earliest) is accepted at
// auto_accept_at, not a microsecond before, as the client's accept would.
func TestAutoAcceptLowestAtItsInstant(t *testing.T) {
	t.Parallel()
	f := newAutoFixture(t, 3)
	q := f.quote(true)
	f.offer(q, 0, 9000)
	if at := f.stored(q.ID).AutoAcceptAt; at == nil || !at.Equal(f.t0.Add(autoDelay)) {
		t.Fatalf("auto_accept_at after the first offer: %v, want %v", at, f.t0.Add(autoDelay))
	}
	f.clock.Advance(10 * time.Second)
	tie := f.offer(q, 1, 7000)
	f.clock.Advance(time.Second)
	f.offer(q, 2, 7000)
	if at := f.stored(q.ID).AutoAcceptAt; !at.Equal(f.t0.Add(autoDelay)) {
		t.Fatalf("later offers moved auto_accept_at to %v", at)
	}
	f.clock.Set(f.t0.Add(autoDelay - time.Microsecond))
	if n := f.due(); n != 0 || f.stored(q.ID) == nil {
		t.Fatalf("fired before its instant: %d", n)
	}
	f.clock.Set(f.t0.Add(autoDelay))
	if n := f.due(); n != 1 {
		t.Fatalf("at its instant: %d accepts", n)
	}
	ds := f.deliveries(q)
	if len(ds) != 1 || *ds[0].DeliveryPersonID != tie.DeliveryPersonID || !ds[0].FinalPrice.Equal(decimal.NewFromInt(7000)) ||
		ds[0].ClientID != f.client.UserID || ds[0].Status != store.DeliveryAssigned {
		t.Fatalf("deliveries %+v, want one to %s at 7000", ds, tie.DeliveryPersonID)
	}
	hs := f.accepted(q)
	if len(hs) != 1 || hs[0].Description != market.MsgAutoAccepted || hs[0].ChangedByID == nil || *hs[0].ChangedByID != f.client.UserID {
		t.Fatalf("history %+v", hs)
	}
	if f.stored(q.ID) != nil {
		t.Fatal("the quote outlived its accept")
	}
	if n := f.due(); n != 0 {
		t.Fatalf("fired again: %d", n)
	}
}

// Exactly once with many runners at once (web and worker instances share
// one database: several services, each its own goroutines) and the client
// accepting one of the quotes at the same moment.
func TestAutoAcceptExactlyOnceAcrossRunners(t *testing.T) {
	t.Parallel()
	f := newAutoFixture(t, 3)
	const quotes = 6
	var qs []*store.Quote
	var clientPick *store.Offer
	for i := range quotes {
		q := f.quote(true)
		f.offer(q, 0, 9000)
		o := f.offer(q, 1, 8000)
		f.offer(q, 2, 8500)
		if i == 0 {
			clientPick = o
		}
		qs = append(qs, q)
	}
	f.clock.Advance(autoDelay)
	runners := make([]*market.Service, 4) // "two webs and two workers"
	for i := range runners {
		runners[i] = market.New(f.st, nil, f.cfg, nil)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	start := make(chan struct{})
	for _, r := range runners {
		for range 2 {
			wg.Go(func() {
				<-start
				for range 3 {
					n, err := r.AutoAcceptDue(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}
			})
		}
	}
	var clientErr error
	clientWon := false
	wg.Go(func() {
		<-start
		_, clientErr = f.svc.AcceptOffer(context.Background(), f.client, clientPick.ID)
		clientWon = clientErr == nil
	})
	close(start)
	wg.Wait()
	want := quotes
	if clientWon {
		want--
	} else if kindOf(clientErr) == "" {
		t.Fatalf("client's accept: %v", clientErr)
	}
	if total != want {
		t.Fatalf("runners made %d accepts, want %d (client won: %v)", total, want, clientWon)
	}
	for i, q := range qs {
		if ds, hs := f.deliveries(q), f.accepted(q); len(ds) != 1 || len(hs) != 1 {
			t.Fatalf("quote %d: %d deliveries, %d offer_accepted rows", i, len(ds), len(hs))
		}
	}
	t.Logf("%s: %d runners, client won: %v", testutil.Dialect(), len(runners)*2, clientWon)
}

// Never after the client accepted, cancelled, switched it off, or the quote expired.
func TestAutoAcceptMustNotFire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAutoFixture(t, 2)
	accepted, cancelled, off, expiring := f.quote(true), f.quote(true), f.quote(true), f.quote(true)
	var pick *store.Offer
	for _, q := range []*store.Quote{accepted, cancelled, off, expiring} {
		o := f.offer(q, 0, 9000)
		f.offer(q, 1, 5000)
		if q == accepted {
			pick = o
		}
	}
	if _, err := f.svc.AcceptOffer(ctx, f.client, pick.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CancelQuote(ctx, f.client, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.UpdateQuote(ctx, f.client, off.ID, market.QuoteInput{AutoAcceptLowest: optional.Value(false), Invalid: apperr.Fields{}})
	if err != nil || got.AutoAcceptLowest || got.AutoAcceptAt != nil {
		t.Fatalf("switch off: %v %+v", err, got)
	}
	// The last one expires before its instant: its TTL is shortened in place.
	if err := f.st.DB.Model(&store.Quote{}).Where("id = ?", expiring.ID).Update("expires_at", f.t0.Add(autoDelay-time.Second)).Error; err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(autoDelay + time.Second)
	if n := f.due(); n != 0 {
		t.Fatalf("%d automatic accepts", n)
	}
	if ds := f.deliveries(accepted); len(ds) != 1 || !ds[0].FinalPrice.Equal(decimal.NewFromInt(9000)) {
		t.Fatalf("client's accept replaced: %+v", ds)
	}
	for _, q := range []*store.Quote{cancelled, off, expiring} {
		if ds := f.deliveries(q); len(ds) != 0 {
			t.Fatalf("quote %s: %d deliveries", q.ID, len(ds))
		}
	}
	// Switched on again: the instant is recomputed from the oldest pending
	// offer, which is past, so it fires at once with the lowest.
	f.clock.Advance(time.Second)
	if err := f.st.DB.Model(&store.Offer{}).Where("quote_id = ?", off.ID).Update("expires_at", f.clock.Now().Add(time.Minute)).Error; err != nil {
		t.Fatal(err)
	}
	got, err = f.svc.UpdateQuote(ctx, f.client, off.ID, market.QuoteInput{AutoAcceptLowest: optional.Value(true), Invalid: apperr.Fields{}})
	if err != nil || got.AutoAcceptAt == nil || !got.AutoAcceptAt.Equal(f.t0.Add(autoDelay)) {
		t.Fatalf("switch on: %v %+v", err, got)
	}
	if n := f.due(); n != 1 {
		t.Fatalf("switched on again: %d", n)
	}
}

// Offers expiring meanwhile are skipped; with none left it waits for the
// next offer (auto_accept_at null, then that offer's instant + the delay).
func TestAutoAcceptSkipsExpiredAndWaits(t *testing.T) {
	t.Parallel()
	delay := 5 * time.Minute
	f := newAutoFixture(t, 3)
	f.cfg.AutoAcceptDelay = delay
	f.cfg.QuoteTTL = 30 * time.Minute // the second quote outlives two delays
	f.svc = market.New(f.st, nil, f.cfg, nil)

	// Skipped: the lowest expires (t0+4m) before the instant (t0+5m).
	q := f.quote(true)
	f.offer(q, 0, 5000)
	f.clock.Advance(2 * time.Minute)
	higher := f.offer(q, 1, 9000)
	f.clock.Set(f.t0.Add(delay))
	if n := f.due(); n != 1 {
		t.Fatalf("skip expired: %d", n)
	}
	if ds := f.deliveries(q); len(ds) != 1 || *ds[0].DeliveryPersonID != higher.DeliveryPersonID {
		t.Fatalf("skip expired: %+v", ds)
	}

	// Waits: the only offer expired; nothing accepted, auto_accept_at null.
	t1 := f.clock.Now()
	w := f.quote(true)
	f.offer(w, 0, 5000)
	f.clock.Set(t1.Add(delay))
	if n := f.due(); n != 0 {
		t.Fatalf("accepted an expired offer: %d", n)
	}
	if s := f.stored(w.ID); s == nil || s.AutoAcceptAt != nil || !s.AutoAcceptLowest {
		t.Fatalf("after nothing to accept: %+v", s)
	}
	// The next offer sets the instant again: its arrival + the delay (this
	// offer lives past it).
	f.clock.Advance(30 * time.Second)
	f.cfg.OfferTTL = 2 * delay
	f.svc = market.New(f.st, nil, f.cfg, nil)
	next := f.offer(w, 2, 7000)
	want := f.clock.Now().Add(delay)
	if s := f.stored(w.ID); s.AutoAcceptAt == nil || !s.AutoAcceptAt.Equal(want) {
		t.Fatalf("next offer: auto_accept_at %v, want %v", s.AutoAcceptAt, want)
	}
	f.clock.Set(want.Add(-time.Second))
	if n := f.due(); n != 0 {
		t.Fatalf("early: %d", n)
	}
	f.clock.Set(want)
	if n := f.due(); n != 1 {
		t.Fatalf("at the new instant: %d", n)
	}
	if ds := f.deliveries(w); len(ds) != 1 || *ds[0].DeliveryPersonID != next.DeliveryPersonID {
		t.Fatalf("waited: %+v", ds)
	}
}
