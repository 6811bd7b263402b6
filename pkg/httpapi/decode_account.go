package httpapi

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/optional"
)

// Decoders of the users API's bodies into account's typed inputs: types,
// formats, required fields, lengths and choices, as DRF's serializers checked
// them (docs/api.md "Users"). Their field errors travel in the input's Invalid;
// the service adds what needs the database and answers one 400.

// str reads a string field; nil when not sent, sent as null, or invalid.
func str(b input.Body, f apperr.Fields, key string, o input.StringOpts) *string {
	if v, ok := b.String(key, f, o); ok {
		return v
	}
	return nil
}

// optStr reads a string field of a partial update: not sent, null or a value.
func optStr(b input.Body, f apperr.Fields, key string, o input.StringOpts) optional.Field[string] {
	if v, ok := b.String(key, f, o); ok {
		return optional.FromPtr(v)
	}
	return optional.Field[string]{}
}

// intIn reads an integer field; nil when not sent or invalid.
func intIn(b input.Body, f apperr.Fields, key string, o input.IntOpts) *int {
	if v, ok := b.IntIn(key, f, o); ok && v != nil {
		n := int(*v)
		return &n
	}
	return nil
}

// boolean reads a boolean field; nil when not sent or invalid.
func boolean(b input.Body, f apperr.Fields, key string) *bool {
	if v, ok := b.Bool(key, f, false); ok {
		return &v
	}
	return nil
}

// decodeAddress reads an address (POST: name, type, address and city
// required; PUT/PATCH: the fields sent). isFavorite is also read as is_favorite.
// latitude and longitude are optional and nullable on every method.
func decodeAddress(b input.Body, create bool) account.AddressInput {
	f := apperr.Fields{}
	in := account.AddressInput{
		Name:        str(b, f, "name", input.StringOpts{Required: create, MaxLen: 100}),
		Description: str(b, f, "description", input.StringOpts{AllowBlank: true, MaxLen: 255}),
		Type:        str(b, f, "type", input.StringOpts{Required: create, Choices: account.AddressTypes}),
		Address:     str(b, f, "address", input.StringOpts{Required: create, MaxLen: 100}),
		City:        str(b, f, "city", input.StringOpts{Required: create, MaxLen: 50}),
	}
	if key := b.First("isFavorite", "is_favorite"); key != "" {
		in.IsFavorite = boolean(b, f, key)
	}
	in.Latitude = b.Coordinate("latitude", f, input.Latitude)
	in.Longitude = b.Coordinate("longitude", f, input.Longitude)
	in.Invalid = f
	return in
}

// msgRatingRange is the message of a rating outside its bounds.
const msgRatingRange = "La calificación debe estar entre 0 y 10."

// decodeRating reads a rating (POST: ratee_id and rating required; PUT/PATCH:
// rating and comment as sent, ratee_id ignored).
func decodeRating(b input.Body, create bool) account.RatingInput {
	f := apperr.Fields{}
	var in account.RatingInput
	if create {
		if v := str(b, f, "ratee_id", input.StringOpts{Required: true}); v != nil {
			in.RateeID = *v
		}
	}
	in.Rating = intIn(b, f, "rating", input.IntOpts{Required: create, Min: account.MinRating, Max: account.MaxRating,
		RangeMsg: msgRatingRange})
	in.Comment = optStr(b, f, "comment", input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: account.MaxCommentLength})
	in.Invalid = f
	return in
}

// decodeProfilePatch reads a partial update of the caller's profile: the
// writable fields, each nullable; anything else is ignored.
func decodeProfilePatch(b input.Body) account.ProfilePatch {
	f := apperr.Fields{}
	p := account.ProfilePatch{
		Username:  optStr(b, f, "username", input.StringOpts{Nullable: true, MaxLen: 150}),
		FirstName: optStr(b, f, "first_name", input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: 150}),
		LastName:  optStr(b, f, "last_name", input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: 150}),
		Gender:    optStr(b, f, "gender", input.StringOpts{Nullable: true, Choices: account.Genders}),
		Phone:     optStr(b, f, "phone", input.StringOpts{Nullable: true, MaxLen: 10}),
		Role:      optStr(b, f, "role", input.StringOpts{Nullable: true, Choices: account.Roles}),
	}
	if v, ok := b.IntIn("age", f, input.IntOpts{Nullable: true, Min: 0, Max: account.MaxAge}); ok {
		p.Age = optional.Null[int]()
		if v != nil {
			p.Age = optional.Value(int(*v))
		}
	}
	p.IsOnline = boolean(b, f, "is_online")
	p.IsAvailable = boolean(b, f, "is_available")
	if v, ok := b.UUID("current_vehicle_id", f, false, true); ok {
		p.CurrentVehicleID = optional.FromPtr(v)
	}
	p.Invalid = f
	return p
}

// decodeAvailability reads {"is_available": bool}: nil when not sent (the
// service flips the flag).
func decodeAvailability(b input.Body) (*bool, error) {
	f := apperr.Fields{}
	v := boolean(b, f, "is_available")
	return v, f.Err()
}

// decodeVehicleChoice reads {"vehicle_id"} (or "vehicleId"): required.
func decodeVehicleChoice(b input.Body) (uuid.UUID, error) {
	key := b.First("vehicle_id", "vehicleId")
	if key == "" || b.IsNull(key) {
		return uuid.Nil, apperr.Field("vehicle_id", apperr.MsgRequired)
	}
	f := apperr.Fields{}
	id, _ := b.UUID(key, f, true, false)
	if err := f.Err(); err != nil {
		return uuid.Nil, err
	}
	return *id, nil
}

// plateKeys are the names a licence plate is sent under, first wins.
var plateKeys = []string{"licensePlate", "plate", "license_plate"}

// decodeVehicle reads a vehicle as its owner sends it (POST: all but color
// required; PUT/PATCH: the fields sent). The verification fields, vehicleId
// and userId are read-only and ignored. The year may be next year's at now.
func decodeVehicle(b input.Body, create bool, now time.Time) account.VehicleInput {
	f := apperr.Fields{}
	var in account.VehicleInput
	if id, ok := b.UUID("type_id", f, create, false); ok {
		in.TypeID = id
	}
	in.Brand = str(b, f, "brand", input.StringOpts{Required: create, MaxLen: 50})
	in.Model = str(b, f, "model", input.StringOpts{Required: create, MaxLen: 50})
	in.Color = str(b, f, "color", input.StringOpts{AllowBlank: true, MaxLen: 30})
	plateKey := b.First(plateKeys...)
	if plateKey == "" && create {
		f.Add("licensePlate", apperr.MsgRequired)
	} else if plateKey != "" {
		in.LicensePlate = str(b, f, plateKey, input.StringOpts{Required: create, MaxLen: 20})
	}
	in.VIN = str(b, f, "vin", input.StringOpts{Required: create, MaxLen: 17})
	maxYear := account.MaxVehicleYear(now)
	in.Year = intIn(b, f, "year", input.IntOpts{Required: create, Min: account.MinVehicleYear, Max: int64(maxYear),
		RangeMsg: fmt.Sprintf("El año debe estar entre %d y %d.", account.MinVehicleYear, maxYear)})
	in.Invalid = f
	return in
}
