package djangoimport

import (
	"strings"
	"testing"
	"time"
)

func TestPickAttachesOncePerRaterNewestBefore(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	ds := []sharedDelivery{{id: [16]byte{1}, created: t0}, {id: [16]byte{2}, created: t0.Add(24 * time.Hour)}, {id: [16]byte{3}, created: t0.Add(72 * time.Hour)}}
	used := map[string]bool{}
	r := func(at time.Duration) oldRating { return oldRating{rater: "a", ratee: "b", created: t0.Add(at)} }
	// A rating on day 2 takes the newest delivery before it (day 1), the next
	// one the one before that, then the only one after, then none is left.
	for i, want := range []*[16]byte{{2}, {1}, {3}, nil} {
		got := pick(ds, r(48*time.Hour), used)
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("rating %d: got %v, want %v", i, got, want)
		}
		if got != nil {
			used["a"+string(got[:])] = true
		}
	}
	// The other side still has every delivery to attach to.
	if got := pick(ds, oldRating{rater: "b", ratee: "a", created: t0.Add(100 * time.Hour)}, used); got == nil || *got != [16]byte{3} {
		t.Fatalf("the ratee's own rating: %v", got)
	}
}

func TestReportPrintsEachRefusedRow(t *testing.T) {
	rep := &Report{}
	rep.refuse(Finding{Table: "ratings", ID: "r1", Column: "rating", Value: "11", Problem: "outside 0..10", Action: "refused", total: 1})
	rep.correct(Finding{Table: "users", ID: "u1", Column: "gender", Value: "", Problem: "blank", Action: "imported as null (not set)", total: 1})
	var b strings.Builder
	rep.Print(&b)
	for _, want := range []string{`ratings r1: rating "11" outside 0..10 → refused`, `users u1: gender "" blank → imported as null`, "Nothing was written."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestStripNULListsTheCorrection(t *testing.T) {
	r := &run{rep: &Report{}}
	tb := table{name: "addresses", cols: []string{"address_id", "name"}}
	vals := []any{"id-1", "Casa\x00 de Ana"}
	r.stripNUL(tb, vals)
	if vals[1] != "Casa de Ana" || len(r.rep.Corrections) != 1 || r.rep.Corrections[0].Column != "name" {
		t.Fatalf("got %q, corrections %+v", vals[1], r.rep.Corrections)
	}
}
