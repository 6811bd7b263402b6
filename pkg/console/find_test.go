package console_test

import (
	"reflect"
	"testing"
	"time"

	"hermez/pkg/console"
	"hermez/pkg/store"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Jorge Patiño": "jorge patino", "JOSÉ ÁLVAREZ": "jose alvarez", "Güiza": "guiza", "user_diana": "user diana",
		"ana.lopez@example.com": "ana lopez example com", "Ñandú": "nandu", "Øre": "Øre", "": "",
	} {
		if got := console.Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// people is a data set for search: accents in the rows and in the queries.
func people(t *testing.T) *fixture {
	f := newFixture(t)
	h := func(n int) time.Time { return t0.Add(-time.Duration(n) * time.Hour) }
	f.user(store.User{UserID: "user_jorge", FirstName: ptr("Jorge"), LastName: ptr("Patiño"), Username: ptr("jpatino"),
		Email: ptr("jorge.patino@correo.co"), Phone: ptr("3105550101"), CreatedAt: h(1)})
	f.user(store.User{UserID: "user_jorgep", FirstName: ptr("jorge"), LastName: ptr("patino"), Phone: ptr("3105550202"), CreatedAt: h(2)})
	f.user(store.User{UserID: "user_diana", Username: ptr("user_diana"), FirstName: ptr("Diana"), LastName: ptr("Ramírez"), CreatedAt: h(3)})
	f.user(store.User{UserID: "user_ana", FirstName: ptr("ANA"), LastName: ptr("Muñoz"), Email: ptr("ana@example.com"), CreatedAt: h(4)})
	f.user(store.User{UserID: "user_jose", FirstName: ptr("José"), LastName: ptr("Álvarez Güiza"), Username: ptr("JoseA"), CreatedAt: h(5)})
	f.user(store.User{UserID: "user_mariana", FirstName: ptr("Mariana"), Email: ptr("mariana@example.com"), CreatedAt: h(6)})
	return f
}

func TestSearchPeople(t *testing.T) {
	f := people(t)
	cases := []struct {
		q    string
		want []string
	}{
		{"Jorge Patiño", []string{"user_jorge", "user_jorgep"}},
		{"jorge patino", []string{"user_jorge", "user_jorgep"}},
		{"JORGE PATIÑO", []string{"user_jorge", "user_jorgep"}},
		{"patiño jorge", []string{"user_jorge", "user_jorgep"}}, // any order
		{"pati", []string{"user_jorge", "user_jorgep"}},         // a word's beginning
		{"Ana", []string{"user_ana"}},                           // not Diana, Mariana or user_diana
		{"ana", []string{"user_ana"}},
		{"diana", []string{"user_diana"}},
		{"user_diana", []string{"user_diana"}}, // the id
		{"ramirez", []string{"user_diana"}},
		{"RAMÍREZ", []string{"user_diana"}},
		{"jose alvarez", []string{"user_jose"}},
		{"José Álvarez", []string{"user_jose"}},
		{"guiza", []string{"user_jose"}},
		{"Güiza", []string{"user_jose"}},
		{"joseа", []string{}}, // a Cyrillic а: not folded, no match
		{"munoz", []string{"user_ana"}},
		{"jorge.patino@correo", []string{"user_jorge"}}, // email
		{"correo.co", []string{"user_jorge"}},
		{"example.com", []string{"user_ana", "user_mariana"}},
		{"310 555", []string{"user_jorge", "user_jorgep"}}, // phone digits, spaces ignored
		{"(310) 555-0101", []string{"user_jorge"}},
		{"5550202", []string{"user_jorgep"}},
		{"55", []string{}},      // under 3 digits: not a phone search
		{"jorge x", []string{}}, // every word must match
		{"  ", []string{"user_jorge", "user_jorgep", "user_diana", "user_ana", "user_jose", "user_mariana"}},
	}
	for _, c := range cases {
		us, l, err := f.svc.Users(ctx, console.UserFilter{Q: c.q})
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		if got := ids(us, func(u store.User) string { return u.UserID }); !reflect.DeepEqual(got, c.want) || l.Total != int64(len(c.want)) {
			t.Errorf("%q: got %v (total %d), want %v", c.q, got, l.Total, c.want)
		}
	}
}

// Deliveries and quotes are found by their people's names and phones.
func TestSearchByPeople(t *testing.T) {
	f := people(t)
	d1 := f.delivery(store.Delivery{ClientID: "user_jorge", DeliveryPersonID: ptr("user_diana")})
	d2 := f.delivery(store.Delivery{ClientID: "user_ana", DeliveryPersonID: ptr("user_jose"), CreatedAt: t0.Add(-2 * time.Minute)})
	q1 := f.quote(store.Quote{ClientID: "user_jorgep"})
	q2 := f.quote(store.Quote{ClientID: "user_mariana", PickupAddress: "Calle Ñuñoa 5", CreatedAt: t0.Add(-2 * time.Minute)})
	name := map[string]string{d1.ID.String(): "d1", d2.ID.String(): "d2", q1.ID.String(): "q1", q2.ID.String(): "q2"}
	cases := []struct {
		q          string
		deliveries []string
		quotes     []string
	}{
		{"jorge patiño", []string{"d1"}, []string{"q1"}},
		{"Ana", []string{"d2"}, []string{}}, // d1's driver is Diana
		{"diana", []string{"d1"}, []string{}},
		{"jose", []string{"d2"}, []string{}},
		{"310 555 0101", []string{"d1"}, []string{}},
		{"3105550202", []string{}, []string{"q1"}},
		{"nunoa", []string{}, []string{"q2"}},
		{d2.ID.String()[:8], []string{"d2"}, []string{}},
		{q2.ID.String()[:8], []string{}, []string{"q2"}},
		{d1.ID.String(), []string{"d1"}, []string{}},
	}
	for _, c := range cases {
		ds, _, err := f.svc.Deliveries(ctx, console.DeliveryFilter{Filter: console.Filter{Q: c.q}})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(ds, func(d store.Delivery) string { return name[d.ID.String()] }); !reflect.DeepEqual(got, c.deliveries) {
			t.Errorf("deliveries %q: got %v, want %v", c.q, got, c.deliveries)
		}
		qs, _, err := f.svc.Quotes(ctx, console.Filter{Q: c.q})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(qs, func(q store.Quote) string { return name[q.ID.String()] }); !reflect.DeepEqual(got, c.quotes) {
			t.Errorf("quotes %q: got %v, want %v", c.q, got, c.quotes)
		}
	}
}

func TestSortAndDates(t *testing.T) {
	f := people(t)
	day := func(d int) time.Time { return time.Date(2025, 12, d, 15, 0, 0, 0, time.UTC) }
	mk := func(price int64, status string, created time.Time) store.Delivery {
		d := f.delivery(store.Delivery{ClientID: "user_ana", Status: status, CreatedAt: created})
		f.must(f.st.DB.Model(&store.Delivery{}).Where("id = ?", d.ID).Update("final_price", price).Error)
		return d
	}
	a := mk(9000, store.DeliveryPaid, day(1))
	b := mk(27000, store.DeliveryCancelled, day(2))
	c := mk(15000, store.DeliveryAssigned, day(3))
	name := map[string]string{a.ID.String(): "a", b.ID.String(): "b", c.ID.String(): "c"}
	list := func(f2 console.DeliveryFilter) []string {
		ds, l, err := f.svc.Deliveries(ctx, f2)
		if err != nil {
			t.Fatal(err)
		}
		if l.Total != int64(len(ds)) {
			t.Errorf("total %d for %d rows", l.Total, len(ds))
		}
		return ids(ds, func(d store.Delivery) string { return name[d.ID.String()] })
	}
	at := func(d int) *time.Time { v := day(d).Add(-15 * time.Hour); return &v }
	cases := []struct {
		name string
		f    console.DeliveryFilter
		want []string
	}{
		{"default newest first", console.DeliveryFilter{}, []string{"c", "b", "a"}},
		// 27000 > 15000 > 9000: numbers, not text ("9000" > "27000" as text)
		{"price descending", console.DeliveryFilter{Filter: console.Filter{Sort: console.Sort{Key: "precio"}}}, []string{"b", "c", "a"}},
		{"price ascending", console.DeliveryFilter{Filter: console.Filter{Sort: console.Sort{Key: "precio", Asc: true}}}, []string{"a", "c", "b"}},
		{"status ascending", console.DeliveryFilter{Filter: console.Filter{Sort: console.Sort{Key: "estado", Asc: true}}}, []string{"c", "b", "a"}},
		{"unknown key is the default", console.DeliveryFilter{Filter: console.Filter{Sort: console.Sort{Key: "x; DROP", Asc: true}}}, []string{"c", "b", "a"}},
		{"from day 2", console.DeliveryFilter{Filter: console.Filter{Dates: console.Range{From: at(2)}}}, []string{"c", "b"}},
		{"day 2 only", console.DeliveryFilter{Filter: console.Filter{Dates: console.Range{From: at(2), To: at(3)}}}, []string{"b"}},
		{"active", console.DeliveryFilter{Active: true}, []string{"c"}},
	}
	for _, cs := range cases {
		if got := list(cs.f); !reflect.DeepEqual(got, cs.want) {
			t.Errorf("%s: got %v, want %v", cs.name, got, cs.want)
		}
	}
	// Users by name, folded: Álvarez sorts as alvarez.
	us, _, err := f.svc.Users(ctx, console.UserFilter{Sort: console.Sort{Key: "nombre", Asc: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user_ana", "user_diana", "user_jorge", "user_jorgep", "user_jose", "user_mariana"}
	if got := ids(us, func(u store.User) string { return u.UserID }); !reflect.DeepEqual(got, want) {
		t.Errorf("users by name: got %v, want %v", got, want)
	}
}
