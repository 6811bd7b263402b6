package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	svix "github.com/svix/svix-webhooks/go"
)

// ErrWebhookNotConfigured means no CLERK_WEBHOOK_SIGNING_SECRET is set (503).
var ErrWebhookNotConfigured = errors.New("webhook signing secret not configured")

// WebhookVerifier checks Clerk's Svix signatures (svix-id, svix-timestamp,
// svix-signature: HMAC-SHA256 over "id.timestamp.body" with the base64 secret
// after whsec_, timestamp within 5 minutes, constant-time compare, any of the
// listed v1 signatures may match) with the official Svix library.
type WebhookVerifier struct {
	wh *svix.Webhook
}

// NewWebhookVerifier parses a whsec_… secret. An empty secret yields
// ErrWebhookNotConfigured.
func NewWebhookVerifier(secret string) (*WebhookVerifier, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return nil, ErrWebhookNotConfigured
	}
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook signing secret: %w", err)
	}
	return &WebhookVerifier{wh: wh}, nil
}

// Verify checks the signature headers over the raw request body.
func (v *WebhookVerifier) Verify(payload []byte, headers http.Header) error {
	if err := v.wh.Verify(payload, headers); err != nil {
		return fmt.Errorf("svix signature: %w", err)
	}
	return nil
}

// MessageID is the Svix message id of a request (svix-id, or the Standard
// Webhooks webhook-id), the idempotency key of a delivery.
func MessageID(headers http.Header) string {
	if id := headers.Get("svix-id"); id != "" {
		return id
	}
	return headers.Get("webhook-id")
}
