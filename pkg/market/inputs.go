package market

import (
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
)

// The typed inputs of the marketplace's changes. The adapters (pkg/marketinput
// for the API's JSON bodies and the console's forms) build them: they check
// what a field's type says (format, required, length, choices, range) and
// record what fails in Invalid; the services check the marketplace's rules
// (the Msg… messages) and the references that need the database.
//
// Invalid is never answered on its own by the adapter: the service adds its
// own field errors (an unknown category, a price that is not positive) and
// answers one 400 with all of them, as DRF did — after the checks that come
// first (ownership: 403/404), exactly where the old single decode answered.

// Field is one field of an input that may be left out: Set when the body
// named it with a valid value, Null when that value was null (or, for a
// nullable text, blank). A field that is not Set is left as it is (an update)
// or at its default (a creation); a field sent with an invalid value is not
// Set either, and its message is in the input's Invalid.
type Field[T any] struct {
	Value T
	Set   bool
	Null  bool
}

// Value is a field sent with v.
func Value[T any](v T) Field[T] { return Field[T]{Value: v, Set: true} }

// Null is a field sent as null.
func Null[T any]() Field[T] { return Field[T]{Set: true, Null: true} }

// Ptr is the value sent, nil when null or not sent.
func (f Field[T]) Ptr() *T {
	if !f.Set || f.Null {
		return nil
	}
	v := f.Value
	return &v
}

// QuoteInput is a quote as its client writes it: the body of POST (every
// field not Set keeps its default), PUT and PATCH (only the Set fields change).
type QuoteInput struct {
	// ClientID is client_id as sent ("" when absent or null): tolerated only
	// when it names the caller (else 403, before anything else).
	ClientID        string
	PickupAddress   Field[string]
	DeliveryAddress Field[string]
	PaymentMethod   Field[string] // one of PaymentMethods
	CategoryID      Field[uuid.UUID]
	VehicleTypeID   Field[uuid.UUID] // Null: no vehicle type
	Description     Field[string]    // Null: none
	Observations    Field[[]string]  // Null: none (an empty list)
	EstimatedWeight Field[decimal.Decimal]
	EstimatedSize   Field[string]
	ClientPrice     Field[decimal.Decimal]
	// Invalid are the errors found while decoding; the service adds its own
	// and answers one 400 with all of them, as DRF does.
	Invalid apperr.Fields
}

// OfferInput is a driver's offer on a quote (POST …/quotes/{id}/offers/).
type OfferInput struct {
	// DriverID is delivery_person_id as sent ("" when absent or null):
	// tolerated only when it names the caller (else 403, before anything else).
	DriverID string
	// QuoteID is quote_id as sent (nil when absent or null): it must be the
	// quote of the route.
	QuoteID       *uuid.UUID
	ProposedPrice Field[decimal.Decimal]
	// EstimatedDeliveryTime is in microseconds; Null clears it, not Set keeps
	// an updated offer's.
	EstimatedDeliveryTime Field[int64]
	// VehicleID is the vehicle named (nil: the offer's own, else the driver's current one).
	VehicleID *uuid.UUID
	// Invalid are the errors found while decoding; the service adds its own
	// and answers one 400 with all of them, as DRF does.
	Invalid apperr.Fields
}

// CategoryInput is a delivery category as staff write it (API or console).
type CategoryInput struct {
	Name        Field[string]
	Description Field[string] // Null: empty
	IsActive    Field[bool]
	// Invalid are the errors found while decoding; the service answers them
	// (after the 404 of an unknown category) as one 400.
	Invalid apperr.Fields
}

// invalid is a copy of an input's decoding errors, for the service to add its own.
func invalid(f apperr.Fields) apperr.Fields {
	out := make(apperr.Fields, len(f))
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}
