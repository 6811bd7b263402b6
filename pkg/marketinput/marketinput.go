// Package marketinput decodes the marketplace's request bodies into market's
// typed inputs (market.QuoteInput, market.OfferInput, market.CategoryInput,
// the minutes of an extension). A body is an input.Body: the API's JSON, or
// the staff console's form values.
//
// It checks what each field's type says, as DRF's serializer fields did:
// format, required, null, length, choices, range. Those messages go in the
// input's Invalid; the marketplace's own rules (an unknown category, a price
// that is not positive, equal addresses) are market's, which answers them
// together with these in one 400.
//
// It is a package of its own, beside the adapters rather than inside one,
// because both the HTTP API (pkg/httpapi) and the console (pkg/consoleweb) save
// categories and neither adapter imports the other; keeping every marketplace
// decoder here gives each body one place to read.
package marketinput

import (
	"strings"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/market"
	"hermez/pkg/optional"
	"hermez/pkg/view"
)

// Limits of a quote's fields.
const (
	maxObservations   = 20
	maxObservationLen = 200
	maxSizeLen        = 100
	maxCategoryName   = 100
	maxExtendMinutes  = 100000
)

// Messages of the quote's fields.
const (
	MsgTooManyObservations = "Asegúrese de que este campo no tenga más de 20 elementos."
	MsgObservationLength   = "Cada observación debe tener entre 1 y 200 caracteres."
	MsgNotNegative         = "Asegúrese de que este valor sea mayor o igual a 0."
)

// ignoredText is a text field read only to compare it with the caller (a
// client_id or delivery_person_id): "" when absent, null or not text; never
// a field error.
func ignoredText(b input.Body, key string) string {
	if !b.Has(key) || b.IsNull(key) {
		return ""
	}
	v, ok := b.String(key, apperr.Fields{}, input.StringOpts{AllowBlank: true})
	if !ok || v == nil {
		return ""
	}
	return *v
}

// Quote decodes a quote's body: POST and PUT (partial false: the addresses,
// category_id and client_price are required) or PATCH (partial: only what is
// sent is read). Fields sent with an invalid value are left unset and
// explained in Invalid.
func Quote(b input.Body, partial bool) market.QuoteInput {
	f := apperr.Fields{}
	in := market.QuoteInput{ClientID: ignoredText(b, "client_id"), Invalid: f}
	req := !partial
	if v, ok := b.String("pickup_address", f, input.StringOpts{Required: req}); ok && v != nil {
		in.PickupAddress = optional.Value(*v)
	}
	if v, ok := b.String("delivery_address", f, input.StringOpts{Required: req}); ok && v != nil {
		in.DeliveryAddress = optional.Value(*v)
	}
	if v, ok := b.String("payment_method", f, input.StringOpts{Choices: market.PaymentMethods}); ok && v != nil {
		in.PaymentMethod = optional.Value(*v)
	}
	if v, ok := b.UUID("category_id", f, req, false); ok && v != nil {
		in.CategoryID = optional.Value(*v)
	}
	if v, ok := b.UUID("vehicle_type_id", f, false, true); ok {
		in.VehicleTypeID = optional.FromPtr(v)
	}
	if v, ok := b.String("description", f, input.StringOpts{Nullable: true, AllowBlank: true}); ok {
		in.Description = optional.FromPtr(v)
	}
	in.Observations = observations(b, f)
	if v, ok := b.Decimal("estimated_weight", f, 8, 2, false, true); ok {
		if v != nil && v.IsNegative() {
			f.Add("estimated_weight", MsgNotNegative)
		} else {
			in.EstimatedWeight = optional.FromPtr(v)
		}
	}
	if v, ok := b.String("estimated_size", f, input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: maxSizeLen}); ok {
		in.EstimatedSize = optional.FromPtr(v)
	}
	if v, ok := b.Decimal("client_price", f, 10, 2, req, false); ok && v != nil {
		in.ClientPrice = optional.Value(*v)
	}
	// Optional on every method (a PUT not sending them keeps them, as DRF's
	// update keeps a field it was not given).
	in.PickupLatitude = b.Coordinate("pickup_latitude", f, input.Latitude)
	in.PickupLongitude = b.Coordinate("pickup_longitude", f, input.Longitude)
	in.DeliveryLatitude = b.Coordinate("delivery_latitude", f, input.Latitude)
	in.DeliveryLongitude = b.Coordinate("delivery_longitude", f, input.Longitude)
	// place.md §7: optional on every method; auto_accept_at is read-only (ignored).
	if v, ok := b.Bool("auto_accept_lowest", f, false); ok {
		in.AutoAcceptLowest = optional.Value(v)
	}
	return in
}

// observations reads a quote's observations: null is none; each is trimmed
// and must keep 1 to 200 characters, at most 20 of them.
func observations(b input.Body, f apperr.Fields) optional.Field[[]string] {
	if b.Has("observations") && b.IsNull("observations") {
		return optional.Null[[]string]()
	}
	v, ok := b.StringList("observations", f)
	if !ok {
		return optional.Field[[]string]{}
	}
	obs, bad := make([]string, 0, len(v)), false
	for _, o := range v {
		o = strings.TrimSpace(o)
		if o == "" || len([]rune(o)) > maxObservationLen {
			bad = true
		}
		obs = append(obs, o)
	}
	switch {
	case len(obs) > maxObservations:
		f.Add("observations", MsgTooManyObservations)
	case bad:
		f.Add("observations", MsgObservationLength)
	default:
		return optional.Value(obs)
	}
	return optional.Field[[]string]{}
}

// Offer decodes the body of an offer (POST …/quotes/{id}/offers/).
// estimated_delivery_time is a duration ("[DD] [HH:[MM:]]ss[.uuuuuu]", as
// DRF's DurationField); null or blank clears it. The vehicle is vehicle_id
// (or vehicleId); null names none.
func Offer(b input.Body) market.OfferInput {
	in := market.OfferInput{DriverID: ignoredText(b, "delivery_person_id")}
	f := apperr.Fields{}
	in.Invalid = f
	if b.Has("quote_id") && !b.IsNull("quote_id") {
		if v, ok := b.UUID("quote_id", f, false, true); ok && v != nil {
			in.QuoteID = v
		}
	}
	if v, ok := b.Decimal("proposed_price", f, 10, 2, true, false); ok && v != nil {
		in.ProposedPrice = optional.Value(*v)
	}
	if b.Has("estimated_delivery_time") {
		in.EstimatedDeliveryTime = duration(b, "estimated_delivery_time", f)
	}
	if key := b.First("vehicle_id", "vehicleId"); key != "" {
		if v, ok := b.UUID(key, f, false, true); ok {
			in.VehicleID = v
		}
	}
	return in
}

// duration reads a sent duration field in microseconds: null or blank is Null.
func duration(b input.Body, key string, f apperr.Fields) optional.Field[int64] {
	if b.IsNull(key) {
		return optional.Null[int64]()
	}
	s, ok := b.String(key, f, input.StringOpts{Nullable: true, AllowBlank: true})
	switch {
	case !ok:
		return optional.Field[int64]{}
	case s == nil || *s == "":
		return optional.Null[int64]()
	}
	us, valid := view.ParseDuration(*s)
	if !valid {
		f.Add(key, market.MsgDuration)
		return optional.Field[int64]{}
	}
	return optional.Value(us)
}

// ExtendMinutes decodes {"minutes": n} (or extra_minutes): a whole number of
// minutes from 1 to 100000, else a field error on the key sent.
func ExtendMinutes(b input.Body) (int, error) {
	key := b.First("minutes", "extra_minutes")
	if key == "" {
		key = "minutes"
	}
	f := apperr.Fields{}
	n, ok := b.IntIn(key, f, input.IntOpts{Required: true, Min: 1, Max: maxExtendMinutes, RangeMsg: market.MsgMinutes})
	if err := f.Err(); err != nil {
		return 0, err
	}
	if !ok || n == nil {
		return 0, apperr.Field(key, market.MsgMinutes)
	}
	return int(*n), nil
}

// Category decodes a category's body (partial: PATCH, only what is sent is
// read; else the name is required). A null description is Null (saved empty).
func Category(b input.Body, partial bool) market.CategoryInput {
	f := apperr.Fields{}
	in := market.CategoryInput{Invalid: f}
	if v, ok := b.String("name", f, input.StringOpts{Required: !partial, MaxLen: maxCategoryName}); ok && v != nil {
		in.Name = optional.Value(*v)
	}
	if v, ok := b.String("description", f, input.StringOpts{AllowBlank: true, Nullable: true}); ok {
		in.Description = optional.FromPtr(v)
	}
	if v, ok := b.Bool("is_active", f, false); ok {
		in.IsActive = optional.Value(v)
	}
	return in
}
