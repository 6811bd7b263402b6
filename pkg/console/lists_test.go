package console_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"hermez/pkg/console"
	"hermez/pkg/store"
)

func ids[T any](rows []T, id func(T) string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, id(r))
	}
	return out
}

func TestOneOf(t *testing.T) {
	cases := []struct {
		v       string
		allowed []string
		want    string
	}{
		{"paid", console.DeliveryStatuses, "paid"},
		{"bogus", console.DeliveryStatuses, ""},
		{"PAID", console.DeliveryStatuses, ""}, // exact match only
		{"", []string{"efectivo", "nequi"}, ""},
		{"nequi", []string{"efectivo", "nequi"}, "nequi"},
		{"x", nil, ""},
	}
	for _, c := range cases {
		if got := console.OneOf(c.v, c.allowed...); got != c.want {
			t.Errorf("OneOf(%q, %v) = %q, want %q", c.v, c.allowed, got, c.want)
		}
	}
}

func TestVehicles(t *testing.T) {
	w := newWorld(t)
	vid := func(v store.Vehicle) string { return v.LicensePlate }
	cases := []struct {
		name string
		f    console.VehicleFilter
		want []string
	}{
		{"default is the pending queue, oldest first", console.VehicleFilter{}, []string{"ABC123", "XY_99"}},
		{"pending", console.VehicleFilter{State: console.VehiclesPending}, []string{"ABC123", "XY_99"}},
		{"unknown state through OneOf", console.VehicleFilter{State: console.OneOf("bogus",
			console.VehiclesPending, console.VehiclesVerified, console.VehiclesAll)}, []string{"ABC123", "XY_99"}},
		{"verified, last updated first", console.VehicleFilter{State: console.VehiclesVerified}, []string{"DEF456", "XYZ99"}},
		{"all, newest first", console.VehicleFilter{State: console.VehiclesAll}, []string{"XY_99", "ABC123", "XYZ99", "DEF456"}},
		{"plate, any case", console.VehicleFilter{State: console.VehiclesAll, Q: " abc "}, []string{"ABC123"}},
		{"brand", console.VehicleFilter{State: console.VehiclesAll, Q: "HONDA"}, []string{"XY_99"}},
		{"owner id", console.VehicleFilter{State: console.VehiclesAll, Q: "user_d1"}, []string{"ABC123", "DEF456"}},
		{"underscore is literal", console.VehicleFilter{State: console.VehiclesAll, Q: "Y_9"}, []string{"XY_99"}},
		{"search within state", console.VehicleFilter{State: console.VehiclesVerified, Q: "user_d1"}, []string{"DEF456"}},
		{"blank search is no search", console.VehicleFilter{State: console.VehiclesVerified, Q: "  "}, []string{"DEF456", "XYZ99"}},
		{"no match", console.VehicleFilter{State: console.VehiclesAll, Q: "nothing"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, l, err := w.svc.Vehicles(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			vs := make([]store.Vehicle, len(rows))
			for i, r := range rows {
				vs[i] = r.V
				if r.Owner == nil || r.Owner.UserID != r.V.UserID {
					t.Errorf("%s: owner %+v, want %s", r.V.LicensePlate, r.Owner, r.V.UserID)
				}
				if r.V.Type == nil || r.V.Type.ID != r.V.TypeID {
					t.Errorf("%s: type not loaded", r.V.LicensePlate)
				}
			}
			if got := ids(vs, vid); !reflect.DeepEqual(got, c.want) || l.More || l.Total != int64(len(c.want)) {
				t.Fatalf("got %v %+v, want %v (total %d, no more)", got, l, c.want, len(c.want))
			}
		})
	}
}

func TestUsers(t *testing.T) {
	w := newWorld(t)
	uid := func(u store.User) string { return u.UserID }
	cases := []struct {
		name string
		f    console.UserFilter
		want []string
	}{
		// Users lists deleted rows too (the console shows them marked).
		{"all, newest first", console.UserFilter{}, []string{"user_staff", "user_gone", "user_d2", "user_d1", "user_bea", "user_ana"}},
		{"drivers", console.UserFilter{Role: "delivery"}, []string{"user_gone", "user_d2", "user_d1"}},
		{"clients", console.UserFilter{Role: "client"}, []string{"user_bea", "user_ana"}},
		{"unknown role through OneOf", console.UserFilter{Role: console.OneOf("admin", "client", "delivery")},
			[]string{"user_staff", "user_gone", "user_d2", "user_d1", "user_bea", "user_ana"}},
		{"staff only", console.UserFilter{StaffOnly: true}, []string{"user_staff"}},
		{"first name, any case", console.UserFilter{Q: "BEATRIZ"}, []string{"user_bea"}},
		{"email", console.UserFilter{Q: "ana@example"}, []string{"user_ana"}},
		{"phone", console.UserFilter{Q: "300111"}, []string{"user_ana"}},
		{"search and role", console.UserFilter{Q: "user_d", Role: "delivery"}, []string{"user_d2", "user_d1"}},
		{"no match", console.UserFilter{Q: "zzz"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			us, l, err := w.svc.Users(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(us, uid); !reflect.DeepEqual(got, c.want) || l.More || l.Total != int64(len(c.want)) {
				t.Fatalf("got %v %+v, want %v (total %d, no more)", got, l, c.want, len(c.want))
			}
		})
	}
}

// The search text is matched literally: %, _ and \ are escaped for LIKE
// (and _ separates words, like a space).
func TestSearchEscapesLikeWildcards(t *testing.T) {
	f := newFixture(t)
	for i, name := range []string{"50%off", "500ff", "a_b", "axb", `back\slash`, "backslash"} {
		f.user(store.User{UserID: fmt.Sprintf("u%d", i), Username: ptr(name), CreatedAt: t0.Add(-time.Duration(i) * time.Minute)})
	}
	cases := []struct {
		q    string
		want []string
	}{
		{"50%", []string{"50%off"}},
		{"%", []string{}},
		{"a_b", []string{"a_b"}},
		{"_", []string{}},
		{`back\`, []string{`back\slash`}},
		{`\`, []string{}},
		{"50", []string{"50%off", "500ff"}},
	}
	for _, c := range cases {
		us, _, err := f.svc.Users(ctx, console.UserFilter{Q: c.q})
		if err != nil {
			t.Fatalf("Q %q: %v", c.q, err)
		}
		if got := ids(us, func(u store.User) string { return *u.Username }); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Q %q: got %v, want %v", c.q, got, c.want)
		}
	}
}

func TestQuotes(t *testing.T) {
	w := newWorld(t)
	name := map[string]string{w.qOpen.ID.String(): "open", w.qExpired.ID.String(): "expired",
		w.qAccepted.ID.String(): "accepted", w.qCancelled.ID.String(): "cancelled"}
	qid := func(q store.Quote) string { return name[q.ID.String()] }
	cases := []struct {
		name string
		f    console.Filter
		want []string
	}{
		{"all, newest first", console.Filter{}, []string{"cancelled", "accepted", "expired", "open"}},
		{"current", console.Filter{Status: console.Current}, []string{"open"}},
		{"expired", console.Filter{Status: console.Expired}, []string{"expired"}},
		{"unknown status through OneOf", console.Filter{Status: console.OneOf("pending",
			console.Current, console.Expired)}, []string{"cancelled", "accepted", "expired", "open"}},
		{"client id", console.Filter{Q: "USER_BEA"}, []string{"cancelled", "accepted"}},
		{"pickup address", console.Filter{Q: "calle 10 #"}, []string{"open"}},
		{"percent is literal", console.Filter{Q: "100%"}, []string{"cancelled"}},
		{"status and search", console.Filter{Status: console.Current, Q: "user_ana"}, []string{"open"}},
		{"client's name", console.Filter{Q: "beatriz"}, []string{"cancelled", "accepted"}},
		{"short id", console.Filter{Q: w.qExpired.ID.String()[:8]}, []string{"expired"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qs, l, err := w.svc.Quotes(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(qs, qid); !reflect.DeepEqual(got, c.want) || l.More || l.Total != int64(len(c.want)) {
				t.Fatalf("got %v %+v, want %v (total %d, no more)", got, l, c.want, len(c.want))
			}
			for _, q := range qs {
				if q.Client == nil || q.Client.UserID != q.ClientID || q.Category == nil || q.Category.ID != q.CategoryID {
					t.Errorf("quote %s: client/category not loaded", qid(q))
				}
				if wantOffers := map[string]int{"open": 2, "accepted": 1}[qid(q)]; len(q.Offers) != wantOffers {
					t.Errorf("quote %s: %d offers, want %d", qid(q), len(q.Offers), wantOffers)
				}
			}
		})
	}
}

func TestOffers(t *testing.T) {
	w := newWorld(t)
	name := map[string]string{w.oOpen.ID.String(): "open", w.oExpired.ID.String(): "expired", w.oAccepted.ID.String(): "accepted"}
	oid := func(o store.Offer) string { return name[o.ID.String()] }
	cases := []struct {
		name string
		f    console.Filter
		want []string
	}{
		{"all, newest first", console.Filter{}, []string{"accepted", "expired", "open"}},
		{"current", console.Filter{Status: console.Current}, []string{"open"}},
		{"expired", console.Filter{Status: console.Expired}, []string{"expired"}},
		{"rejected", console.Filter{Status: store.OfferRejected}, []string{}},
		{"driver's username", console.Filter{Q: "Diego"}, []string{"expired"}},
		{"short id", console.Filter{Q: w.oOpen.ID.String()[:8]}, []string{"open"}},
		{"driver id", console.Filter{Q: "user_d1"}, []string{"accepted", "open"}},
		{"quote id", console.Filter{Q: w.qOpen.ID.String()}, []string{"expired", "open"}},
		{"quote id, upper case", console.Filter{Q: strings.ToUpper(w.qAccepted.ID.String())}, []string{"accepted"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os, l, err := w.svc.Offers(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(os, oid); !reflect.DeepEqual(got, c.want) || l.More || l.Total != int64(len(c.want)) {
				t.Fatalf("got %v %+v, want %v (total %d, no more)", got, l, c.want, len(c.want))
			}
			for _, o := range os {
				if o.Driver == nil || o.Quote == nil || o.Quote.ID != o.QuoteID {
					t.Errorf("offer %s: driver/quote not loaded", oid(o))
				}
				if (o.VehicleID != nil) != (o.Vehicle != nil) {
					t.Errorf("offer %s: vehicle id %v, loaded %v", oid(o), o.VehicleID, o.Vehicle)
				}
			}
		})
	}
}

func TestDeliveries(t *testing.T) {
	w := newWorld(t)
	name := map[string]string{w.dAssigned.ID.String(): "assigned", w.dPaidA.ID.String(): "paidA",
		w.dPaidB.ID.String(): "paidB", w.dCancelled.ID.String(): "cancelled"}
	did := func(d store.Delivery) string { return name[d.ID.String()] }
	all := []string{"cancelled", "paidB", "paidA", "assigned"}
	f := func(status, payment, q string) console.DeliveryFilter {
		return console.DeliveryFilter{Filter: console.Filter{Status: status, Q: q}, Payment: payment}
	}
	cases := []struct {
		name string
		f    console.DeliveryFilter
		want []string
	}{
		{"all, newest first", f("", "", ""), all},
		{"paid", f(store.DeliveryPaid, "", ""), []string{"paidB", "paidA"}},
		{"nequi", f("", "nequi", ""), []string{"paidA"}},
		{"paid in cash", f(store.DeliveryPaid, "efectivo", ""), []string{"paidB"}},
		{"in transit", f(store.DeliveryInTransit, "", ""), []string{}},
		{"unknown status and payment through OneOf",
			f(console.OneOf("bogus", console.DeliveryStatuses...), console.OneOf("cash", "efectivo", "nequi"), ""), all},
		{"driver id", f("", "", "user_d1"), []string{"paidB", "assigned"}},
		{"client id", f("", "", "user_bea"), []string{"cancelled", "paidB"}},
		{"address words", f("", "", "50_b"), []string{"paidB"}},
		{"client's name", f("", "", "Ána"), []string{"paidA", "assigned"}},
		{"driver's username", f("", "", "carlos"), []string{"paidB", "assigned"}},
		{"client's phone", f("", "", "300 111"), []string{"paidA", "assigned"}},
		{"short id", f("", "", strings.ToUpper(w.dPaidA.ID.String()[:8])), []string{"paidA"}},
		{"all filters", f(store.DeliveryPaid, "efectivo", "user_d1"), []string{"paidB"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds, l, err := w.svc.Deliveries(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(ds, did); !reflect.DeepEqual(got, c.want) || l.More || l.Total != int64(len(c.want)) {
				t.Fatalf("got %v %+v, want %v (total %d, no more)", got, l, c.want, len(c.want))
			}
			for _, d := range ds {
				if d.Client == nil || d.Category == nil || (d.DeliveryPersonID != nil) != (d.Driver != nil) {
					t.Errorf("delivery %s: client/driver/category not loaded", did(d))
				}
			}
		})
	}
}

// Every list pages by console.PerPage; more is set only when a row
// follows the page, and a page number out of range reads as page 1.
func TestPaging(t *testing.T) {
	type list func(f *fixture, page int) (ids []string, l console.Listed, err error)
	cases := []struct {
		name string
		add  func(f *fixture, i int) string // row i is i minutes old; returns its id
		list list
	}{
		{"vehicles", func(f *fixture, i int) string {
			return f.vehicle(store.Vehicle{UserID: "owner", CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).VehicleID.String()
		}, func(f *fixture, page int) ([]string, console.Listed, error) {
			rows, l, err := f.svc.Vehicles(ctx, console.VehicleFilter{State: console.VehiclesAll, Page: page})
			return ids(rows, func(r console.VehicleRow) string { return r.V.VehicleID.String() }), l, err
		}},
		{"users", func(f *fixture, i int) string {
			return f.user(store.User{UserID: fmt.Sprintf("p%03d", i), CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).UserID
		}, func(f *fixture, page int) ([]string, console.Listed, error) {
			us, l, err := f.svc.Users(ctx, console.UserFilter{Q: "p", Page: page})
			return ids(us, func(u store.User) string { return u.UserID }), l, err
		}},
		{"quotes", func(f *fixture, i int) string {
			return f.quote(store.Quote{ClientID: "owner", CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).ID.String()
		}, func(f *fixture, page int) ([]string, console.Listed, error) {
			qs, l, err := f.svc.Quotes(ctx, console.Filter{Page: page})
			return ids(qs, func(q store.Quote) string { return q.ID.String() }), l, err
		}},
		{"offers", func(f *fixture, i int) string {
			q := f.quote(store.Quote{ClientID: "owner"})
			return f.offer(store.Offer{DeliveryPersonID: "owner", QuoteID: q.ID, CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).ID.String()
		}, func(f *fixture, page int) ([]string, console.Listed, error) {
			os, l, err := f.svc.Offers(ctx, console.Filter{Page: page})
			return ids(os, func(o store.Offer) string { return o.ID.String() }), l, err
		}},
		{"deliveries", func(f *fixture, i int) string {
			return f.delivery(store.Delivery{ClientID: "owner", CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).ID.String()
		}, func(f *fixture, page int) ([]string, console.Listed, error) {
			ds, l, err := f.svc.Deliveries(ctx, console.DeliveryFilter{Filter: console.Filter{Page: page}})
			return ids(ds, func(d store.Delivery) string { return d.ID.String() }), l, err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.user(store.User{UserID: "owner", Role: ptr("delivery"), CreatedAt: t0.Add(-24 * time.Hour)})
			var added []string
			for i := range console.PerPage {
				added = append(added, c.add(f, i))
			}
			check := func(page, wantLen int, wantMore bool, wantFirst string) {
				t.Helper()
				got, l, err := c.list(f, page)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != wantLen || l.More != wantMore || (wantLen > 0 && got[0] != wantFirst) || l.Total != int64(len(added)) {
					t.Fatalf("page %d: %d rows (first %v) %+v, want %d (first %s) more=%v total=%d",
						page, len(got), got[:min(1, len(got))], l, wantLen, wantFirst, wantMore, len(added))
				}
			}
			check(1, console.PerPage, false, added[0]) // exactly one full page
			check(2, 0, false, "")
			added = append(added, c.add(f, console.PerPage)) // the oldest row, one past the page
			check(1, console.PerPage, true, added[0])
			check(2, 1, false, added[console.PerPage])
			for _, out := range []int{0, -3, 100000} {
				check(out, console.PerPage, true, added[0])
			}
		})
	}
}
