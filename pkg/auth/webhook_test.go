package auth_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"hermez/pkg/auth"
	"hermez/pkg/testutil"
)

// exampleBody is examples.md §8 exactly (no trailing newline).
const exampleBody = `{
  "data": {
    "created_at": 1795708688931,
    "email_addresses": [
      {
        "email_address": "jhonfredy.pinzon@hotmail.com",
        "id": "idn_2pR3kQw7Ty2NcV5bX9mL4sH8dFe",
        "object": "email_address"
      },
      {
        "email_address": "jfpinzon.moto@gmail.com",
        "id": "idn_2pR3kRz1Pq6WdJ3nB8vK5tG2hYc",
        "object": "email_address"
      }
    ],
    "first_name": "Jhon Fredy",
    "id": "user_2pR3kT9wXy7ZbM1nQ5vL8sH2dGa",
    "image_url": "https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOiJodHRwczovL2ltYWdlcy5jbGVyay5kZXYvdXBsb2FkZWQvaW1nXzJwUjNrVDl3WHk3WmJNMW5RNXZMOHNIMmRHYSJ9",
    "last_name": "Pinzón Gómez",
    "object": "user",
    "primary_email_address_id": "idn_2pR3kRz1Pq6WdJ3nB8vK5tG2hYc",
    "public_metadata": {"role": "delivery"},
    "updated_at": 1795708688987,
    "username": "jhonfredy.pinzon"
  },
  "object": "event",
  "timestamp": 1795708689104,
  "type": "user.created"
}`

func exampleHeaders() http.Header {
	h := http.Header{}
	h.Set("svix-id", "msg_2pR3kVb4Xe9TqL6nW8yH1sZ5cJf")
	h.Set("svix-timestamp", "1795708689")
	h.Set("svix-signature", "v1,AbAqQpFVoNNMbGOACV9zrIex/LgMslcbqEo3m0jgfkQ=")
	return h
}

func TestWebhookExampleSignature(t *testing.T) {
	// The spec's example is signed correctly for its secret (checked without
	// the clock: it was signed on 2026-11-26)...
	wh, err := svix.NewWebhook(testutil.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp([]byte(exampleBody), exampleHeaders()); err != nil {
		t.Fatalf("example signature: %v", err)
	}
	// ...and our verifier, which enforces the 5-minute window, refuses the replay.
	v, err := auth.NewWebhookVerifier(testutil.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(time.Unix(1795708689, 0)).Abs() > 5*time.Minute {
		if err := v.Verify([]byte(exampleBody), exampleHeaders()); err == nil {
			t.Fatal("replayed example accepted outside the timestamp window")
		}
	}
}

func TestWebhookVerifier(t *testing.T) {
	v, err := auth.NewWebhookVerifier(testutil.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(exampleBody)
	now := time.Now()
	sign := func(ts time.Time, b []byte, secret string) http.Header {
		return testutil.SvixHeaders(t, secret, "msg_test_1", ts, b)
	}
	if err := v.Verify(body, sign(now, body, testutil.WebhookSecret)); err != nil {
		t.Fatalf("valid: %v", err)
	}
	if got := auth.MessageID(sign(now, body, testutil.WebhookSecret)); got != "msg_test_1" {
		t.Fatalf("message id %q", got)
	}
	rotation := sign(now, body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	good := sign(now, body, testutil.WebhookSecret).Get("svix-signature")
	rotation.Set("svix-signature", "v1,bm90IGEgc2lnbmF0dXJl "+rotation.Get("svix-signature")+" "+good)
	if err := v.Verify(body, rotation); err != nil {
		t.Fatalf("several signatures with one valid: %v", err)
	}

	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-5] = 'X'
	noSig := sign(now, body, testutil.WebhookSecret)
	noSig.Del("svix-signature")
	v2 := sign(now, body, testutil.WebhookSecret)
	v2.Set("svix-signature", "v2,"+v2.Get("svix-signature")[3:])
	bad := map[string]struct {
		body []byte
		h    http.Header
	}{
		"tampered body":        {tampered, sign(now, body, testutil.WebhookSecret)},
		"6 minutes old":        {body, sign(now.Add(-6*time.Minute), body, testutil.WebhookSecret)},
		"6 minutes ahead":      {body, sign(now.Add(6*time.Minute), body, testutil.WebhookSecret)},
		"wrong secret":         {body, sign(now, body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")},
		"missing signature":    {body, noSig},
		"other version prefix": {body, v2},
		"no headers":           {body, http.Header{}},
	}
	for name, c := range bad {
		if err := v.Verify(c.body, c.h); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWebhookVerifierSecret(t *testing.T) {
	if _, err := auth.NewWebhookVerifier(""); !errors.Is(err, auth.ErrWebhookNotConfigured) {
		t.Fatalf("empty secret: %v", err)
	}
	if _, err := auth.NewWebhookVerifier("whsec_%%%not-base64"); err == nil || errors.Is(err, auth.ErrWebhookNotConfigured) {
		t.Fatalf("bad secret: %v", err)
	}
}
