package consoleweb

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/optional"
)

func ptr[T any](v T) *T { return &v }

// noneIfEmpty makes "no field errors" compare equal whether the map is nil or empty.
func noneIfEmpty(f apperr.Fields) apperr.Fields {
	if len(f) == 0 {
		return nil
	}
	return f
}

func TestDecodeVerification(t *testing.T) {
	approved := map[string]string{"driverLicenseStatus": "approved", "registrationCardStatus": "approved",
		"insurancePolicyStatus": "approved", "criminalRecordStatus": "approved"}
	with := func(extra map[string]string, drop ...string) map[string]string {
		out := map[string]string{}
		for k, v := range approved {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		for _, k := range drop {
			delete(out, k)
		}
		return out
	}
	cases := []struct {
		name string
		form map[string]string
		want account.VehicleVerification
	}{
		{"every document approved, verified, notes trimmed", with(map[string]string{"isVerified": "true", "verificationNotes": "  Todo en orden  "}),
			account.VehicleVerification{Statuses: approved, Verified: ptr(true), Notes: optional.Value("Todo en orden")}},
		{"a rejected document, not verified, blank notes", with(map[string]string{"registrationCardStatus": "rejected", "isVerified": "false", "verificationNotes": ""}),
			account.VehicleVerification{Statuses: with(map[string]string{"registrationCardStatus": "rejected"}), Verified: ptr(false), Notes: optional.Value("")}},
		{"missing document and checkbox", with(nil, "driverLicenseStatus"),
			account.VehicleVerification{Statuses: with(nil, "driverLicenseStatus"),
				Invalid: apperr.Fields{"driverLicenseStatus": {input.MsgRequired}, "isVerified": {input.MsgRequired}}}},
		{"bad choice, notes too long", with(map[string]string{"criminalRecordStatus": "ok", "isVerified": "false", "verificationNotes": strings.Repeat("x", 2001)}),
			account.VehicleVerification{Statuses: with(nil, "criminalRecordStatus"), Verified: ptr(false),
				Invalid: apperr.Fields{"criminalRecordStatus": {`"ok" no es una elección válida.`},
					"verificationNotes": {"Asegúrese de que este campo no tenga más de 2000 caracteres."}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeVerification(input.FromStrings(c.form))
			got.Invalid = noneIfEmpty(got.Invalid)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// vehicleType is a VehicleTypeInput with its decimals as text, to compare.
type vehicleType struct {
	account.VehicleTypeInput
	Kg, Liters string
}

func flat(in account.VehicleTypeInput) vehicleType {
	out := vehicleType{VehicleTypeInput: in, Kg: in.MaxWeightKg.String(), Liters: in.MaxVolumeLiters.String()}
	out.MaxWeightKg, out.MaxVolumeLiters = decimal.Decimal{}, decimal.Decimal{}
	out.Invalid = noneIfEmpty(in.Invalid)
	return out
}

func TestDecodeVehicleType(t *testing.T) {
	c1 := uuid.MustParse("0b7e4f0e-3f4a-4c36-9d55-2a3c1f0e9b11")
	c2 := uuid.MustParse("5d0c2b1a-6e3f-4a8b-9c7d-1e2f3a4b5c6d")
	good := map[string]string{"name": "Bicicleta", "description": "Cero emisiones", "max_weight_capacity_kg": "20.5",
		"max_volume_capacity_liters": "40", "passenger_capacity": "0", "image": "https://example.com/bici.png", "is_active": "true"}
	with := func(extra map[string]string, drop ...string) map[string]string {
		out := map[string]string{}
		for k, v := range good {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		for _, k := range drop {
			delete(out, k)
		}
		return out
	}
	const big = "18446744073709551621" // 2^64+5
	cases := []struct {
		name string
		form map[string]string
		cats []string // delivery_categories; nil: not sent
		want vehicleType
	}{
		{"every field", good, []string{c1.String(), " " + c2.String() + " "}, vehicleType{VehicleTypeInput: account.VehicleTypeInput{
			Name: "Bicicleta", Description: ptr("Cero emisiones"), PassengerCapacity: 0, Image: optional.Value("https://example.com/bici.png"),
			IsActive: ptr(true), Categories: []uuid.UUID{c1, c2}, SetCategories: true}, Kg: "20.5", Liters: "40"}},
		{"blank image, no categories sent, inactive", with(map[string]string{"image": "", "is_active": "false"}, "description"), nil,
			vehicleType{VehicleTypeInput: account.VehicleTypeInput{Name: "Bicicleta", Image: optional.Value(""), IsActive: ptr(false)}, Kg: "20.5", Liters: "40"}},
		{"an empty list of categories", good, []string{}, vehicleType{VehicleTypeInput: account.VehicleTypeInput{
			Name: "Bicicleta", Description: ptr("Cero emisiones"), Image: optional.Value("https://example.com/bici.png"),
			IsActive: ptr(true), SetCategories: true}, Kg: "20.5", Liters: "40"}},
		{"required", map[string]string{}, nil, vehicleType{VehicleTypeInput: account.VehicleTypeInput{Invalid: apperr.Fields{
			"name": {input.MsgRequired}, "max_weight_capacity_kg": {input.MsgRequired}, "max_volume_capacity_liters": {input.MsgRequired},
			"passenger_capacity": {input.MsgRequired}}}, Kg: "0", Liters: "0"}},
		{"formats", with(map[string]string{"max_weight_capacity_kg": "-1", "max_volume_capacity_liters": "abc", "passenger_capacity": "1.5", "image": "ftp://x"}),
			[]string{"not-a-uuid", c1.String()}, vehicleType{VehicleTypeInput: account.VehicleTypeInput{
				Name: "Bicicleta", Description: ptr("Cero emisiones"), Image: optional.Value("ftp://x"), IsActive: ptr(true),
				Categories: []uuid.UUID{c1}, SetCategories: true, Invalid: apperr.Fields{
					"max_weight_capacity_kg": {msgNotNegative}, "max_volume_capacity_liters": {input.MsgNumber},
					"passenger_capacity": {input.MsgInteger}, "image": {"Introduzca una URL válida."},
					"delivery_categories": {`Clave primaria "not-a-uuid" inválida - objeto no existe.`}}}, Kg: "0", Liters: "0"}},
		// Issue 12 §2: the integer and numeric(10,2) columns refuse what does not fit.
		{"out of range", with(map[string]string{"passenger_capacity": big, "max_weight_capacity_kg": "123456789012", "max_volume_capacity_liters": "1e5"}),
			nil, vehicleType{VehicleTypeInput: account.VehicleTypeInput{
				Name: "Bicicleta", Description: ptr("Cero emisiones"), Image: optional.Value("https://example.com/bici.png"), IsActive: ptr(true),
				Invalid: apperr.Fields{"passenger_capacity": {input.MsgMax(input.MaxInt32)},
					"max_weight_capacity_kg":     {"Asegúrese de que no haya más de 10 dígitos en total."},
					"max_volume_capacity_liters": {input.MsgNumber}}}, Kg: "0", Liters: "0"}},
		{"too many decimals, name too long", with(map[string]string{"max_weight_capacity_kg": "1.234", "name": strings.Repeat("n", 101)}),
			nil, vehicleType{VehicleTypeInput: account.VehicleTypeInput{
				Description: ptr("Cero emisiones"), Image: optional.Value("https://example.com/bici.png"), IsActive: ptr(true),
				Invalid: apperr.Fields{"max_weight_capacity_kg": {"Asegúrese de que no haya más de 2 decimales."},
					"name": {"Asegúrese de que este campo no tenga más de 100 caracteres."}}}, Kg: "0", Liters: "40"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := input.FromStrings(c.form)
			if c.cats != nil {
				b.Set("delivery_categories", c.cats)
			}
			got := flat(decodeVehicleType(b))
			c.want.Invalid = noneIfEmpty(c.want.Invalid)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}
