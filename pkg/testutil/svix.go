package testutil

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// WebhookSecret is a Svix signing secret for tests (examples.md §8's).
const WebhookSecret = "whsec_CR99af1EV/E81Qta1qjniuH2ue8E9CcH"

// SvixHeaders signs body as Svix would for msgID at ts with secret.
func SvixHeaders(t testing.TB, secret, msgID string, ts time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(msgID, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("svix-id", msgID)
	h.Set("svix-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("svix-signature", sig)
	return h
}
