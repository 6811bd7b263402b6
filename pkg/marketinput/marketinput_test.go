package marketinput_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/market"
	"hermez/pkg/marketinput"
	"hermez/pkg/optional"
)

var (
	catID  = uuid.MustParse("6f1c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f")
	typeID = uuid.MustParse("0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70")
)

func decode(t *testing.T, body string) input.Body {
	t.Helper()
	b, err := input.Decode([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return b
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// same compares two inputs field by field: decimals by value (their
// representation differs with the text they were read from), the rest as Go
// values.
func same(got, want any) bool {
	return fmt.Sprintf("%+v", got) == fmt.Sprintf("%+v", want) && reflect.TypeOf(got) == reflect.TypeOf(want)
}

func TestQuote(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 101)
	for _, c := range []struct {
		name    string
		body    string
		partial bool
		want    market.QuoteInput
	}{
		{
			name: "every field",
			body: `{"client_id": " user_a ", "pickup_address": "Calle 1", "delivery_address": "Calle 2", "payment_method": "nequi",
				"category_id": "` + catID.String() + `", "vehicle_type_id": "` + typeID.String() + `", "description": "",
				"observations": ["  frágil ", "arriba"], "estimated_weight": "2.50", "estimated_size": "M", "client_price": 12000}`,
			want: market.QuoteInput{ClientID: "user_a", PickupAddress: optional.Value("Calle 1"), DeliveryAddress: optional.Value("Calle 2"),
				PaymentMethod: optional.Value("nequi"), CategoryID: optional.Value(catID), VehicleTypeID: optional.Value(typeID),
				Description: optional.Value(""), Observations: optional.Value([]string{"frágil", "arriba"}),
				EstimatedWeight: optional.Value(dec("2.5")), EstimatedSize: optional.Value("M"), ClientPrice: optional.Value(dec("12000")),
				Invalid: apperr.Fields{}},
		},
		{
			name: "create without the required fields",
			body: `{}`,
			want: market.QuoteInput{Invalid: apperr.Fields{"pickup_address": {input.MsgRequired}, "delivery_address": {input.MsgRequired},
				"category_id": {input.MsgRequired}, "client_price": {input.MsgRequired}}},
		},
		{
			name:    "patch of nothing",
			body:    `{}`,
			partial: true,
			want:    market.QuoteInput{Invalid: apperr.Fields{}},
		},
		{
			name:    "patch with nulls",
			body:    `{"client_id": null, "vehicle_type_id": null, "description": null, "observations": null, "estimated_weight": null, "estimated_size": ""}`,
			partial: true,
			want: market.QuoteInput{VehicleTypeID: optional.Null[uuid.UUID](), Description: optional.Null[string](),
				Observations: optional.Null[[]string](), EstimatedWeight: optional.Null[decimal.Decimal](), EstimatedSize: optional.Value(""),
				Invalid: apperr.Fields{}},
		},
		{
			name:    "invalid values are left unset",
			body:    `{"pickup_address": null, "payment_method": "tarjeta", "category_id": "nope", "client_price": "1.234", "estimated_size": "` + long + `"}`,
			partial: true,
			want: market.QuoteInput{Invalid: apperr.Fields{
				"pickup_address": {input.MsgNull},
				"payment_method": {`"tarjeta" no es una elección válida.`},
				"category_id":    {input.MsgUUID},
				"client_price":   {"Asegúrese de que no haya más de 2 decimales."},
				"estimated_size": {"Asegúrese de que este campo no tenga más de 100 caracteres."},
			}},
		},
		{
			name:    "negative weight",
			body:    `{"estimated_weight": -1}`,
			partial: true,
			want:    market.QuoteInput{Invalid: apperr.Fields{"estimated_weight": {marketinput.MsgNotNegative}}},
		},
		{
			name:    "blank observation",
			body:    `{"observations": ["ok", "   "]}`,
			partial: true,
			want:    market.QuoteInput{Invalid: apperr.Fields{"observations": {marketinput.MsgObservationLength}}},
		},
		{
			name:    "too many observations",
			body:    `{"observations": [` + strings.TrimSuffix(strings.Repeat(`"o",`, 21), ",") + `]}`,
			partial: true,
			want:    market.QuoteInput{Invalid: apperr.Fields{"observations": {marketinput.MsgTooManyObservations}}},
		},
		{
			name:    "coordinates: rounded, strings, null and blank",
			body:    `{"pickup_latitude": 7.1193494444, "pickup_longitude": "-73.122741", "delivery_latitude": null, "delivery_longitude": ""}`,
			partial: true,
			want: market.QuoteInput{PickupLatitude: optional.Value(7.119349), PickupLongitude: optional.Value(-73.122741),
				DeliveryLatitude: optional.Null[float64](), DeliveryLongitude: optional.Null[float64](), Invalid: apperr.Fields{}},
		},
		{
			name:    "coordinates refused are left unset (the pair rule is the service's)",
			body:    `{"pickup_latitude": 91, "pickup_longitude": true, "delivery_latitude": "NaN", "delivery_longitude": -180.1}`,
			partial: true,
			want: market.QuoteInput{Invalid: apperr.Fields{
				"pickup_latitude":    {"Asegúrese de que este valor sea menor o igual a 90."},
				"pickup_longitude":   {input.MsgFloat},
				"delivery_latitude":  {input.MsgFloat},
				"delivery_longitude": {"Asegúrese de que este valor sea mayor o igual a -180."},
			}},
		},
		{
			name:    "a client_id that is no text is ignored",
			body:    `{"client_id": {"a": 1}}`,
			partial: true,
			want:    market.QuoteInput{Invalid: apperr.Fields{}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := marketinput.Quote(decode(t, c.body), c.partial)
			if !same(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if p := got.ClientPrice; p.Set && !p.Value.Equal(c.want.ClientPrice.Value) {
				t.Errorf("client_price %s, want %s", p.Value, c.want.ClientPrice.Value)
			}
		})
	}
}

func TestOffer(t *testing.T) {
	t.Parallel()
	quote, vehicle := uuid.New(), uuid.New()
	for _, c := range []struct {
		name        string
		body        string
		driver      string
		quote       *uuid.UUID
		price       string // "" not set
		time        optional.Field[int64]
		vehicle     *uuid.UUID
		wantInvalid apperr.Fields
	}{
		{name: "price only", body: `{"proposed_price": "9000.50"}`, price: "9000.5", wantInvalid: apperr.Fields{}},
		{name: "everything", body: `{"delivery_person_id": "user_d", "quote_id": "` + quote.String() + `", "proposed_price": 10,
			"estimated_delivery_time": "00:30:00", "vehicle_id": "` + vehicle.String() + `"}`,
			driver: "user_d", quote: &quote, price: "10", time: optional.Value(int64(1800_000_000)), vehicle: &vehicle, wantInvalid: apperr.Fields{}},
		{name: "vehicleId alias", body: `{"proposed_price": 1, "vehicleId": "` + vehicle.String() + `"}`, price: "1", vehicle: &vehicle, wantInvalid: apperr.Fields{}},
		{name: "null time and vehicle", body: `{"proposed_price": 1, "estimated_delivery_time": null, "vehicle_id": null, "quote_id": null, "delivery_person_id": null}`,
			price: "1", time: optional.Null[int64](), wantInvalid: apperr.Fields{}},
		{name: "blank time", body: `{"proposed_price": 1, "estimated_delivery_time": " "}`, price: "1", time: optional.Null[int64](), wantInvalid: apperr.Fields{}},
		{name: "zero price is the service's to refuse", body: `{"proposed_price": 0}`, price: "0", wantInvalid: apperr.Fields{}},
		{name: "invalid fields", body: `{"quote_id": "x", "estimated_delivery_time": "soon", "vehicle_id": 5}`,
			wantInvalid: apperr.Fields{"quote_id": {input.MsgUUID}, "proposed_price": {input.MsgRequired},
				"estimated_delivery_time": {market.MsgDuration}, "vehicle_id": {input.MsgUUID}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := marketinput.Offer(decode(t, c.body))
			if got.DriverID != c.driver {
				t.Errorf("driver %q, want %q", got.DriverID, c.driver)
			}
			if !reflect.DeepEqual(got.QuoteID, c.quote) {
				t.Errorf("quote %v, want %v", got.QuoteID, c.quote)
			}
			if c.price == "" {
				if got.ProposedPrice.Set {
					t.Errorf("price set: %v", got.ProposedPrice.Value)
				}
			} else if !got.ProposedPrice.Set || !got.ProposedPrice.Value.Equal(dec(c.price)) {
				t.Errorf("price %+v, want %s", got.ProposedPrice, c.price)
			}
			if got.EstimatedDeliveryTime != c.time {
				t.Errorf("time %+v, want %+v", got.EstimatedDeliveryTime, c.time)
			}
			if !reflect.DeepEqual(got.VehicleID, c.vehicle) {
				t.Errorf("vehicle %v, want %v", got.VehicleID, c.vehicle)
			}
			if !reflect.DeepEqual(got.Invalid, c.wantInvalid) {
				t.Errorf("invalid %v, want %v", got.Invalid, c.wantInvalid)
			}
		})
	}
}

func TestExtendMinutes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body    string
		want    int
		wantErr apperr.Fields
	}{
		{body: `{"minutes": 15}`, want: 15},
		{body: `{"minutes": "30"}`, want: 30},
		{body: `{"extra_minutes": 5}`, want: 5},
		{body: `{"minutes": 100000}`, want: 100000},
		{body: `{}`, wantErr: apperr.Fields{"minutes": {input.MsgRequired}}},
		{body: `{"minutes": 0}`, wantErr: apperr.Fields{"minutes": {market.MsgMinutes}}},
		{body: `{"extra_minutes": 100001}`, wantErr: apperr.Fields{"extra_minutes": {market.MsgMinutes}}},
		{body: `{"minutes": 1.5}`, wantErr: apperr.Fields{"minutes": {input.MsgInteger}}},
		{body: `{"minutes": null}`, wantErr: apperr.Fields{"minutes": {input.MsgNull}}},
	} {
		n, err := marketinput.ExtendMinutes(decode(t, c.body))
		if c.wantErr == nil {
			if err != nil || n != c.want {
				t.Errorf("%s: %d, %v; want %d", c.body, n, err, c.want)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid || !reflect.DeepEqual(apperr.Fields(e.Fields), c.wantErr) {
			t.Errorf("%s: %d, %v; want %v", c.body, n, err, c.wantErr)
		}
	}
}

func TestCategory(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		body    input.Body
		partial bool
		want    market.CategoryInput
	}{
		{name: "json", body: decode(t, `{"name": " Mascotas ", "description": "Perros", "is_active": false}`),
			want: market.CategoryInput{Name: optional.Value("Mascotas"), Description: optional.Value("Perros"), IsActive: optional.Value(false), Invalid: apperr.Fields{}}},
		{name: "console form", body: input.FromStrings(map[string]string{"name": "Flores", "description": "", "is_active": "true"}),
			want: market.CategoryInput{Name: optional.Value("Flores"), Description: optional.Value(""), IsActive: optional.Value(true), Invalid: apperr.Fields{}}},
		{name: "null description", body: decode(t, `{"description": null}`), partial: true,
			want: market.CategoryInput{Description: optional.Null[string](), Invalid: apperr.Fields{}}},
		{name: "name required", body: decode(t, `{"is_active": "maybe"}`),
			want: market.CategoryInput{Invalid: apperr.Fields{"name": {input.MsgRequired}, "is_active": {input.MsgBool}}}},
		{name: "name too long", body: decode(t, `{"name": "`+strings.Repeat("n", 101)+`"}`), partial: true,
			want: market.CategoryInput{Invalid: apperr.Fields{"name": {"Asegúrese de que este campo no tenga más de 100 caracteres."}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := marketinput.Category(c.body, c.partial); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}
