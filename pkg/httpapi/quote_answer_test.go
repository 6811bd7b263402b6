package httpapi_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"hermez/pkg/testutil"
)

// POST quote answers with the bytes of the quote's frames to its client (the
// quote encoded once for both): the answer is the data of the quote_created
// frame to user_quotes_<client>, plus the newline c.JSON's encoder wrote; and
// that is what rendering the quote anew gives (?pretty takes that path: its
// indented answer, compacted, is the same data), with and without a pickup.
func TestCreateQuoteAnswerIsTheClientsFrameData(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	c := newActor(t, w, "user_answer_client")
	prefix, suffix := []byte(`{"type":"quote_created","data":`), []byte(`}`)
	clientData := func(t *testing.T) []byte {
		t.Helper()
		for _, m := range w.Recorder.Take() {
			if m.Group == "user_quotes_"+c.ID && m.Type == "quote_created" {
				if !bytes.HasPrefix(m.Payload, prefix) || !bytes.HasSuffix(m.Payload, suffix) {
					t.Fatalf("frame %s", m.Payload)
				}
				return m.Payload[len(prefix) : len(m.Payload)-len(suffix)]
			}
		}
		t.Fatal("no quote_created frame to the client's group")
		return nil
	}
	for name, over := range map[string]map[string]any{
		"no pickup": nil,
		"pickup":    {"pickup_latitude": 7.119349, "pickup_longitude": -73.122742, "delivery_latitude": 7.1, "delivery_longitude": -73.1},
	} {
		t.Run(name, func(t *testing.T) {
			w.Recorder.Take()
			res := mustRaw(t, w.Do(t, "POST", "/deliveries/api/quotes/", c.Tok, quoteBody(t, w, c, over)), 201)
			data := clientData(t)
			if want := append(append([]byte{}, data...), '\n'); !bytes.Equal(res.Body, want) {
				t.Errorf("answer differs from the client's frame data:\nanswer %s\nframe  %s", res.Body, want)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}

			pretty := mustRaw(t, w.Do(t, "POST", "/deliveries/api/quotes/?pretty", c.Tok, quoteBody(t, w, c, over)), 201)
			data = clientData(t)
			if !bytes.Contains(pretty.Body, []byte("\n  ")) {
				t.Fatalf("?pretty answer not indented: %s", pretty.Body)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, pretty.Body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(compact.Bytes(), data) {
				t.Errorf("a fresh render differs from the frame data:\nrender %s\nframe  %s", compact.Bytes(), data)
			}
		})
	}
}

func mustRaw(t *testing.T, r *testutil.Response, status int) *testutil.Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}
