package realtime_test

import (
	"bytes"
	"testing"

	"hermez/pkg/realtime"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	payload := []byte(`{"type":"quote_updated","data":{"id":"q"}}`)
	for _, m := range []realtime.Message{
		{Group: "quote_1", Payload: payload, Resource: realtime.ResourceQuote("1"), Version: 42},
		{Group: "new_quotes", Payload: payload, Resource: realtime.ResourceOffer("a b"), Version: 7, Final: true},
		{Group: "_control", Payload: []byte(`{"type":"user_deleted","user":"u"}`)},
		{Group: "new_quotes", Payload: payload, Resource: realtime.ResourceQuote("2"), Version: 3, Pickup: &realtime.Pickup{Lat: 4.711, Lng: -74.072135}},
		{Group: "new_quotes", Payload: payload, Resource: realtime.ResourceQuote("3"), Version: 4, Final: true, Pickup: &realtime.Pickup{Lat: -90, Lng: 180, Added: true}},
	} {
		wire := realtime.EncodeEnvelope(m)
		if m.Resource == "" && !bytes.Equal(wire, m.Payload) {
			t.Fatalf("a frame outside the order rule is its payload alone: %q", wire)
		}
		got, err := realtime.DecodeEnvelope(m.Group, wire)
		if err != nil {
			t.Fatal(err)
		}
		if got.Group != m.Group || !bytes.Equal(got.Payload, m.Payload) || got.Resource != m.Resource ||
			got.Version != m.Version || got.Final != m.Final || (got.Pickup == nil) != (m.Pickup == nil) ||
			got.Pickup != nil && *got.Pickup != *m.Pickup {
			t.Fatalf("round trip: %+v → %q → %+v", m, wire, got)
		}
	}
	for _, bad := range []string{"\x1e12 0 quote:1", "\x1ex 0 quote:1\n{}", "\x1e1 2 quote:1\n{}", "\x1e1 0 \n{}",
		"\x1e1 0@4.7 quote:1\n{}", "\x1e1 0@4.7,x quote:1\n{}", "\x1e1 0@91,0 quote:1\n{}", "\x1e1 0@4,5,- quote:1\n{}", "\x1e1 0@4,5 \n{}", "\x1e1 2@4,5 q\n{}"} {
		if _, err := realtime.DecodeEnvelope("g", []byte(bad)); err == nil {
			t.Errorf("decoded a bad envelope %q", bad)
		}
	}
}
