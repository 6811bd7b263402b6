package httpapi

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/optional"
)

func ptr[T any](v T) *T { return &v }

// decode reads a JSON body the way the handlers do.
func decode(t *testing.T, body string) input.Body {
	t.Helper()
	b, err := input.Decode([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return b
}

// noneIfEmpty makes "no field errors" compare equal whether the map is nil or empty.
func noneIfEmpty(f apperr.Fields) apperr.Fields {
	if len(f) == 0 {
		return nil
	}
	return f
}

func TestDecodeAddress(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		create bool
		want   account.AddressInput
	}{
		{"create, every field", `{"name":" Casa ","description":"","type":"casa","address":"Calle 1","city":"Cali","is_favorite":true,"userId":"user_other"}`, true,
			account.AddressInput{Name: ptr("Casa"), Description: ptr(""), Type: ptr("casa"), Address: ptr("Calle 1"), City: ptr("Cali"), IsFavorite: ptr(true)}},
		{"create, nothing sent", `{}`, true, account.AddressInput{Invalid: apperr.Fields{
			"name": {input.MsgRequired}, "type": {input.MsgRequired}, "address": {input.MsgRequired}, "city": {input.MsgRequired}}}},
		{"update, only what is sent; isFavorite as a string", `{"city":"Bogotá","isFavorite":"false"}`, false,
			account.AddressInput{City: ptr("Bogotá"), IsFavorite: ptr(false)}},
		{"update, null, bad choice, too long, not a boolean", `{"name":null,"type":"castillo","city":"` + strings.Repeat("c", 51) + `","is_favorite":"tal vez"}`, false,
			account.AddressInput{Invalid: apperr.Fields{"name": {input.MsgNull}, "type": {`"castillo" no es una elección válida.`},
				"city": {"Asegúrese de que este campo no tenga más de 50 caracteres."}, "is_favorite": {input.MsgBool}}}},
		{"update, blank name", `{"name":"  "}`, false, account.AddressInput{Invalid: apperr.Fields{"name": {input.MsgBlank}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeAddress(decode(t, c.body), c.create)
			got.Invalid = noneIfEmpty(got.Invalid)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestDecodeRating(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		create bool
		want   account.RatingInput
	}{
		{"create", `{"ratee_id":"user_b","rating":"7","comment":null}`, true,
			account.RatingInput{RateeID: "user_b", Rating: ptr(7), Comment: optional.Null[string]()}},
		{"create, nothing sent", `{}`, true,
			account.RatingInput{Invalid: apperr.Fields{"ratee_id": {input.MsgRequired}, "rating": {input.MsgRequired}}}},
		{"update ignores ratee_id; out of range", `{"ratee_id":"user_c","rating":11}`, false,
			account.RatingInput{Invalid: apperr.Fields{"rating": {msgRatingRange}}}},
		{"update, a blank comment is kept", `{"comment":""}`, false, account.RatingInput{Comment: optional.Value("")}},
		{"update, nothing sent", `{}`, false, account.RatingInput{}},
		{"not an integer, comment too long", `{"rating":2.5,"comment":"` + strings.Repeat("x", account.MaxCommentLength+1) + `"}`, false,
			account.RatingInput{Invalid: apperr.Fields{"rating": {input.MsgInteger},
				"comment": {"Asegúrese de que este campo no tenga más de 1000 caracteres."}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeRating(decode(t, c.body), c.create)
			got.Invalid = noneIfEmpty(got.Invalid)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestDecodeProfilePatch(t *testing.T) {
	vid := uuid.MustParse("0b7e4f0e-3f4a-4c36-9d55-2a3c1f0e9b11")
	cases := []struct {
		name string
		body string
		want account.ProfilePatch
	}{
		{"nothing sent", `{"email":"x@example.com","is_staff":true}`, account.ProfilePatch{}},
		{"values", `{"username":"ana","first_name":"","gender":"female","phone":"3001234567","role":"delivery","age":"30","is_online":"true","is_available":0,"current_vehicle_id":"` + vid.String() + `"}`,
			account.ProfilePatch{Username: optional.Value("ana"), FirstName: optional.Value(""), Gender: optional.Value("female"),
				Phone: optional.Value("3001234567"), Role: optional.Value("delivery"), Age: optional.Value(30),
				IsOnline: ptr(true), IsAvailable: ptr(false), CurrentVehicleID: optional.Value(vid)}},
		{"nulls clear; a blank username is null", `{"username":"","last_name":null,"age":null,"current_vehicle_id":null}`,
			account.ProfilePatch{Username: optional.Null[string](), LastName: optional.Null[string](),
				Age: optional.Null[int](), CurrentVehicleID: optional.Null[uuid.UUID]()}},
		{"format errors", `{"gender":"x","phone":"12345678901","age":151,"is_online":"quizá","current_vehicle_id":"nope"}`,
			account.ProfilePatch{Invalid: apperr.Fields{"gender": {`"x" no es una elección válida.`},
				"phone": {"Asegúrese de que este campo no tenga más de 10 caracteres."}, "age": {input.MsgMax(account.MaxAge)},
				"is_online": {input.MsgBool}, "current_vehicle_id": {input.MsgUUID}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeProfilePatch(decode(t, c.body))
			got.Invalid = noneIfEmpty(got.Invalid)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// fieldsOf is the field errors of err (nil when err is nil).
func fieldsOf(t *testing.T, err error) apperr.Fields {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		t.Fatalf("want a 400 field error, got %v", err)
	}
	return e.Fields
}

func TestDecodeAvailability(t *testing.T) {
	cases := []struct {
		body    string
		want    *bool
		invalid apperr.Fields
	}{
		{`{}`, nil, nil},
		{`{"is_available":false}`, ptr(false), nil},
		{`{"is_available":"true"}`, ptr(true), nil},
		{`{"is_available":"tal vez"}`, nil, apperr.Fields{"is_available": {input.MsgBool}}},
	}
	for _, c := range cases {
		got, err := decodeAvailability(decode(t, c.body))
		if f := fieldsOf(t, err); !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(f, c.invalid) {
			t.Errorf("%s: got %v %v, want %v %v", c.body, got, f, c.want, c.invalid)
		}
	}
}

func TestDecodeVehicleChoice(t *testing.T) {
	vid := uuid.MustParse("0b7e4f0e-3f4a-4c36-9d55-2a3c1f0e9b11")
	cases := []struct {
		body    string
		want    uuid.UUID
		invalid apperr.Fields
	}{
		{`{"vehicle_id":"` + vid.String() + `"}`, vid, nil},
		{`{"vehicleId":"` + vid.String() + `"}`, vid, nil},
		{`{"vehicle_id":"` + vid.String() + `","vehicleId":"nope"}`, vid, nil},
		{`{}`, uuid.Nil, apperr.Fields{"vehicle_id": {apperr.MsgRequired}}},
		{`{"vehicle_id":null}`, uuid.Nil, apperr.Fields{"vehicle_id": {apperr.MsgRequired}}},
		{`{"vehicleId":"nope"}`, uuid.Nil, apperr.Fields{"vehicleId": {input.MsgUUID}}},
	}
	for _, c := range cases {
		got, err := decodeVehicleChoice(decode(t, c.body))
		if f := fieldsOf(t, err); got != c.want || !reflect.DeepEqual(f, c.invalid) {
			t.Errorf("%s: got %v %v, want %v %v", c.body, got, f, c.want, c.invalid)
		}
	}
}

func TestDecodeVehicle(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) // next year: 2027
	tid := uuid.MustParse("5d0c2b1a-6e3f-4a8b-9c7d-1e2f3a4b5c6d")
	full := `{"type_id":"` + tid.String() + `","brand":"Bajaj","model":"Boxer","color":"","plate":"abc12d","vin":"vin0001","year":2027,"isVerified":true,"userId":"user_other"}`
	cases := []struct {
		name   string
		body   string
		create bool
		want   account.VehicleInput
	}{
		{"create; plate under an alias, verification fields ignored", full, true,
			account.VehicleInput{TypeID: &tid, Brand: ptr("Bajaj"), Model: ptr("Boxer"), Color: ptr(""), LicensePlate: ptr("abc12d"), VIN: ptr("vin0001"), Year: ptr(2027)}},
		{"create, nothing sent", `{}`, true, account.VehicleInput{Invalid: apperr.Fields{
			"type_id": {input.MsgRequired}, "brand": {input.MsgRequired}, "model": {input.MsgRequired},
			"licensePlate": {input.MsgRequired}, "vin": {input.MsgRequired}, "year": {input.MsgRequired}}}},
		{"update, the first plate key wins", `{"licensePlate":"XYZ1","license_plate":"nope"}`, false, account.VehicleInput{LicensePlate: ptr("XYZ1")}},
		{"update, year after next year, bad type id", `{"year":"2028","type_id":"moto"}`, false,
			account.VehicleInput{Invalid: apperr.Fields{"year": {"El año debe estar entre 1900 y 2027."}, "type_id": {input.MsgUUID}}}},
		{"update, year before 1900, plate too long, blank brand", `{"year":1899,"license_plate":"` + strings.Repeat("P", 21) + `","brand":""}`, false,
			account.VehicleInput{Invalid: apperr.Fields{"year": {"El año debe estar entre 1900 y 2027."},
				"license_plate": {"Asegúrese de que este campo no tenga más de 20 caracteres."}, "brand": {input.MsgBlank}}}},
		{"update, nothing sent", `{}`, false, account.VehicleInput{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeVehicle(decode(t, c.body), c.create, now)
			got.Invalid = noneIfEmpty(got.Invalid)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}
