package account

import (
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/optional"
)

// The service's typed inputs. The adapters (pkg/httpapi for the API,
// pkg/consoleweb for the console) decode request bodies and forms into them: types,
// formats, required fields, lengths and choices are checked there, with
// pkg/input. What needs the database (a vehicle type that exists, a plate
// nobody else has, a name not taken) or spans the service's rules (every
// document approved before a vehicle is verified) is checked here.
//
// Each input carries Invalid: the errors found while decoding. The service
// adds its own and answers one 400 with all of them, as DRF does, at the
// point where the old serializer validated (after a 404 or 403 on the row, for
// an update). A field named in Invalid holds its zero value.
//
// A field that may be sent as null to clear its column is an optional.Field:
// not Set, the column keeps its value.

// AddressInput is an address as sent: on create Name, Type, Address and City
// are required; on update a nil field keeps its value. userId in a body is
// never read (the owner is the caller).
//
// Latitude and Longitude are the address's point (place.md §1), already
// range-checked and rounded by the decoder: not Set keeps the column, Null
// clears it; the service checks the pair rule on the resulting row.
type AddressInput struct {
	Name, Description, Type, Address, City *string
	IsFavorite                             *bool
	Latitude, Longitude                    optional.Field[float64]
	Invalid                                apperr.Fields
}

// RatingInput is a rating as sent. RateeID is read on create only (required);
// Rating is required on create, and on update nil keeps it; Comment may be
// sent as null to clear it.
type RatingInput struct {
	RateeID string
	Rating  *int
	Comment optional.Field[string]
	Invalid apperr.Fields
}

// ProfilePatch is a partial update of the caller's profile: only the fields
// Set are written (null clears a column). Anything else in a body is ignored.
type ProfilePatch struct {
	Username, FirstName, LastName, Gender, Phone, Role optional.Field[string]
	Age                                                optional.Field[int]
	IsOnline, IsAvailable                              *bool
	// CurrentVehicleID must be one of the caller's vehicles (null clears it).
	CurrentVehicleID optional.Field[uuid.UUID]
	Invalid          apperr.Fields
}

// VehicleInput is a vehicle as its owner sends it: on create every field but
// Color is required; on update a nil field keeps its value. The verification
// fields are the staff's (VehicleVerification) and never read from an owner.
type VehicleInput struct {
	TypeID                                 *uuid.UUID
	Brand, Model, Color, LicensePlate, VIN *string
	Year                                   *int
	Invalid                                apperr.Fields
}

// VehicleVerification is the staff's verdict on a vehicle: the four document
// statuses (by DocumentFields key; a key is missing only when Invalid names
// it), whether it is verified, and notes (blank or null clear them).
type VehicleVerification struct {
	Statuses map[string]string
	Verified *bool
	Notes    optional.Field[string]
	Invalid  apperr.Fields
}

// VehicleTypeInput is a vehicle type as the staff saves it (create and edit
// alike): Name, the capacities are always required. Description, Image and
// IsActive keep their value when not sent (a new type: "", none, active);
// Categories replace the type's links when SetCategories (always on create).
type VehicleTypeInput struct {
	Name                         string
	Description                  *string
	MaxWeightKg, MaxVolumeLiters decimal.Decimal
	PassengerCapacity            int
	Image                        optional.Field[string]
	IsActive                     *bool
	Categories                   []uuid.UUID
	SetCategories                bool
	Invalid                      apperr.Fields
}
