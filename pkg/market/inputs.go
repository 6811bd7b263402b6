package market

import (
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/optional"
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
//
// A field that may be left out is an optional.Field: not Set, it keeps its
// value (an update) or its default (a creation); a nullable text sent blank
// arrives Null.

// QuoteInput is a quote as its client writes it: the body of POST (every
// field not Set keeps its default), PUT and PATCH (only the Set fields change).
type QuoteInput struct {
	// ClientID is client_id as sent ("" when absent or null): tolerated only
	// when it names the caller (else 403, before anything else).
	ClientID        string
	PickupAddress   optional.Field[string]
	DeliveryAddress optional.Field[string]
	PaymentMethod   optional.Field[string] // one of PaymentMethods
	CategoryID      optional.Field[uuid.UUID]
	VehicleTypeID   optional.Field[uuid.UUID] // Null: no vehicle type
	Description     optional.Field[string]    // Null: none
	Observations    optional.Field[[]string]  // Null: none (an empty list)
	EstimatedWeight optional.Field[decimal.Decimal]
	EstimatedSize   optional.Field[string]
	ClientPrice     optional.Field[decimal.Decimal]
	// The pickup and delivery points (place.md §1), range-checked and
	// rounded by the decoder: not Set keeps the column, Null clears it. The
	// service checks each pair's rule on the resulting row.
	PickupLatitude, PickupLongitude     optional.Field[float64]
	DeliveryLatitude, DeliveryLongitude optional.Field[float64]
	// AutoAcceptLowest switches the automatic accept of the lowest offer
	// (place.md §7); not Set keeps it.
	AutoAcceptLowest optional.Field[bool]
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
	ProposedPrice optional.Field[decimal.Decimal]
	// EstimatedDeliveryTime is in microseconds; Null clears it, not Set keeps
	// an updated offer's.
	EstimatedDeliveryTime optional.Field[int64]
	// VehicleID is the vehicle named (nil: the offer's own, else the driver's current one).
	VehicleID *uuid.UUID
	// Invalid are the errors found while decoding; the service adds its own
	// and answers one 400 with all of them, as DRF does.
	Invalid apperr.Fields
}

// CategoryInput is a delivery category as staff write it (API or console).
type CategoryInput struct {
	Name        optional.Field[string]
	Description optional.Field[string] // Null: empty
	IsActive    optional.Field[bool]
	// Invalid are the errors found while decoding; the service answers them
	// (after the 404 of an unknown category) as one 400.
	Invalid apperr.Fields
}
