package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// actor is a user with a token; the first request creates its row.
type actor struct {
	ID  string
	Tok string
}

func newActor(t *testing.T, w *testutil.Web, id string) actor {
	t.Helper()
	a := actor{ID: id, Tok: w.Token(t, id)}
	if res := w.Do(t, "GET", "/deliveries/api/categories/", a.Tok, nil); res.Status != 200 {
		t.Fatalf("first sight of %s: %d %s", id, res.Status, res.Body)
	}
	return a
}

// addVehicle registers a vehicle of the named type for userID and makes it current.
func addVehicle(t *testing.T, w *testutil.Web, userID, typeName string, verified bool) uuid.UUID {
	t.Helper()
	var vt store.VehicleType
	if err := w.Store.DB.Where("name = ?", typeName).Take(&vt).Error; err != nil {
		t.Fatalf("vehicle type %s: %v", typeName, err)
	}
	now := store.Now()
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")
	v := store.Vehicle{VehicleID: uuid.New(), UserID: userID, TypeID: vt.ID, Brand: "Bajaj", Model: "Boxer", Year: 2021,
		LicensePlate: strings.ToUpper(suffix[:6]), VIN: strings.ToUpper(suffix[:17]), Color: "Negro",
		DriverLicenseStatus: "pending", RegistrationCardStatus: "pending", InsurancePolicyStatus: "pending",
		CriminalRecordStatus: "pending", IsVerified: verified, CreatedAt: now, UpdatedAt: now}
	if err := w.Store.DB.Omit("Type").Create(&v).Error; err != nil {
		t.Fatalf("create vehicle: %v", err)
	}
	if err := w.Store.DB.Model(&store.User{}).Where("userid = ?", userID).Update("current_vehicle_id", v.VehicleID).Error; err != nil {
		t.Fatalf("set current vehicle: %v", err)
	}
	return v.VehicleID
}

func categoryID(t *testing.T, w *testutil.Web, name string) string {
	t.Helper()
	var c store.Category
	if err := w.Store.DB.Where("name = ?", name).Take(&c).Error; err != nil {
		t.Fatalf("category %s: %v", name, err)
	}
	return c.ID.String()
}

func marketVehicleTypeID(t *testing.T, w *testutil.Web, name string) string {
	t.Helper()
	var vt store.VehicleType
	if err := w.Store.DB.Where("name = ?", name).Take(&vt).Error; err != nil {
		t.Fatalf("vehicle type %s: %v", name, err)
	}
	return vt.ID.String()
}

// quoteBody is what the frontend sends (examples.md §3), with overrides.
func quoteBody(t *testing.T, w *testutil.Web, client actor, over map[string]any) map[string]any {
	b := map[string]any{
		"client_id":        client.ID,
		"category_id":      categoryID(t, w, "Paquetes"),
		"client_price":     12000,
		"payment_method":   "efectivo",
		"pickup_address":   "Carrera 33 # 42-18, Cabecera del Llano, Bucaramanga",
		"delivery_address": "Calle 56 # 17A-23, Ricaurte, Bucaramanga",
		"description":      "Caja mediana con repuestos de licuadora",
		"observations":     []string{"Frágil", "Llamar al llegar"},
		"vehicle_type_id":  marketVehicleTypeID(t, w, "Moto"),
		"estimated_weight": 3.5,
		"estimated_size":   "Mediano",
	}
	for k, v := range over {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

// mustStatus fails unless res has the status; it returns the decoded object.
func mustStatus(t *testing.T, res *testutil.Response, status int) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if len(res.Body) == 0 || res.Body[0] != '{' {
		return nil
	}
	return res.Map(t)
}

func createQuote(t *testing.T, w *testutil.Web, client actor, over map[string]any) string {
	t.Helper()
	m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, over)), 201)
	return m["id"].(string)
}

func makeOffer(t *testing.T, w *testutil.Web, driver actor, quoteID string, price any, want int) map[string]any {
	t.Helper()
	body := map[string]any{"delivery_person_id": driver.ID, "quote_id": quoteID, "proposed_price": price}
	return mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+quoteID+"/offers/", driver.Tok, body), want)
}

// frame is one published frame, decoded.
type frame struct {
	Group string
	Type  string
	Data  map[string]any
	Raw   map[string]any
}

func decodeFrames(t *testing.T, msgs []realtime.Message) []frame {
	t.Helper()
	out := make([]frame, len(msgs))
	for i, m := range msgs {
		var raw map[string]any
		if err := json.Unmarshal(m.Payload, &raw); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if raw["type"] != m.Type {
			t.Fatalf("frame %d: payload type %v, message type %s", i, raw["type"], m.Type)
		}
		data, _ := raw["data"].(map[string]any)
		out[i] = frame{Group: m.Group, Type: m.Type, Data: data, Raw: raw}
	}
	return out
}

// want is an expected frame: type → group, with the id inside data.
type want struct {
	Type, Group, ID string
	CanAccept       *bool
}

func bp(b bool) *bool { return &b }

func expectFrames(t *testing.T, got []frame, wants []want) {
	t.Helper()
	var lines []string
	for _, f := range got {
		lines = append(lines, fmt.Sprintf("%s → %s", f.Type, f.Group))
	}
	if len(got) != len(wants) {
		t.Fatalf("%d frames, want %d:\n%s", len(got), len(wants), strings.Join(lines, "\n"))
	}
	for i, w := range wants {
		f := got[i]
		if f.Type != w.Type || f.Group != w.Group {
			t.Fatalf("frame %d is %s → %s, want %s → %s\nall:\n%s", i, f.Type, f.Group, w.Type, w.Group, strings.Join(lines, "\n"))
		}
		if w.ID != "" && f.Data["id"] != w.ID {
			t.Fatalf("frame %d (%s → %s): data.id %v, want %s", i, f.Type, f.Group, f.Data["id"], w.ID)
		}
		if w.CanAccept != nil && f.Data["can_accept"] != *w.CanAccept {
			t.Fatalf("frame %d (%s → %s): can_accept %v, want %v", i, f.Type, f.Group, f.Data["can_accept"], *w.CanAccept)
		}
	}
}
