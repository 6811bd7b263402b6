package console_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/console"
	"hermez/pkg/store"
)

// TestNow at the fixed clock t0 = 2026-01-01 12:00 UTC (07:00 in Colombia:
// "today" began at 05:00 UTC).
func TestNow(t *testing.T) {
	f := newFixture(t)
	ago := func(m int) time.Time { return t0.Add(-time.Duration(m) * time.Minute) }
	mk := func(status string, created, changed time.Time, price int64, done, cancelled *time.Time) store.Delivery {
		d := f.delivery(store.Delivery{ClientID: "c", Status: status, CreatedAt: created})
		f.must(f.st.DB.Model(&store.Delivery{}).Where("id = ?", d.ID).Updates(map[string]any{
			"updated_at": changed, "final_price": decimal.NewFromInt(price), "completed_at": done, "cancelled_at": cancelled}).Error)
		return d
	}
	f.user(store.User{UserID: "c"})
	yesterday := time.Date(2026, 1, 1, 4, 0, 0, 0, time.UTC) // 23:00 on Dec 31 in Colombia
	aStuck := mk(store.DeliveryAssigned, ago(31), ago(31), 1000, nil, nil)
	aFresh := mk(store.DeliveryAssigned, ago(29), ago(29), 1000, nil, nil)
	tStuck := mk(store.DeliveryInTransit, yesterday, ago(91), 1000, nil, nil)
	pFresh := mk(store.DeliveryPickedUp, ago(100), ago(60), 1000, nil, nil)
	mk(store.DeliveryPaid, ago(120), ago(10), 27000, ptr(ago(60)), nil)
	mk(store.DeliveryDelivered, ago(90), ago(30), 15000, ptr(ago(30)), nil)
	mk(store.DeliveryPaid, yesterday, yesterday, 50000, ptr(yesterday), nil) // yesterday in Colombia
	mk(store.DeliveryCancelled, ago(20), ago(10), 9000, nil, ptr(ago(10)))
	mk(store.DeliveryCancelled, yesterday, yesterday, 9000, nil, ptr(yesterday))
	// history: three events, one of a delivery's
	for i, hid := range []uuid.UUID{aStuck.HistoryID, uuid.New(), uuid.New()} {
		f.must(f.st.DB.Create(&store.HistoryEvent{ID: uuid.New(), HistoryID: hid, EventType: store.HistoryStatusChanged,
			Description: "e", CreatedAt: ago(i)}).Error)
	}

	b, err := f.svc.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Today.Equal(time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("today starts %v", b.Today)
	}
	if b.ActiveTotal != 4 || b.StuckTotal != 2 || len(b.Active) != 4 {
		t.Fatalf("active %d (listed %d), stuck %d; want 4, 2", b.ActiveTotal, len(b.Active), b.StuckTotal)
	}
	// oldest change first
	want := []struct {
		id    uuid.UUID
		in    time.Duration
		stuck bool
	}{{tStuck.ID, 91 * time.Minute, true}, {pFresh.ID, 60 * time.Minute, false}, {aStuck.ID, 31 * time.Minute, true}, {aFresh.ID, 29 * time.Minute, false}}
	for i, w := range want {
		got := b.Active[i]
		if got.D.ID != w.id || got.InState != w.in || got.Stuck != w.stuck {
			t.Errorf("active[%d] = %s %v stuck=%v, want %s %v %v", i, got.D.Status, got.InState, got.Stuck, w.id, w.in, w.stuck)
		}
	}
	// created today: the four active but tStuck, the two completed, one cancelled = 6
	if b.CreatedToday != 6 || b.CompletedToday != 2 || !b.RevenueToday.Equal(decimal.NewFromInt(42000)) || b.CancelledToday != 1 {
		t.Errorf("today: created %d, completed %d, revenue %s, cancelled %d; want 6, 2, 42000, 1",
			b.CreatedToday, b.CompletedToday, b.RevenueToday, b.CancelledToday)
	}
	if len(b.Recent) != 3 || b.Recent[0].DeliveryID == nil || *b.Recent[0].DeliveryID != aStuck.ID || b.Recent[1].DeliveryID != nil {
		t.Errorf("recent events: %+v", b.Recent)
	}
	// The stuck filter of the list shows what the tile counts.
	ds, l, err := f.svc.Deliveries(ctx, console.DeliveryFilter{Active: true, Stuck: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Total != 2 || len(ds) != 2 {
		t.Errorf("stuck list: %d", l.Total)
	}
}
