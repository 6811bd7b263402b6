package ws

import (
	"testing"
	"time"

	"hermez/pkg/realtime"
)

func TestGroupOrderAdmitsAndForgets(t *testing.T) {
	var g groupOrder
	now := time.Now()
	for _, step := range []struct {
		res   string
		ver   int64
		final bool
		ok    bool
	}{
		{"quote:1", 3, false, true},
		{"quote:1", 2, false, false},
		{"quote:1", 3, false, true},
		{"quote:2", 1, false, true},
		{"quote:1", 4, true, true},
		{"quote:1", 3, false, false},
	} {
		if got := g.admit(step.res, step.ver, step.final, now); got != step.ok {
			t.Fatalf("admit %s@%d = %v, want %v", step.res, step.ver, got, step.ok)
		}
	}
	// The final frame's entry goes after orderFinalTTL, the live one after orderTTL.
	g.evict(now.Add(orderFinalTTL + time.Second))
	if _, ok := g.seen["quote:1"]; ok {
		t.Fatal("a removed resource is remembered past orderFinalTTL")
	}
	if _, ok := g.seen["quote:2"]; !ok {
		t.Fatal("a live resource was forgotten early")
	}
	g.evict(now.Add(orderTTL + time.Second))
	if g.seen != nil {
		t.Fatalf("entries left after orderTTL: %v", g.seen)
	}
	// A snapshot raises versions; it never lowers them.
	g.admit("offer:1", 5, false, now)
	g.raise(realtime.Versions{"offer:1": 4, "offer:2": 2}, now)
	if g.seen["offer:1"].version != 5 || g.seen["offer:2"].version != 2 {
		t.Fatalf("after raise: %v", g.seen)
	}
}

func TestDropStaleKeepsNewerAndUnversionedFrames(t *testing.T) {
	q := []frame{
		{resource: "quote:1", version: 1}, {text: []byte("x")}, {resource: "quote:1", version: 2},
		{resource: "quote:2", version: 1}, {ping: true},
	}
	got := dropStale(q, realtime.Versions{"quote:1": 2})
	if len(got) != 4 || got[0].text == nil || got[1].version != 2 || got[2].resource != "quote:2" || !got[3].ping {
		t.Fatalf("dropStale: %+v", got)
	}
}
