package consoleweb

import (
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/marketinput"
	"hermez/pkg/optional"
)

// Decoders of the console's forms (made a Body by formBody) into account's
// typed inputs: types, formats, required fields, lengths and choices. Their
// field errors travel in the input's Invalid; the service adds its own rules
// (every document approved, a name not taken, categories that exist) and
// answers one 400 with all of them.

// Bounds of the console's fields.
const (
	maxNotes       = 2000
	maxTypeName    = 100
	maxImageURL    = 200
	capacityDigits = 10 // numeric(10,2)
	capacityPlaces = 2
)

// decodeVerification reads the vehicle verification form: the four document
// statuses and isVerified required, verificationNotes optional.
func decodeVerification(b input.Body) account.VehicleVerification {
	f := apperr.Fields{}
	in := account.VehicleVerification{Statuses: map[string]string{}}
	for _, d := range account.DocumentFields {
		if v, ok := b.String(d.Key, f, input.StringOpts{Required: true, Choices: account.DocumentStatuses}); ok && v != nil {
			in.Statuses[d.Key] = *v
		}
	}
	if v, ok := b.Bool("isVerified", f, true); ok {
		in.Verified = &v
	}
	if v, ok := b.String("verificationNotes", f, input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: maxNotes}); ok {
		in.Notes = optional.FromPtr(v)
	}
	in.Invalid = f
	return in
}

// msgNotNegative refuses a capacity below zero (the message a category's
// numbers get).
const msgNotNegative = marketinput.MsgNotNegative

// decodeVehicleType reads the vehicle type form: name and the three
// capacities required; image an http(s) URL or blank; delivery_categories a
// list of category ids.
func decodeVehicleType(b input.Body) account.VehicleTypeInput {
	f := apperr.Fields{}
	var in account.VehicleTypeInput
	if v, ok := b.String("name", f, input.StringOpts{Required: true, MaxLen: maxTypeName}); ok && v != nil {
		in.Name = *v
	}
	if v, ok := b.String("description", f, input.StringOpts{AllowBlank: true}); ok {
		in.Description = v
	}
	for _, c := range []struct {
		key string
		dst *decimal.Decimal
	}{{"max_weight_capacity_kg", &in.MaxWeightKg}, {"max_volume_capacity_liters", &in.MaxVolumeLiters}} {
		d, ok := b.Decimal(c.key, f, capacityDigits, capacityPlaces, true, false)
		switch {
		case !ok || d == nil:
		case d.IsNegative():
			f.Add(c.key, msgNotNegative)
		default:
			*c.dst = *d
		}
	}
	if v, ok := b.IntIn("passenger_capacity", f, input.IntOpts{Required: true, Min: 0, Max: input.MaxInt32}); ok && v != nil {
		in.PassengerCapacity = int(*v)
	}
	if v, ok := b.String("image", f, input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: maxImageURL}); ok {
		in.Image = optional.FromPtr(v)
		if v != nil && *v != "" && !isWebURL(*v) {
			f.Add("image", "Introduzca una URL válida.")
		}
	}
	if v, ok := b.Bool("is_active", f, false); ok {
		in.IsActive = &v
	}
	if ids, ok := b.StringList("delivery_categories", f); ok {
		in.SetCategories = true
		for _, s := range ids {
			id, err := uuid.Parse(strings.TrimSpace(s))
			if err != nil {
				f.Add("delivery_categories", apperr.MsgNoObject(s))
				continue
			}
			in.Categories = append(in.Categories, id)
		}
	}
	in.Invalid = f
	return in
}

// isWebURL tells whether s is an absolute http or https URL.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
