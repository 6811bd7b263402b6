package realtime

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// appendFrameHead writes what json.Marshal of the storedFrame wrote (less
// its closing brace), on the direct path and the escaped one: plain and
// escaped strings, every optional field present or not, coordinates of
// every magnitude json prints as 'f' and past it.
func TestAppendFrameHeadIsJSONs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "new_quotes", "quote_0b1c", "user_quotes_user_2abcXYZ", "quote:1", `a"b`, "a<b>&c", "ñandú", "a\\b", "tab\t", "\u2028"}
	floats := []float64{0, 4.711, -74.0721, 7.119349, -73.122742, 90, -180, 1e-6, 9.99e-7, 1e20, 1e21, 123456.789, 0.1 + 0.2}
	for range 20000 {
		m := Message{Group: strs[r.IntN(len(strs))], Type: strs[r.IntN(len(strs))], Resource: strs[r.IntN(len(strs))],
			Version: []int64{0, 1, 42, math.MaxInt64, -3}[r.IntN(5)], Final: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			m.Pickup = &Pickup{Lat: floats[r.IntN(len(floats))], Lng: -floats[r.IntN(len(floats))], Added: r.IntN(2) == 0}
		}
		want, err := json.Marshal(storedFrame{Group: m.Group, Type: m.Type, Resource: m.Resource, Version: m.Version, Final: m.Final, Pickup: m.Pickup})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := appendFrameHead(&b, m); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != string(want[:len(want)-1]) {
			t.Fatalf("%+v:\n got %s\nwant %s", m, got, want[:len(want)-1])
		}
	}
	if err := appendFrameHead(&strings.Builder{}, Message{Group: "g", Pickup: &Pickup{Lat: math.NaN()}}); err == nil {
		t.Error("a NaN coordinate encoded")
	}
}

// heads lists each resource and version once, in the order first seen, with
// every group of its frames in order; frames without a resource are left out.
func TestHeadsAsTheMapDid(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	res := []string{"", "quote:1", "quote:2", "offer:9", "delivery:3", "stats:u"}
	for range 5000 {
		msgs := make([]Message, r.IntN(20))
		for i := range msgs {
			msgs[i] = Message{Group: "g" + strconv.Itoa(r.IntN(6)), Resource: res[r.IntN(len(res))], Version: int64(r.IntN(3))}
		}
		if got, want := heads(msgs), headsByMap(msgs); got != want {
			t.Fatalf("%+v:\n got %q\nwant %q", msgs, got, want)
		}
	}
}

// headsByMap is heads as it was written before (a map from key to line).
func headsByMap(msgs []Message) string {
	type head struct {
		key    string
		groups []string
	}
	var list []head
	index := map[string]int{}
	for _, m := range msgs {
		if m.Resource == "" {
			continue
		}
		key := m.Resource + " " + strconv.FormatInt(m.Version, 10)
		i, ok := index[key]
		if !ok {
			i = len(list)
			index[key] = i
			list = append(list, head{key: key})
		}
		list[i].groups = append(list[i].groups, m.Group)
	}
	var b strings.Builder
	for _, h := range list {
		b.WriteString(h.key)
		for _, g := range h.groups {
			b.WriteByte(' ')
			b.WriteString(g)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
