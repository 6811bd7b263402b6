package market_test

// The marketplace service called in process, without HTTP: who may do what
// (owner, party, staff), the state each change leaves in the store, and the
// apperr each refusal answers. A refused change writes nothing: no row, no
// history entry, no outbox frame.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/market"
	"hermez/pkg/optional"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// svcWorld is the service on its own store on a stepped clock: a client, two
// drivers, a stranger, an API staff user (users.is_staff), a console staff
// member (a staff_accounts row) and an active category. Quotes live 10 min,
// offers 4 min.
type svcWorld struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	clock *testutil.Clock
	svc   *market.Service

	client, driver, rival, stranger, apiStaff *store.User
	console                                   *audit.Staff
	cat                                       store.Category
}

func newSvcWorld(t *testing.T, cfg market.Config) *svcWorld {
	t.Helper()
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	st := testutil.NewStore(t)
	clock := testutil.NewClock(t0)
	st.Now = clock.Now
	if cfg.QuoteTTL == 0 {
		cfg.QuoteTTL, cfg.OfferTTL, cfg.QuoteMaxLifetime = 10*time.Minute, 4*time.Minute, time.Hour
	}
	w := &svcWorld{t: t, ctx: testutil.Context(t), st: st, clock: clock, svc: market.New(st, nil, cfg, nil)}
	user := func(id string, staff bool) *store.User {
		u := &store.User{UserID: id, IsStaff: staff, CreatedAt: t0, UpdatedAt: t0}
		if err := st.DB.Create(u).Error; err != nil {
			t.Fatal(err)
		}
		return u
	}
	w.client, w.driver, w.rival = user("user_sv_client", false), user("user_sv_driver", false), user("user_sv_rival", false)
	w.stranger, w.apiStaff = user("user_sv_stranger", false), user("user_sv_staff", true)
	acc := store.StaffAccount{ID: uuid.New(), Username: "sv_staff", PasswordHash: "x", IsActive: true, CreatedAt: t0}
	if err := st.DB.Create(&acc).Error; err != nil {
		t.Fatal(err)
	}
	w.console = &audit.Staff{ID: acc.ID, Username: acc.Username}
	if err := st.DB.Where("is_active").Order("name").Take(&w.cat).Error; err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *svcWorld) quote() *store.Quote {
	w.t.Helper()
	q, err := w.svc.CreateQuote(w.ctx, w.client, validQuote(w.cat.ID))
	if err != nil {
		w.t.Fatal(err)
	}
	return q
}

func price(n int64) market.OfferInput {
	return market.OfferInput{ProposedPrice: optional.Value(decimal.NewFromInt(n)), Invalid: apperr.Fields{}}
}

func (w *svcWorld) offer(by *store.User, q *store.Quote, n int64) *store.Offer {
	w.t.Helper()
	o, _, err := w.svc.MakeOffer(w.ctx, by, q.ID, price(n))
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

// delivery is a new delivery: a quote of the client, the driver's offer of
// 8000, accepted.
func (w *svcWorld) delivery() *store.Delivery {
	w.t.Helper()
	d, err := w.svc.AcceptOffer(w.ctx, w.client, w.offer(w.driver, w.quote(), 8000).ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// writes counts the rows a change writes: quotes, offers, deliveries,
// history entries, outbox rows (one per change), categories, audit entries.
func (w *svcWorld) writes() [7]int64 {
	w.t.Helper()
	var n [7]int64
	for i, m := range []any{&store.Quote{}, &store.Offer{}, &store.Delivery{}, &store.HistoryEvent{}, &store.OutboxEvent{},
		&store.Category{}, &store.StaffAudit{}} {
		if err := w.st.DB.Model(m).Count(&n[i]).Error; err != nil {
			w.t.Fatal(err)
		}
	}
	return n
}

// refused runs a change that must be refused with kind (and msg, when not
// empty) and write nothing.
func (w *svcWorld) refused(name string, kind apperr.Kind, msg string, change func() error) {
	w.t.Helper()
	before := w.writes()
	err := change()
	e, ok := apperr.As(err)
	if !ok || e.Kind != kind || (msg != "" && e.Message != msg) {
		w.t.Errorf("%s: got %v, want %s %q", name, err, kind, msg)
	}
	if after := w.writes(); after != before {
		w.t.Errorf("%s: refused, yet wrote rows: %v → %v", name, before, after)
	}
}

// history is the entries of a history as "event_type:changed_by", sorted
// (entries of one instant have no order of their own).
func (w *svcWorld) history(id uuid.UUID) []string {
	w.t.Helper()
	var hs []store.HistoryEvent
	if err := w.st.DB.Where("history_id = ?", id).Order("created_at").Order("id").Find(&hs).Error; err != nil {
		w.t.Fatal(err)
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.EventType + ":"
		if h.ChangedByID != nil {
			out[i] += *h.ChangedByID
		}
	}
	slices.Sort(out)
	return out
}

// entries is want sorted, as history returns them.
func entries(want ...string) []string {
	slices.Sort(want)
	return want
}

func fn[T any](f func() (T, error)) func() error {
	return func() error { _, err := f(); return err }
}

// A quote: its client alone changes it; anyone sees it while pending; once
// cancelled it is gone for everyone.
func TestServiceQuoteOwner(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	before := w.writes()
	q := w.quote()
	if q.ClientID != w.client.UserID || q.Status != store.QuotePending || !q.ExpiresAt.Equal(w.clock.Now().Add(10*time.Minute)) || q.Version != 1 {
		t.Fatalf("created %+v", q)
	}
	if got := w.history(q.HistoryID); !slices.Equal(got, entries("quote_created:user_sv_client")) {
		t.Errorf("history %v", got)
	}
	if after := w.writes(); after[0]-before[0] != 1 || after[3]-before[3] != 1 || after[4]-before[4] != 1 {
		t.Errorf("creation wrote %v → %v, want one quote, one history entry, one outbox row", before, after)
	}
	if got, err := w.svc.GetQuote(w.ctx, w.stranger, q.ID); err != nil || got.ID != q.ID {
		t.Errorf("a pending quote for anyone: %v %v", got, err)
	}
	if qs, err := w.svc.ListQuotes(w.ctx, w.stranger, "", market.Page{}); err != nil || len(qs) != 1 || qs[0].ID != q.ID {
		t.Errorf("stranger's list: %v %v", qs, err)
	}
	patch := market.QuoteInput{ClientPrice: optional.Value(decimal.NewFromInt(1)), Invalid: apperr.Fields{}}
	for _, u := range []*store.User{w.driver, w.stranger, w.apiStaff} {
		w.refused("update by "+u.UserID, apperr.Forbidden, "", fn(func() (*store.Quote, error) { return w.svc.UpdateQuote(w.ctx, u, q.ID, patch) }))
		w.refused("cancel by "+u.UserID, apperr.Forbidden, "", fn(func() (*store.Quote, error) { return w.svc.CancelQuote(w.ctx, u, q.ID) }))
		w.refused("extend by "+u.UserID, apperr.Forbidden, "", fn(func() (*store.Quote, error) { return w.svc.ExtendQuote(w.ctx, u, q.ID, 5) }))
	}
	w.refused("update of an unknown quote", apperr.NotFound, "", fn(func() (*store.Quote, error) { return w.svc.UpdateQuote(w.ctx, w.client, uuid.New(), patch) }))

	// Expired: still the client's to cancel or extend, no longer to update.
	w.clock.Advance(10 * time.Minute)
	w.refused("update of an expired quote", apperr.Invalid, market.MsgQuoteExpired,
		fn(func() (*store.Quote, error) { return w.svc.UpdateQuote(w.ctx, w.client, q.ID, patch) }))
	if got, err := w.svc.ExtendQuote(w.ctx, w.client, q.ID, 5); err != nil || !got.ExpiresAt.Equal(q.ExpiresAt.Add(5*time.Minute)) {
		t.Errorf("extend an expired quote: %v %v", got, err)
	}
	got, err := w.svc.CancelQuote(w.ctx, w.client, q.ID)
	if err != nil || got.Status != store.QuoteCancelled {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	var n int64
	w.st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Count(&n)
	if n != 0 {
		t.Errorf("a cancelled quote stays in the table")
	}
	if got := w.history(q.HistoryID); !slices.Equal(got, entries("quote_created:user_sv_client", "cancelled:user_sv_client")) {
		t.Errorf("history %v", got)
	}
	for _, u := range []*store.User{w.client, w.stranger} {
		w.refused("get after cancel by "+u.UserID, apperr.NotFound, "", fn(func() (*store.Quote, error) { return w.svc.GetQuote(w.ctx, u, q.ID) }))
	}
	w.refused("cancel twice", apperr.NotFound, "", fn(func() (*store.Quote, error) { return w.svc.CancelQuote(w.ctx, w.client, q.ID) }))
}

// An offer: a driver's on someone else's pending, unexpired quote; one per
// driver and quote, updated in place, never again once rejected.
func TestServiceOfferRules(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	q := w.quote()
	w.refused("on one's own quote", apperr.Invalid, market.MsgOwnQuote, func() error {
		_, _, err := w.svc.MakeOffer(w.ctx, w.client, q.ID, price(8000))
		return err
	})
	w.refused("on an unknown quote", apperr.NotFound, "", func() error {
		_, _, err := w.svc.MakeOffer(w.ctx, w.driver, uuid.New(), price(8000))
		return err
	})
	o, created, err := w.svc.MakeOffer(w.ctx, w.driver, q.ID, price(8000))
	if err != nil || !created || o.Status != store.OfferPending || o.DeliveryPersonID != w.driver.UserID ||
		!o.ExpiresAt.Equal(w.clock.Now().Add(4*time.Minute)) {
		t.Fatalf("made %+v %v %v", o, created, err)
	}
	w.clock.Advance(time.Minute)
	again, created, err := w.svc.MakeOffer(w.ctx, w.driver, q.ID, price(7500))
	if err != nil || created || again.ID != o.ID || !again.ProposedPrice.Equal(decimal.NewFromInt(7500)) ||
		!again.ExpiresAt.Equal(w.clock.Now().Add(4*time.Minute)) || again.Version != 2 {
		t.Fatalf("second offer of the same driver: %+v %v %v, want the first updated, its expiry renewed", again, created, err)
	}

	// Who sees it: its driver and the quote's client.
	for _, u := range []*store.User{w.driver, w.client} {
		if got, err := w.svc.GetOffer(w.ctx, u, o.ID); err != nil || got.ID != o.ID {
			t.Errorf("offer for %s: %v %v", u.UserID, got, err)
		}
	}
	w.refused("offer for a stranger", apperr.NotFound, "", fn(func() (*store.Offer, error) { return w.svc.GetOffer(w.ctx, w.stranger, o.ID) }))
	r := w.offer(w.rival, q, 9000)
	if os, err := w.svc.ListQuoteOffers(w.ctx, w.client, q.ID, ""); err != nil || len(os) != 2 {
		t.Errorf("the client lists %d offers (%v), want 2", len(os), err)
	}
	if os, err := w.svc.ListQuoteOffers(w.ctx, w.rival, q.ID, ""); err != nil || len(os) != 1 || os[0].ID != r.ID {
		t.Errorf("a driver lists %v (%v), want only their own", os, err)
	}

	// Rejected: only by the client, only while pending, and final for that driver.
	w.refused("reject by the offer's driver", apperr.Forbidden, "", fn(func() (*store.Offer, error) { return w.svc.RejectOffer(w.ctx, w.rival, r.ID) }))
	w.refused("reject by another driver", apperr.NotFound, "", fn(func() (*store.Offer, error) { return w.svc.RejectOffer(w.ctx, w.driver, r.ID) }))
	if got, err := w.svc.RejectOffer(w.ctx, w.client, r.ID); err != nil || got.Status != store.OfferRejected {
		t.Fatalf("reject: %+v %v", got, err)
	}
	w.refused("reject twice", apperr.Invalid, market.MsgRejectNotPending, fn(func() (*store.Offer, error) { return w.svc.RejectOffer(w.ctx, w.client, r.ID) }))
	w.refused("offer again after a rejection", apperr.Invalid, market.MsgOfferRejectedOnce, func() error {
		_, _, err := w.svc.MakeOffer(w.ctx, w.rival, q.ID, price(8500))
		return err
	})
	if got := w.history(q.HistoryID); !slices.Equal(got, entries("quote_created:user_sv_client", "offer_made:user_sv_driver",
		"offer_made:user_sv_driver", "offer_made:user_sv_rival", "offer_rejected:user_sv_client")) {
		t.Errorf("history %v", got)
	}

	// An expired quote takes no offer.
	w.clock.Advance(9 * time.Minute)
	w.refused("on an expired quote", apperr.Invalid, market.MsgQuoteExpired, func() error {
		_, _, err := w.svc.MakeOffer(w.ctx, w.stranger, q.ID, price(8000))
		return err
	})
}

// With REQUIRE_VERIFIED_VEHICLE an offer names (or defaults to) a verified
// vehicle of the driver's.
func TestServiceOfferNeedsVerifiedVehicle(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{QuoteTTL: 10 * time.Minute, OfferTTL: 4 * time.Minute, QuoteMaxLifetime: time.Hour, RequireVerifiedVehicle: true})
	var moto store.VehicleType
	if err := w.st.DB.Where("name = ?", "Moto").Take(&moto).Error; err != nil {
		t.Fatal(err)
	}
	vehicle := func(owner *store.User, plate string, verified bool) *store.Vehicle {
		v := &store.Vehicle{VehicleID: uuid.New(), UserID: owner.UserID, TypeID: moto.ID, Brand: "Yamaha", Model: "NMAX", Year: 2022,
			LicensePlate: plate, VIN: "vin" + plate, DriverLicenseStatus: "pending", RegistrationCardStatus: "pending",
			InsurancePolicyStatus: "pending", CriminalRecordStatus: "pending", IsVerified: verified, CreatedAt: w.clock.Now(), UpdatedAt: w.clock.Now()}
		if err := w.st.DB.Create(v).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}
	q := w.quote()
	offer := func(vid *uuid.UUID) func() error {
		return func() error {
			in := price(8000)
			in.VehicleID = vid
			_, _, err := w.svc.MakeOffer(w.ctx, w.driver, q.ID, in)
			return err
		}
	}
	pending, verified, others := vehicle(w.driver, "AAA111", false), vehicle(w.driver, "BBB222", true), vehicle(w.rival, "CCC333", true)
	for _, c := range []struct {
		name string
		vid  *uuid.UUID
		msg  string
	}{
		{"no vehicle", nil, market.MsgVehicleRequired},
		{"an unverified vehicle", &pending.VehicleID, market.MsgVehicleNotVerified},
		{"another driver's vehicle", &others.VehicleID, market.MsgVehicleNotYours},
	} {
		before := w.writes()
		if got := testutil.FieldsOf(t, offer(c.vid)()); !slices.Equal(got["vehicle_id"], []string{c.msg}) || len(got) != 1 {
			t.Errorf("%s: %v, want vehicle_id %q", c.name, got, c.msg)
		}
		if after := w.writes(); after != before {
			t.Errorf("%s: refused, yet wrote rows", c.name)
		}
	}
	if err := offer(&verified.VehicleID)(); err != nil {
		t.Fatalf("a verified vehicle: %v", err)
	}
	// The driver's current vehicle is the default.
	w.st.DB.Model(&store.User{}).Where("userid = ?", w.rival.UserID).Update("current_vehicle_id", others.VehicleID)
	w.rival.CurrentVehicleID = &others.VehicleID
	if o := w.offer(w.rival, q, 9000); o.VehicleID == nil || *o.VehicleID != others.VehicleID {
		t.Errorf("offer without a vehicle_id: vehicle %v, want the current one %s", o.VehicleID, others.VehicleID)
	}
}

// Accept: only the quote's client, only a pending, unexpired offer on a
// pending, unexpired quote; the delivery takes the offer's price and driver,
// and the quote with its offers is gone.
func TestServiceAcceptEligibility(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	q := w.quote()
	o, r := w.offer(w.driver, q, 8000), w.offer(w.rival, q, 7000)
	accept := func(u *store.User, id uuid.UUID) func() error {
		return fn(func() (*store.Delivery, error) { return w.svc.AcceptOffer(w.ctx, u, id) })
	}
	w.refused("accept by the offer's driver", apperr.Forbidden, "", accept(w.driver, o.ID))
	w.refused("accept by another driver of the quote", apperr.NotFound, "", accept(w.rival, o.ID))
	w.refused("accept by a stranger", apperr.NotFound, "", accept(w.stranger, o.ID))
	w.refused("accept by an API staff user", apperr.NotFound, "", accept(w.apiStaff, o.ID))
	w.refused("accept an unknown offer", apperr.NotFound, "", accept(w.client, uuid.New()))
	if _, err := w.svc.RejectOffer(w.ctx, w.client, r.ID); err != nil {
		t.Fatal(err)
	}
	w.refused("accept a rejected offer", apperr.Invalid, market.MsgOfferNotPending, accept(w.client, r.ID))
	w.clock.Advance(4 * time.Minute)
	w.refused("accept an expired offer", apperr.Invalid, market.MsgOfferExpired, accept(w.client, o.ID))
	w.clock.Advance(3 * time.Minute)
	o = w.offer(w.driver, q, 8200) // renewed until +11 min; the quote ends at +10
	w.clock.Advance(3 * time.Minute)
	w.refused("accept on an expired quote", apperr.Invalid, market.MsgQuoteExpired, accept(w.client, o.ID))

	q2 := w.quote()
	o2, other := w.offer(w.driver, q2, 8000), w.offer(w.rival, q2, 9100)
	before := w.writes()
	d, err := w.svc.AcceptOffer(w.ctx, w.client, o2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.DeliveryAssigned || d.ClientID != w.client.UserID || d.DeliveryPersonID == nil || *d.DeliveryPersonID != w.driver.UserID ||
		!d.FinalPrice.Equal(decimal.NewFromInt(8000)) || d.HistoryID != q2.HistoryID || d.Version != 1 {
		t.Errorf("delivery %+v", d)
	}
	after := w.writes()
	if after[0] != before[0]-1 || after[1] != before[1]-2 || after[2] != before[2]+1 || after[4] != before[4]+1 {
		t.Errorf("accept wrote %v → %v, want the quote and both its offers gone, one delivery, one outbox row", before, after)
	}
	if got := w.history(q2.HistoryID); !slices.Equal(got, entries("quote_created:user_sv_client", "offer_made:user_sv_driver",
		"offer_made:user_sv_rival", "offer_accepted:user_sv_client")) {
		t.Errorf("history %v", got)
	}
	w.refused("accept the other offer afterwards", apperr.NotFound, "", accept(w.client, other.ID))
	w.refused("accept twice", apperr.NotFound, "", accept(w.client, o2.ID))
}

// Status: only the delivery's driver moves it, one step at a time, until
// paid; delivered stamps completed_at.
func TestServiceStatusChanges(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	d := w.delivery()
	change := func(u *store.User) func() error {
		return fn(func() (*market.StatusChange, error) { return w.svc.ChangeStatus(w.ctx, u, d.ID) })
	}
	w.refused("by the client", apperr.Forbidden, "", change(w.client))
	w.refused("by an API staff user", apperr.Forbidden, "", change(w.apiStaff))
	w.refused("by a stranger", apperr.NotFound, "", change(w.stranger))
	w.refused("by another driver", apperr.NotFound, "", change(w.rival))
	w.refused("an unknown delivery", apperr.NotFound, "", fn(func() (*market.StatusChange, error) { return w.svc.ChangeStatus(w.ctx, w.driver, uuid.New()) }))
	steps := []string{store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit, store.DeliveryDelivered, store.DeliveryPaid}
	for i := 1; i < len(steps); i++ {
		w.clock.Advance(time.Minute)
		sc, err := w.svc.ChangeStatus(w.ctx, w.driver, d.ID)
		if err != nil {
			t.Fatalf("to %s: %v", steps[i], err)
		}
		if sc.Old != steps[i-1] || sc.Delivery.Status != steps[i] || sc.Delivery.Version != int64(i+1) {
			t.Errorf("step %d: %s → %s version %d", i, sc.Old, sc.Delivery.Status, sc.Delivery.Version)
		}
		var row store.Delivery
		if err := w.st.DB.Take(&row, "id = ?", d.ID).Error; err != nil {
			t.Fatal(err)
		}
		if row.Status != steps[i] {
			t.Errorf("stored after step %d: %s", i, row.Status)
		}
		switch steps[i] {
		case store.DeliveryPickedUp, store.DeliveryInTransit:
			if row.CompletedAt != nil {
				t.Errorf("%s: completed at %v", steps[i], row.CompletedAt)
			}
		case store.DeliveryDelivered:
			if row.CompletedAt == nil || !row.CompletedAt.Equal(w.clock.Now()) {
				t.Errorf("delivered: completed at %v, want %v", row.CompletedAt, w.clock.Now())
			}
		case store.DeliveryPaid:
			if row.CompletedAt == nil || !row.CompletedAt.Equal(w.clock.Now().Add(-time.Minute)) {
				t.Errorf("paid: completed at %v, want the delivery's instant", row.CompletedAt)
			}
		}
	}
	w.refused("after paid", apperr.Invalid, market.MsgStatusFinal, change(w.driver))
	want := entries("quote_created:user_sv_client", "offer_made:user_sv_driver", "offer_accepted:user_sv_client",
		"status_changed:user_sv_driver", "status_changed:user_sv_driver", "status_changed:user_sv_driver", "completed:user_sv_driver",
		"status_changed:user_sv_driver")
	if got := w.history(d.HistoryID); !slices.Equal(got, want) {
		t.Errorf("history %v\nwant %v", got, want)
	}
	if h, err := w.svc.DeliveryHistory(w.ctx, w.client, d.ID); err != nil || len(h.Events) != len(want) {
		t.Errorf("the client's history: %v", err)
	}
	w.refused("history for a stranger", apperr.NotFound, "", fn(func() (*market.History, error) { return w.svc.DeliveryHistory(w.ctx, w.stranger, d.ID) }))
}

// Cancel: the delivery's client or driver, before it is delivered.
func TestServiceCancelDelivery(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	cancel := func(u *store.User, id uuid.UUID) func() error {
		return fn(func() (*store.Delivery, error) { return w.svc.CancelDelivery(w.ctx, u, id) })
	}
	d := w.delivery()
	w.refused("by a stranger", apperr.NotFound, "", cancel(w.stranger, d.ID))
	w.refused("by an API staff user, not a party", apperr.Forbidden, "", cancel(w.apiStaff, d.ID))
	w.clock.Advance(time.Minute)
	got, err := w.svc.CancelDelivery(w.ctx, w.client, d.ID)
	if err != nil || got.Status != store.DeliveryCancelled || got.CancelledAt == nil || !got.CancelledAt.Equal(w.clock.Now()) {
		t.Fatalf("the client's cancel: %+v %v", got, err)
	}
	if h := w.history(d.HistoryID); !slices.Contains(h, "cancelled:user_sv_client") {
		t.Errorf("history %v", h)
	}
	w.refused("cancel twice", apperr.Invalid, market.MsgCancelFinal, cancel(w.driver, d.ID))

	d = w.delivery()
	for range 2 { // picked up, in transit: the driver may still cancel
		if _, err := w.svc.ChangeStatus(w.ctx, w.driver, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := w.svc.CancelDelivery(w.ctx, w.driver, d.ID); err != nil || got.Status != store.DeliveryCancelled {
		t.Fatalf("the driver's cancel in transit: %+v %v", got, err)
	}
	d = w.delivery()
	for range 3 {
		if _, err := w.svc.ChangeStatus(w.ctx, w.driver, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	w.refused("a delivered one", apperr.Invalid, market.MsgCancelFinal, cancel(w.client, d.ID))
}

// The console's cancel: a staff member with a reason; the history entry has
// no app user, the audit entry names the staff member.
func TestServiceStaffCancelDelivery(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	d := w.delivery()
	w.refused("without a staff member", apperr.Forbidden, "",
		fn(func() (*store.Delivery, error) { return w.svc.StaffCancelDelivery(w.ctx, nil, d.ID, "fraude") }))
	w.refused("without a reason", apperr.Invalid, "",
		fn(func() (*store.Delivery, error) { return w.svc.StaffCancelDelivery(w.ctx, w.console, d.ID, "  ") }))
	w.refused("an unknown delivery", apperr.NotFound, "",
		fn(func() (*store.Delivery, error) {
			return w.svc.StaffCancelDelivery(w.ctx, w.console, uuid.New(), "fraude")
		}))
	got, err := w.svc.StaffCancelDelivery(w.ctx, w.console, d.ID, " fraude ")
	if err != nil || got.Status != store.DeliveryCancelled {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if h := w.history(d.HistoryID); !slices.Contains(h, "cancelled:") {
		t.Errorf("history %v, want a cancelled entry without an app user", h)
	}
	var e store.StaffAudit
	if err := w.st.DB.Take(&e, "object_id = ?", d.ID.String()).Error; err != nil {
		t.Fatal(err)
	}
	if e.StaffAccountID != w.console.ID || e.Action != audit.ActionCancel || e.Reason == nil || *e.Reason != "fraude" {
		t.Errorf("audit entry %+v", e)
	}
	before := w.writes()
	if got := testutil.FieldsOf(t, fn(func() (*store.Delivery, error) { return w.svc.StaffCancelDelivery(w.ctx, w.console, d.ID, "otra vez") })()); !slices.Equal(got["reason"], []string{market.MsgCancelFinal}) {
		t.Errorf("cancel a cancelled one: %v", got)
	}
	if w.writes() != before {
		t.Errorf("a refused staff cancel wrote rows")
	}
}

// Deliveries are seen by their parties and the API's staff users; the
// all-deliveries list is staff only.
func TestServiceDeliveryVisibility(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	d := w.delivery()
	for _, u := range []*store.User{w.client, w.driver, w.apiStaff} {
		if got, err := w.svc.GetDelivery(w.ctx, u, d.ID); err != nil || got.ID != d.ID {
			t.Errorf("delivery for %s: %v %v", u.UserID, got, err)
		}
	}
	w.refused("delivery for a stranger", apperr.NotFound, "", fn(func() (*store.Delivery, error) { return w.svc.GetDelivery(w.ctx, w.stranger, d.ID) }))
	list := func(u *store.User, by string) ([]store.Delivery, error) {
		return w.svc.ListDeliveries(w.ctx, u, market.DeliveryFilter{FilterBy: by}, market.Page{})
	}
	for _, c := range []struct {
		who  *store.User
		by   string
		want int
	}{
		{w.client, "", 1}, {w.client, "delivery_person", 0}, {w.driver, "", 0}, {w.driver, "delivery_person", 1},
		{w.stranger, "", 0}, {w.apiStaff, "all", 1},
	} {
		if ds, err := list(c.who, c.by); err != nil || len(ds) != c.want {
			t.Errorf("%s filter_by=%q: %d deliveries (%v), want %d", c.who.UserID, c.by, len(ds), err, c.want)
		}
	}
	w.refused("all deliveries for a non-staff user", apperr.Forbidden, market.MsgFilterAllStaff,
		fn(func() ([]store.Delivery, error) { return list(w.client, "all") }))
}

// Categories: the API's staff users (the caller's flag) and the console's
// staff members (by) change them; only the console's changes are audited.
func TestServiceCategoriesStaffOnly(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	in := market.CategoryInput{Name: optional.Value("Mascotas"), Invalid: apperr.Fields{}}
	for _, u := range []*store.User{w.client, nil} {
		name := "nil caller"
		if u != nil {
			name = u.UserID
		}
		w.refused("create by "+name, apperr.Forbidden, "", fn(func() (*store.Category, error) { return w.svc.CreateCategory(w.ctx, u, in) }))
		w.refused("update by "+name, apperr.Forbidden, "", fn(func() (*store.Category, error) { return w.svc.UpdateCategory(w.ctx, u, w.cat.ID, in) }))
		w.refused("delete by "+name, apperr.Forbidden, "", func() error { return w.svc.DeleteCategory(w.ctx, u, w.cat.ID) })
	}
	w.refused("console save without a staff member", apperr.Forbidden, "",
		fn(func() (*store.Category, error) { return w.svc.SaveCategory(w.ctx, nil, nil, in) }))

	before := w.writes()
	c, err := w.svc.CreateCategory(w.ctx, w.apiStaff, in)
	if err != nil || c.Name != "Mascotas" {
		t.Fatalf("API staff create: %+v %v", c, err)
	}
	if after := w.writes(); after[5] != before[5]+1 || after[6] != before[6] {
		t.Errorf("API staff create wrote %v → %v, want a category and no audit entry", before, after)
	}
	edit := market.CategoryInput{Description: optional.Value("Perros y gatos"), Invalid: apperr.Fields{}}
	if c, err = w.svc.SaveCategory(w.ctx, w.console, &c.ID, edit); err != nil || c.Description != "Perros y gatos" {
		t.Fatalf("console update: %+v %v", c, err)
	}
	var e store.StaffAudit
	if err := w.st.DB.Take(&e, "object_id = ?", c.ID.String()).Error; err != nil {
		t.Fatalf("console update: no audit entry: %v", err)
	}
	if e.StaffAccountID != w.console.ID || e.Action != audit.ActionUpdate || e.ObjectKind != audit.KindCategory {
		t.Errorf("audit entry %+v", e)
	}

	w.quote() // on w.cat
	w.refused("delete a category in use", apperr.Invalid, "La categoría está en uso y no se puede eliminar.",
		func() error { return w.svc.DeleteCategory(w.ctx, w.apiStaff, w.cat.ID) })
	w.refused("delete an unknown category", apperr.NotFound, "", func() error { return w.svc.DeleteCategory(w.ctx, w.apiStaff, uuid.New()) })
	if err := w.svc.DeleteCategory(w.ctx, w.apiStaff, c.ID); err != nil {
		t.Fatal(err)
	}
	w.refused("get a deleted category", apperr.NotFound, "", fn(func() (*store.Category, error) { return w.svc.GetCategory(w.ctx, c.ID) }))
}

// An offer renders its driver's and its quote's client's current vehicles as
// the database has them when the offer locks the quote (one statement), not
// as the caller's row (authentication's, possibly older) says: a driver whose
// row names no vehicle, or an older one, offers with the current one, and
// the client's vehicle chosen after their row was read shows in the offer's
// quote.
func TestServiceOfferReadsVehiclesFresh(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t, market.Config{})
	var moto store.VehicleType
	if err := w.st.DB.Where("name = ?", "Moto").Take(&moto).Error; err != nil {
		t.Fatal(err)
	}
	current := func(owner *store.User, plate string) *store.Vehicle {
		v := &store.Vehicle{VehicleID: uuid.New(), UserID: owner.UserID, TypeID: moto.ID, Brand: "Yamaha", Model: "NMAX", Year: 2022,
			LicensePlate: plate, VIN: "vin" + plate, DriverLicenseStatus: "pending", RegistrationCardStatus: "pending",
			InsurancePolicyStatus: "pending", CriminalRecordStatus: "pending", IsVerified: true, CreatedAt: w.clock.Now(), UpdatedAt: w.clock.Now()}
		if err := w.st.DB.Create(v).Error; err != nil {
			t.Fatal(err)
		}
		if err := w.st.DB.Model(&store.User{}).Where("userid = ?", owner.UserID).Update("current_vehicle_id", v.VehicleID).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}
	q := w.quote()
	v1 := current(w.driver, "FRS111") // w.driver still names none
	cv := current(w.client, "FRS999")
	check := func(name string, o *store.Offer, want *store.Vehicle) {
		t.Helper()
		if o.VehicleID == nil || *o.VehicleID != want.VehicleID || o.Vehicle == nil || o.Vehicle.VehicleID != want.VehicleID {
			t.Errorf("%s: offer's vehicle %v, want %s", name, o.VehicleID, want.VehicleID)
		}
		if d := o.Driver; d == nil || d.CurrentVehicle == nil || d.CurrentVehicle.VehicleID != want.VehicleID || d.CurrentVehicle.Type == nil {
			t.Errorf("%s: driver's current vehicle %+v, want %s with its type", name, d, want.VehicleID)
		}
		if c := o.Quote.Client; c == nil || c.CurrentVehicle == nil || c.CurrentVehicle.VehicleID != cv.VehicleID {
			t.Errorf("%s: the quote's client renders %+v, want current vehicle %s", name, c, cv.VehicleID)
		}
	}
	o, created, err := w.svc.MakeOffer(w.ctx, w.driver, q.ID, price(8000))
	if err != nil || !created {
		t.Fatalf("offer: %v (created %v)", err, created)
	}
	check("a row naming no vehicle", o, v1)
	stale := *w.driver
	stale.CurrentVehicleID = &v1.VehicleID
	v2 := current(w.driver, "FRS222")
	if o, _, err = w.svc.MakeOffer(w.ctx, &stale, w.quote().ID, price(7500)); err != nil {
		t.Fatal(err)
	}
	check("a row naming an older vehicle", o, v2)
	var stored store.Offer
	if err := w.st.DB.Take(&stored, "id = ?", o.ID).Error; err != nil || stored.VehicleID == nil || *stored.VehicleID != v2.VehicleID {
		t.Errorf("stored offer's vehicle: %v (%v), want %s", stored.VehicleID, err, v2.VehicleID)
	}
}
