// Package auth verifies Clerk session tokens (RS256 against the cached Clerk
// JWKS, or the local development issuer's key), turns them into users, and
// verifies Clerk's Svix-signed webhooks. The HTTP API and the sockets share it.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Claims are the claims Hermez reads from a Clerk token (template jwt-back-hermez).
type Claims struct {
	jwt.RegisteredClaims
	AuthorizedParty string `json:"azp,omitempty"`
	FirstName       string `json:"first_name,omitempty"`
	LastName        string `json:"last_name,omitempty"`
	Username        string `json:"username,omitempty"`
	ImageURL        string `json:"image_url,omitempty"`
	Email           string `json:"email,omitempty"`
}

// Error messages shown to clients (the reason goes to the logs).
const (
	MsgMissing = "Las credenciales de autenticación no se proveyeron."
	MsgExpired = "Token expirado."
	MsgInvalid = "Token inválido."
	MsgDeleted = "Usuario eliminado."
)

// AuthError is an authentication failure: Message for the client, Reason for the logs.
type AuthError struct {
	Message string
	Reason  error
}

func (e *AuthError) Error() string { return fmt.Sprintf("%s (%v)", e.Message, e.Reason) }
func (e *AuthError) Unwrap() error { return e.Reason }

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	Audience        string
	Leeway          time.Duration
	AuthorizedParty []string // checked against azp when not empty
}

// Verifier checks RS256 tokens against keys looked up by issuer, then kid.
type Verifier struct {
	cfg     VerifierConfig
	issuers map[string]jwt.Keyfunc
	parser  *jwt.Parser
}

// NewVerifier makes a verifier with no issuer; add them with AddIssuer.
func NewVerifier(cfg VerifierConfig) *Verifier {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Verifier{cfg: cfg, issuers: map[string]jwt.Keyfunc{}, parser: jwt.NewParser(opts...)}
}

// AddIssuer trusts tokens whose iss is issuer, with keys from kf.
func (v *Verifier) AddIssuer(issuer string, kf jwt.Keyfunc) { v.issuers[issuer] = kf }

// Issuers lists the trusted issuers.
func (v *Verifier) Issuers() []string {
	out := make([]string, 0, len(v.issuers))
	for k := range v.issuers {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// NewClerkKeyfunc returns a JWKS-backed keyfunc for the Clerk frontend API URL:
// fetched once at start, refreshed in the background every refresh, and on an
// unknown kid at most once per unknownKIDEvery (other unknown kids fail fast).
// The background refresh ends with ctx.
func NewClerkKeyfunc(ctx context.Context, frontendAPIURL string, refresh, unknownKIDEvery time.Duration) (jwt.Keyfunc, error) {
	url := strings.TrimRight(frontendAPIURL, "/") + "/.well-known/jwks.json"
	k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		RefreshInterval:   refresh,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKIDEvery), 1),
		// jwkset uses this deadline both for waiting on the limiter (Wait fails at
		// once when the next refresh is further away, so other unknown kids fail
		// fast) and for the refresh request itself: it must cover an HTTP fetch.
		RateLimitWaitMax: 3 * time.Second,
		HTTPTimeout:      10 * time.Second,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				slog.Default().ErrorContext(ctx, "refresh Clerk JWKS failed", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("Clerk JWKS %s: %w", url, err)
	}
	return k.KeyfuncCtx(ctx), nil
}

// Verify parses and validates token, returning its claims.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, &AuthError{Message: MsgMissing, Reason: errors.New("no token")}
	}
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		kf, ok := v.issuers[iss]
		if !ok {
			return nil, fmt.Errorf("untrusted issuer %q", iss)
		}
		return kf(t)
	})
	if err != nil {
		msg := MsgInvalid
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = MsgExpired
		}
		return nil, &AuthError{Message: msg, Reason: err}
	}
	if claims.Subject == "" {
		return nil, &AuthError{Message: MsgInvalid, Reason: errors.New("no sub claim")}
	}
	if len(v.cfg.AuthorizedParty) > 0 && !slices.Contains(v.cfg.AuthorizedParty, claims.AuthorizedParty) {
		return nil, &AuthError{Message: MsgInvalid, Reason: fmt.Errorf("azp %q not authorized", claims.AuthorizedParty)}
	}
	return claims, nil
}
