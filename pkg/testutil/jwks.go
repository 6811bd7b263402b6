package testutil

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWKS is a stand-in for Clerk's Frontend API: it serves
// /.well-known/jwks.json with its own RSA keys, counts the fetches, and signs
// tokens as Clerk would (iss = its URL).
type JWKS struct {
	URL     string
	Server  *httptest.Server
	Fetches atomic.Int64
	// Down makes the endpoint answer 503 (an outage of Clerk); fetches are still counted.
	Down atomic.Bool

	mu     sync.Mutex
	served map[string]*rsa.PrivateKey // kid → key published in the set
}

// DefaultKID is the kid of the key every JWKS starts with (Key()).
const DefaultKID = "ins_test_default"

// NewJWKS starts the server with one key (DefaultKID → Key()).
func NewJWKS(t testing.TB) *JWKS {
	t.Helper()
	j := &JWKS{served: map[string]*rsa.PrivateKey{DefaultKID: Key()}}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		j.Fetches.Add(1)
		if j.Down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(j.set())
	}))
	t.Cleanup(j.Server.Close)
	j.URL = j.Server.URL
	return j
}

// Client is an HTTP client that reaches this JWKS without the network: the
// handler runs in the caller's goroutine. A testing/synctest bubble needs it
// (a socket's goroutines never count as idle, so the bubble's clock would
// never move).
func (j *JWKS) Client() *http.Client {
	return &http.Client{Transport: handlerTransport{j.Server.Config.Handler}}
}

type handlerTransport struct{ h http.Handler }

func (h handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r
	return res, nil
}

func (j *JWKS) set() []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	keys := []map[string]string{}
	for kid, k := range j.served {
		keys = append(keys, map[string]string{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
			"n": base64.RawURLEncoding.EncodeToString(k.PublicKey.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.PublicKey.E)).Bytes()),
		})
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// Publish adds a key to the served set (key rotation).
func (j *JWKS) Publish(kid string, k *rsa.PrivateKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.served[kid] = k
}

// Claims are valid Clerk-like claims for sub (aud hermez-backend-api, one hour).
func (j *JWKS) Claims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": j.URL, "sub": sub, "aud": "hermez-backend-api",
		"iat": now.Unix(), "nbf": now.Add(-time.Second).Unix(), "exp": now.Add(time.Hour).Unix(),
		"azp": "http://localhost:4321", "first_name": "Clerk", "last_name": sub, "email": sub + "@clerk.test",
	}
}

// Sign signs claims with RS256 and key under kid.
func (j *JWKS) Sign(t testing.TB, kid string, key *rsa.PrivateKey, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Token is a valid token for sub signed with the default key.
func (j *JWKS) Token(t testing.TB, sub string) string {
	t.Helper()
	return j.Sign(t, DefaultKID, Key(), j.Claims(sub))
}
