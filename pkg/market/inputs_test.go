package market_test

import (
	"context"
	"reflect"
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

// marketFixture is a service on its own database at a fixed instant, with a
// client, a driver and an active category.
type marketFixture struct {
	svc            *market.Service
	st             *store.Store
	client, driver *store.User
	cat            store.Category
}

func newMarketFixture(t *testing.T) *marketFixture {
	t.Helper()
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	st := testutil.NewStore(t)
	st.Now = func() time.Time { return t0 }
	f := &marketFixture{st: st, client: &store.User{UserID: "user_in_client", CreatedAt: t0, UpdatedAt: t0},
		driver: &store.User{UserID: "user_in_driver", CreatedAt: t0, UpdatedAt: t0}}
	for _, u := range []*store.User{f.client, f.driver} {
		if err := st.DB.Create(u).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DB.Where("is_active").Order("name").Take(&f.cat).Error; err != nil {
		t.Fatal(err)
	}
	f.svc = market.New(st, nil, market.Config{QuoteTTL: 10 * time.Minute, OfferTTL: 4 * time.Minute, QuoteMaxLifetime: time.Hour}, nil)
	return f
}

// validQuote is a complete creation input on category cat.
func validQuote(cat uuid.UUID) market.QuoteInput {
	return market.QuoteInput{PickupAddress: optional.Value("Calle 1"), DeliveryAddress: optional.Value("Calle 2"),
		CategoryID: optional.Value(cat), ClientPrice: optional.Value(decimal.NewFromInt(9000)), Invalid: apperr.Fields{}}
}

// kindOf is the kind of an apperr ("" for any other result).
func kindOf(err error) apperr.Kind {
	if e, ok := apperr.As(err); ok {
		return e.Kind
	}
	return ""
}

// fieldsOf is the field messages of a 400 (nil for any other result).
func fieldsOf(err error) apperr.Fields {
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		return e.Fields
	}
	return nil
}

func TestCreateQuoteInput(t *testing.T) {
	t.Parallel()
	missing := uuid.MustParse("11111111-2222-4333-8444-555555555555")
	for _, c := range []struct {
		name       string
		edit       func(*market.QuoteInput)
		wantKind   apperr.Kind // "" created
		wantFields apperr.Fields
	}{
		{name: "created", edit: func(*market.QuoteInput) {}},
		{name: "client_id naming the caller", edit: func(in *market.QuoteInput) { in.ClientID = "user_in_client" }},
		{name: "client_id naming someone else", edit: func(in *market.QuoteInput) {
			in.ClientID = "user_other"
			in.Invalid = apperr.Fields{"pickup_address": {"x"}} // 403 comes first
		}, wantKind: apperr.Forbidden},
		{name: "decoder errors and an unknown category in one 400", edit: func(in *market.QuoteInput) {
			in.Invalid = apperr.Fields{"estimated_size": {"too long"}}
			in.CategoryID = optional.Value(missing)
			in.VehicleTypeID = optional.Value(missing)
		}, wantKind: apperr.Invalid, wantFields: apperr.Fields{"estimated_size": {"too long"},
			"category_id":     {`Clave primaria "11111111-2222-4333-8444-555555555555" inválida - objeto no existe.`},
			"vehicle_type_id": {`Clave primaria "11111111-2222-4333-8444-555555555555" inválida - objeto no existe.`}}},
		{name: "price not positive", edit: func(in *market.QuoteInput) { in.ClientPrice = optional.Value(decimal.Zero) },
			wantKind: apperr.Invalid, wantFields: apperr.Fields{"client_price": {market.MsgPriceNotPositive}}},
		{name: "same addresses, told once every field is valid", edit: func(in *market.QuoteInput) {
			in.DeliveryAddress = optional.Value(" calle 1 ")
		}, wantKind: apperr.Invalid, wantFields: apperr.Fields{apperr.NonField: {market.MsgSameAddresses}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newMarketFixture(t)
			in := validQuote(f.cat.ID)
			c.edit(&in)
			before := len(in.Invalid)
			q, err := f.svc.CreateQuote(context.Background(), f.client, in)
			if len(in.Invalid) != before {
				t.Errorf("the service changed the caller's Invalid: %v", in.Invalid)
			}
			if c.wantKind == "" {
				if err != nil {
					t.Fatal(err)
				}
				if q.ClientID != f.client.UserID || q.CategoryID != f.cat.ID || !q.ClientPrice.Equal(decimal.NewFromInt(9000)) ||
					q.PaymentMethod != "efectivo" || q.Observations == nil || q.Description != nil {
					t.Errorf("created %+v", q)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != c.wantKind {
				t.Fatalf("got %v, want %s", err, c.wantKind)
			}
			if c.wantFields != nil && !reflect.DeepEqual(apperr.Fields(e.Fields), c.wantFields) {
				t.Errorf("fields %v, want %v", e.Fields, c.wantFields)
			}
		})
	}
}

func TestUpdateQuoteInputChangesOnlyWhatIsSet(t *testing.T) {
	t.Parallel()
	f := newMarketFixture(t)
	ctx := context.Background()
	in := validQuote(f.cat.ID)
	in.Description = optional.Value("caja")
	in.Observations = optional.Value([]string{"frágil"})
	q, err := f.svc.CreateQuote(ctx, f.client, in)
	if err != nil {
		t.Fatal(err)
	}
	patch := market.QuoteInput{Description: optional.Null[string](), ClientPrice: optional.Value(decimal.NewFromInt(9500)), Invalid: apperr.Fields{}}
	got, err := f.svc.UpdateQuote(ctx, f.client, q.ID, patch)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != nil || !got.ClientPrice.Equal(decimal.NewFromInt(9500)) ||
		got.PickupAddress != "Calle 1" || !reflect.DeepEqual([]string(got.Observations), []string{"frágil"}) || got.Version != 2 {
		t.Errorf("updated %+v", got)
	}
	// Not the client's: 403 before the field errors.
	patch.Invalid = apperr.Fields{"client_price": {"x"}}
	if _, err := f.svc.UpdateQuote(ctx, f.driver, q.ID, patch); kindOf(err) != apperr.Forbidden {
		t.Errorf("driver's update: %v, want 403", err)
	}
	// The client's: the decoder's errors.
	if _, err := f.svc.UpdateQuote(ctx, f.client, q.ID, patch); !reflect.DeepEqual(fieldsOf(err), apperr.Fields{"client_price": {"x"}}) {
		t.Errorf("client's update: %v", err)
	}
}

func TestExtendQuoteMinutes(t *testing.T) {
	t.Parallel()
	f := newMarketFixture(t)
	ctx := context.Background()
	q, err := f.svc.CreateQuote(ctx, f.client, validQuote(f.cat.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		minutes int
		want    time.Duration // after creation; 0: refused
	}{
		{0, 0},
		{-5, 0},
		{15, 25 * time.Minute},
		{100000, time.Hour}, // never past QuoteMaxLifetime
	} {
		got, err := f.svc.ExtendQuote(ctx, f.client, q.ID, c.minutes)
		if c.want == 0 {
			if !reflect.DeepEqual(fieldsOf(err), apperr.Fields{"minutes": {market.MsgMinutes}}) {
				t.Errorf("%d minutes: %v", c.minutes, err)
			}
			continue
		}
		if err != nil || !got.ExpiresAt.Equal(q.CreatedAt.Add(c.want)) {
			t.Errorf("%d minutes: %v, %v; want expiry at +%s", c.minutes, got, err, c.want)
		}
	}
}

func TestMakeOfferInput(t *testing.T) {
	t.Parallel()
	f := newMarketFixture(t)
	ctx := context.Background()
	q, err := f.svc.CreateQuote(ctx, f.client, validQuote(f.cat.ID))
	if err != nil {
		t.Fatal(err)
	}
	other := uuid.New()
	for _, c := range []struct {
		name       string
		in         market.OfferInput
		wantKind   apperr.Kind
		wantFields apperr.Fields
	}{
		{name: "delivery_person_id of someone else", in: market.OfferInput{DriverID: "user_other", Invalid: apperr.Fields{"x": {"y"}}},
			wantKind: apperr.Forbidden},
		{name: "quote_id of another quote, price zero, a decoder error", in: market.OfferInput{QuoteID: &other,
			ProposedPrice: optional.Value(decimal.Zero), Invalid: apperr.Fields{"vehicle_id": {"bad"}}},
			wantKind: apperr.Invalid, wantFields: apperr.Fields{"quote_id": {market.MsgQuoteMismatch},
				"proposed_price": {market.MsgPriceNotPositive}, "vehicle_id": {"bad"}}},
		{name: "no price", in: market.OfferInput{Invalid: apperr.Fields{}},
			wantKind: apperr.Invalid, wantFields: apperr.Fields{"proposed_price": {apperr.MsgRequired}}},
		{name: "made", in: market.OfferInput{DriverID: "user_in_driver", QuoteID: &q.ID, ProposedPrice: optional.Value(decimal.NewFromInt(8000)),
			EstimatedDeliveryTime: optional.Value(int64(1_800_000_000)), Invalid: apperr.Fields{}}},
		{name: "updated, its time cleared", in: market.OfferInput{ProposedPrice: optional.Value(decimal.NewFromInt(7000)),
			EstimatedDeliveryTime: optional.Null[int64](), Invalid: apperr.Fields{}}},
	} {
		o, created, err := f.svc.MakeOffer(ctx, f.driver, q.ID, c.in)
		if c.wantKind != "" {
			e, ok := apperr.As(err)
			if !ok || e.Kind != c.wantKind || (c.wantFields != nil && !reflect.DeepEqual(apperr.Fields(e.Fields), c.wantFields)) {
				t.Errorf("%s: got %v, want %s %v", c.name, err, c.wantKind, c.wantFields)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !o.ProposedPrice.Equal(c.in.ProposedPrice.Value) || !reflect.DeepEqual(o.EstimatedDeliveryTime, c.in.EstimatedDeliveryTime.Ptr()) ||
			created != (c.name == "made") {
			t.Errorf("%s: offer %+v created %v", c.name, o, created)
		}
	}
}

func TestSaveCategoryInput(t *testing.T) {
	t.Parallel()
	f := newMarketFixture(t)
	ctx := context.Background()
	staff := &store.User{UserID: "user_in_staff", IsStaff: true} // the API's staff check reads the flag
	c, err := f.svc.CreateCategory(ctx, staff, market.CategoryInput{Name: optional.Value("Mascotas"), Invalid: apperr.Fields{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Mascotas" || !c.IsActive || c.Description != "" {
		t.Errorf("created %+v", c)
	}
	c, err = f.svc.UpdateCategory(ctx, staff, c.ID, market.CategoryInput{Description: optional.Value("Perros y gatos"), IsActive: optional.Value(false)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Mascotas" || c.IsActive || c.Description != "Perros y gatos" {
		t.Errorf("updated %+v", c)
	}
	bad := market.CategoryInput{Invalid: apperr.Fields{"name": {"x"}}}
	missing := uuid.New()
	if _, err := f.svc.UpdateCategory(ctx, staff, missing, bad); kindOf(err) != apperr.NotFound {
		t.Errorf("unknown category: %v, want 404 before the field errors", err)
	}
	if _, err := f.svc.UpdateCategory(ctx, staff, c.ID, bad); !reflect.DeepEqual(fieldsOf(err), bad.Invalid) {
		t.Errorf("field errors: %v", err)
	}
	if _, err := f.svc.CreateCategory(ctx, staff, market.CategoryInput{Name: optional.Value("Mascotas")}); !reflect.DeepEqual(fieldsOf(err),
		apperr.Fields{"name": {"Ya existe una categoría con este nombre."}}) {
		t.Errorf("name taken: %v", err)
	}
}
