// Package auth verifies Clerk session tokens (RS256 against the cached Clerk
// JWKS, or the local development issuer's key), turns them into users, and
// verifies Clerk's Svix-signed webhooks. The HTTP API and the sockets share it.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
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
	MsgMissing = apperr.MsgNotAuth
	MsgExpired = "Token expirado."
	MsgInvalid = "Token inválido."
	MsgDeleted = "Usuario eliminado."
)

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
	cache   tokenCache
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

// Verify parses and validates token, returning its claims. A token already
// verified is answered from a small cache (keyed by the token's SHA-256) until
// its exp: the frontend sends the same token on every request for its lifetime,
// and RS256 verification was a fifth of the CPU of an authenticated GET.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, apperr.NotAuthenticated(MsgMissing, errors.New("no token"))
	}
	key := sha256.Sum256([]byte(token))
	if c, ok := v.cache.get(key, time.Now(), v.cfg.Leeway); ok {
		return c, nil
	}
	claims, err := v.verify(token)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, claims)
	return claims, nil
}

// Valid tells whether token verifies (the anonymous throttle's question); a
// nil verifier accepts none.
func (v *Verifier) Valid(ctx context.Context, token string) bool {
	if v == nil {
		return false
	}
	_, err := v.Verify(ctx, token)
	return err == nil
}

func (v *Verifier) verify(token string) (*Claims, error) {
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
		return nil, apperr.NotAuthenticated(msg, err)
	}
	if claims.Subject == "" {
		return nil, apperr.NotAuthenticated(MsgInvalid, errors.New("no sub claim"))
	}
	if len(v.cfg.AuthorizedParty) > 0 && !slices.Contains(v.cfg.AuthorizedParty, claims.AuthorizedParty) {
		return nil, apperr.NotAuthenticated(MsgInvalid, fmt.Errorf("azp %q not authorized", claims.AuthorizedParty))
	}
	return claims, nil
}

// tokenCache remembers verified claims by token hash, bounded in size (it is
// emptied when full) and never past a token's exp (+ leeway).
type tokenCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*Claims
}

const tokenCacheMax = 10000

func (c *tokenCache) get(key [32]byte, now time.Time, leeway time.Duration) (*Claims, bool) {
	c.mu.RLock()
	cl, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || cl.ExpiresAt == nil || !now.Before(cl.ExpiresAt.Time.Add(leeway)) {
		return nil, false
	}
	return cl, true
}

func (c *tokenCache) put(key [32]byte, cl *Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = make(map[[32]byte]*Claims, 256)
	}
	c.m[key] = cl
}

// Profile is what the claims say about the token's user, for
// account.UserFromToken (which cleans and stores it).
func (c *Claims) Profile() account.ClerkProfile {
	return account.ClerkProfile{UserID: c.Subject, FirstName: c.FirstName, LastName: c.LastName,
		Username: c.Username, Email: c.Email, ImageURL: c.ImageURL}
}
