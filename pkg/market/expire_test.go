package market_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/market"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The sweep at fixed instants: each test has its own database and its own
// clock (Store.Now), so they run in parallel.
func TestExpireAtFixedInstants(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name             string
		quoteExp         time.Duration // relative to the sweep's instant
		quoteStatus      string
		offerExp         time.Duration
		wantQuoteRemoved bool
		wantOfferRemoved bool
	}{
		{"both unexpired", time.Minute, store.QuotePending, time.Minute, false, false},
		{"quote expires at the instant", 0, store.QuotePending, time.Minute, true, true},
		{"quote expired, offer too", -time.Second, store.QuotePending, -time.Second, true, true},
		{"quote one microsecond from expiry", time.Microsecond, store.QuotePending, time.Minute, false, false},
		{"offer expires at the instant", time.Minute, store.QuotePending, 0, false, true},
		{"offer expired, quote not", time.Minute, store.QuotePending, -time.Hour, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := testutil.NewStore(t)
			st.Now = func() time.Time { return t0 }
			ctx := context.Background()
			var cat store.Category
			if err := st.DB.Where("is_active").Order("name").Take(&cat).Error; err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"user_exp_client", "user_exp_driver"} {
				if err := st.DB.Create(&store.User{UserID: id, CreatedAt: t0, UpdatedAt: t0}).Error; err != nil {
					t.Fatal(err)
				}
			}
			q := store.Quote{ID: uuid.New(), ClientID: "user_exp_client", PickupAddress: "A", DeliveryAddress: "B",
				CategoryID: cat.ID, Observations: store.StringList{}, ClientPrice: decimal.NewFromInt(9000), PaymentMethod: "efectivo",
				Status: c.quoteStatus, Version: 1, CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(c.quoteExp), HistoryID: uuid.New()}
			if err := st.DB.Omit("Client", "Category", "VehicleType", "Offers").Create(&q).Error; err != nil {
				t.Fatal(err)
			}
			o := store.Offer{ID: uuid.New(), DeliveryPersonID: "user_exp_driver", QuoteID: q.ID, ProposedPrice: decimal.NewFromInt(8000),
				Status: store.OfferPending, Version: 1, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(c.offerExp)}
			if err := st.DB.Omit("Driver", "Quote", "Vehicle").Create(&o).Error; err != nil {
				t.Fatal(err)
			}
			svc := market.New(st, nil, market.Config{QuoteTTL: 10 * time.Minute, OfferTTL: 4 * time.Minute, QuoteMaxLifetime: time.Hour}, nil)
			quotes, offers, err := svc.Expire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var nq, no int64
			st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Count(&nq)
			st.DB.Model(&store.Offer{}).Where("id = ?", o.ID).Count(&no)
			if (nq == 0) != c.wantQuoteRemoved || (no == 0) != c.wantOfferRemoved {
				t.Fatalf("quote kept %v, offer kept %v; want removed %v, %v", nq == 1, no == 1, c.wantQuoteRemoved, c.wantOfferRemoved)
			}
			wantQ, wantO := 0, 0
			if c.wantQuoteRemoved {
				wantQ = 1
			}
			if c.wantOfferRemoved {
				wantO = 1
			}
			if quotes != wantQ || offers != wantO {
				t.Fatalf("Expire counted %d quotes, %d offers; want %d, %d", quotes, offers, wantQ, wantO)
			}
			// Every removal is announced through the outbox (the nil outbox
			// leaves the frames to the relay): 3 groups × 2 types per quote,
			// 3 groups × 2 types per offer removed alone, 1 group × 2 per offer
			// removed with its quote.
			frames := len(testutil.UnpublishedFrames(t, st))
			want := 0
			switch {
			case c.wantQuoteRemoved:
				want = 6 + 2
			case c.wantOfferRemoved:
				want = 6
			}
			if frames != want {
				t.Fatalf("%d frames written, want %d", frames, want)
			}
		})
	}
}
