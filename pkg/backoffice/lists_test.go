package backoffice_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"hermez/pkg/backoffice"
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
		{"paid", backoffice.DeliveryStatuses, "paid"},
		{"bogus", backoffice.DeliveryStatuses, ""},
		{"PAID", backoffice.DeliveryStatuses, ""}, // exact match only
		{"", []string{"efectivo", "nequi"}, ""},
		{"nequi", []string{"efectivo", "nequi"}, "nequi"},
		{"x", nil, ""},
	}
	for _, c := range cases {
		if got := backoffice.OneOf(c.v, c.allowed...); got != c.want {
			t.Errorf("OneOf(%q, %v) = %q, want %q", c.v, c.allowed, got, c.want)
		}
	}
}

func TestVehicles(t *testing.T) {
	w := newWorld(t)
	vid := func(v store.Vehicle) string { return v.LicensePlate }
	cases := []struct {
		name string
		f    backoffice.VehicleFilter
		want []string
	}{
		{"default is the pending queue, oldest first", backoffice.VehicleFilter{}, []string{"ABC123", "XY_99"}},
		{"pending", backoffice.VehicleFilter{State: backoffice.VehiclesPending}, []string{"ABC123", "XY_99"}},
		{"unknown state through OneOf", backoffice.VehicleFilter{State: backoffice.OneOf("bogus",
			backoffice.VehiclesPending, backoffice.VehiclesVerified, backoffice.VehiclesAll)}, []string{"ABC123", "XY_99"}},
		{"verified, last updated first", backoffice.VehicleFilter{State: backoffice.VehiclesVerified}, []string{"DEF456", "XYZ99"}},
		{"all, newest first", backoffice.VehicleFilter{State: backoffice.VehiclesAll}, []string{"XY_99", "ABC123", "XYZ99", "DEF456"}},
		{"plate, any case", backoffice.VehicleFilter{State: backoffice.VehiclesAll, Q: " abc "}, []string{"ABC123"}},
		{"brand", backoffice.VehicleFilter{State: backoffice.VehiclesAll, Q: "HONDA"}, []string{"XY_99"}},
		{"owner id", backoffice.VehicleFilter{State: backoffice.VehiclesAll, Q: "user_d1"}, []string{"ABC123", "DEF456"}},
		{"underscore is literal", backoffice.VehicleFilter{State: backoffice.VehiclesAll, Q: "Y_9"}, []string{"XY_99"}},
		{"search within state", backoffice.VehicleFilter{State: backoffice.VehiclesVerified, Q: "user_d1"}, []string{"DEF456"}},
		{"blank search is no search", backoffice.VehicleFilter{State: backoffice.VehiclesVerified, Q: "  "}, []string{"DEF456", "XYZ99"}},
		{"no match", backoffice.VehicleFilter{State: backoffice.VehiclesAll, Q: "nothing"}, []string{}},
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
		f    backoffice.UserFilter
		want []string
	}{
		// Users lists deleted rows too (the console shows them marked).
		{"all, newest first", backoffice.UserFilter{}, []string{"user_staff", "user_gone", "user_d2", "user_d1", "user_bea", "user_ana"}},
		{"drivers", backoffice.UserFilter{Role: "delivery"}, []string{"user_gone", "user_d2", "user_d1"}},
		{"clients", backoffice.UserFilter{Role: "client"}, []string{"user_bea", "user_ana"}},
		{"unknown role through OneOf", backoffice.UserFilter{Role: backoffice.OneOf("admin", "client", "delivery")},
			[]string{"user_staff", "user_gone", "user_d2", "user_d1", "user_bea", "user_ana"}},
		{"staff only", backoffice.UserFilter{StaffOnly: true}, []string{"user_staff"}},
		{"first name, any case", backoffice.UserFilter{Q: "BEATRIZ"}, []string{"user_bea"}},
		{"email", backoffice.UserFilter{Q: "ana@example"}, []string{"user_ana"}},
		{"phone", backoffice.UserFilter{Q: "300111"}, []string{"user_ana"}},
		{"search and role", backoffice.UserFilter{Q: "user_d", Role: "delivery"}, []string{"user_d2", "user_d1"}},
		{"no match", backoffice.UserFilter{Q: "zzz"}, []string{}},
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
		us, _, err := f.svc.Users(ctx, backoffice.UserFilter{Q: c.q})
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
		f    backoffice.Filter
		want []string
	}{
		{"all, newest first", backoffice.Filter{}, []string{"cancelled", "accepted", "expired", "open"}},
		{"current", backoffice.Filter{Status: backoffice.Current}, []string{"open"}},
		{"expired", backoffice.Filter{Status: backoffice.Expired}, []string{"expired"}},
		{"unknown status through OneOf", backoffice.Filter{Status: backoffice.OneOf("pending",
			backoffice.Current, backoffice.Expired)}, []string{"cancelled", "accepted", "expired", "open"}},
		{"client id", backoffice.Filter{Q: "USER_BEA"}, []string{"cancelled", "accepted"}},
		{"pickup address", backoffice.Filter{Q: "calle 10 #"}, []string{"open"}},
		{"percent is literal", backoffice.Filter{Q: "100%"}, []string{"cancelled"}},
		{"status and search", backoffice.Filter{Status: backoffice.Current, Q: "user_ana"}, []string{"open"}},
		{"client's name", backoffice.Filter{Q: "beatriz"}, []string{"cancelled", "accepted"}},
		{"short id", backoffice.Filter{Q: w.qExpired.ID.String()[:8]}, []string{"expired"}},
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
		f    backoffice.Filter
		want []string
	}{
		{"all, newest first", backoffice.Filter{}, []string{"accepted", "expired", "open"}},
		{"current", backoffice.Filter{Status: backoffice.Current}, []string{"open"}},
		{"expired", backoffice.Filter{Status: backoffice.Expired}, []string{"expired"}},
		{"rejected", backoffice.Filter{Status: store.OfferRejected}, []string{}},
		{"driver's username", backoffice.Filter{Q: "Diego"}, []string{"expired"}},
		{"short id", backoffice.Filter{Q: w.oOpen.ID.String()[:8]}, []string{"open"}},
		{"driver id", backoffice.Filter{Q: "user_d1"}, []string{"accepted", "open"}},
		{"quote id", backoffice.Filter{Q: w.qOpen.ID.String()}, []string{"expired", "open"}},
		{"quote id, upper case", backoffice.Filter{Q: strings.ToUpper(w.qAccepted.ID.String())}, []string{"accepted"}},
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
				if o.DeliveryPerson == nil || o.Quote == nil || o.Quote.ID != o.QuoteID {
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
	f := func(status, payment, q string) backoffice.DeliveryFilter {
		return backoffice.DeliveryFilter{Filter: backoffice.Filter{Status: status, Q: q}, Payment: payment}
	}
	cases := []struct {
		name string
		f    backoffice.DeliveryFilter
		want []string
	}{
		{"all, newest first", f("", "", ""), all},
		{"paid", f(store.DeliveryPaid, "", ""), []string{"paidB", "paidA"}},
		{"nequi", f("", "nequi", ""), []string{"paidA"}},
		{"paid in cash", f(store.DeliveryPaid, "efectivo", ""), []string{"paidB"}},
		{"in transit", f(store.DeliveryInTransit, "", ""), []string{}},
		{"unknown status and payment through OneOf",
			f(backoffice.OneOf("bogus", backoffice.DeliveryStatuses...), backoffice.OneOf("cash", "efectivo", "nequi"), ""), all},
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
				if d.Client == nil || d.Category == nil || (d.DeliveryPersonID != nil) != (d.DeliveryPerson != nil) {
					t.Errorf("delivery %s: client/driver/category not loaded", did(d))
				}
			}
		})
	}
}

// Every list pages by backoffice.PerPage; more is set only when a row
// follows the page, and a page number out of range reads as page 1.
func TestPaging(t *testing.T) {
	type list func(f *fixture, page int) (ids []string, l backoffice.Listed, err error)
	cases := []struct {
		name string
		add  func(f *fixture, i int) string // row i is i minutes old; returns its id
		list list
	}{
		{"vehicles", func(f *fixture, i int) string {
			return f.vehicle(store.Vehicle{UserID: "owner", CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).VehicleID.String()
		}, func(f *fixture, page int) ([]string, backoffice.Listed, error) {
			rows, l, err := f.svc.Vehicles(ctx, backoffice.VehicleFilter{State: backoffice.VehiclesAll, Page: page})
			return ids(rows, func(r backoffice.VehicleRow) string { return r.V.VehicleID.String() }), l, err
		}},
		{"users", func(f *fixture, i int) string {
			return f.user(store.User{UserID: fmt.Sprintf("p%03d", i), CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).UserID
		}, func(f *fixture, page int) ([]string, backoffice.Listed, error) {
			us, l, err := f.svc.Users(ctx, backoffice.UserFilter{Q: "p", Page: page})
			return ids(us, func(u store.User) string { return u.UserID }), l, err
		}},
		{"quotes", func(f *fixture, i int) string {
			return f.quote(store.Quote{ClientID: "owner", CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).ID.String()
		}, func(f *fixture, page int) ([]string, backoffice.Listed, error) {
			qs, l, err := f.svc.Quotes(ctx, backoffice.Filter{Page: page})
			return ids(qs, func(q store.Quote) string { return q.ID.String() }), l, err
		}},
		{"offers", func(f *fixture, i int) string {
			q := f.quote(store.Quote{ClientID: "owner"})
			return f.offer(store.Offer{DeliveryPersonID: "owner", QuoteID: q.ID, CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).ID.String()
		}, func(f *fixture, page int) ([]string, backoffice.Listed, error) {
			os, l, err := f.svc.Offers(ctx, backoffice.Filter{Page: page})
			return ids(os, func(o store.Offer) string { return o.ID.String() }), l, err
		}},
		{"deliveries", func(f *fixture, i int) string {
			return f.delivery(store.Delivery{ClientID: "owner", CreatedAt: t0.Add(-time.Duration(i) * time.Minute)}).ID.String()
		}, func(f *fixture, page int) ([]string, backoffice.Listed, error) {
			ds, l, err := f.svc.Deliveries(ctx, backoffice.DeliveryFilter{Filter: backoffice.Filter{Page: page}})
			return ids(ds, func(d store.Delivery) string { return d.ID.String() }), l, err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.user(store.User{UserID: "owner", Role: ptr("delivery"), CreatedAt: t0.Add(-24 * time.Hour)})
			var added []string
			for i := range backoffice.PerPage {
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
			check(1, backoffice.PerPage, false, added[0]) // exactly one full page
			check(2, 0, false, "")
			added = append(added, c.add(f, backoffice.PerPage)) // the oldest row, one past the page
			check(1, backoffice.PerPage, true, added[0])
			check(2, 1, false, added[backoffice.PerPage])
			for _, out := range []int{0, -3, 100000} {
				check(out, backoffice.PerPage, true, added[0])
			}
		})
	}
}
