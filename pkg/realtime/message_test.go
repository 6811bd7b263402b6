package realtime_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"hermez/pkg/realtime"
)

// NewMessageData builds the bytes NewMessage encodes, around data already
// encoded, whatever the type's characters (escaped ones take NewMessage's path).
func TestNewMessageDataIsNewMessage(t *testing.T) {
	data := map[string]any{"id": "q1", "price": "12000.00", "html": "<b>&</b>", "ñ": []string{"Frágil"}, "n": nil}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{realtime.QuoteCreated, realtime.OfferAcceptedDot, "", `a"b`, "a<b>&", "tipo_ñ", "a\\b\n"} {
		want, err := realtime.NewMessage("g", typ, data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := realtime.NewMessageData("g", typ, raw)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Payload, want.Payload) || got.Group != "g" || got.Type != typ {
			t.Errorf("%q: %s, want %s", typ, got.Payload, want.Payload)
		}
	}
}
