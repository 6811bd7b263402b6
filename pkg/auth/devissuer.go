package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevIssuerName is the iss of development tokens.
const DevIssuerName = "hermez-dev"

// DevIssuer mints and verifies development tokens with a local RSA key, so the
// API and the sockets can be driven without Clerk. It exists only in local mode
// or with DEBUG=true (config.DevIssuer).
type DevIssuer struct {
	key      *rsa.PrivateKey
	kid      string
	audience string
}

// LoadOrCreateDevIssuer reads the key at dir/dev-jwt.pem, creating it (0600) on
// first use. Processes starting together (web and worker in one directory) end
// up with the same key: the file is published with a link that never
// overwrites, and the loser reads the winner's key.
func LoadOrCreateDevIssuer(dir, audience string) (*DevIssuer, error) {
	path := filepath.Join(dir, "dev-jwt.pem")
	for range 2 {
		key, err := readDevKey(path)
		if err == nil {
			return NewDevIssuer(key, audience), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		key, err = createDevKey(dir, path)
		if err == nil {
			return NewDevIssuer(key, audience), nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		// Another process published its key first: read that one.
	}
	return nil, fmt.Errorf("development key %s: could not read or create it", path)
}

// LoadDevIssuer reads an existing development key file (never creates one).
func LoadDevIssuer(path, audience string) (*DevIssuer, error) {
	key, err := readDevKey(path)
	if err != nil {
		return nil, err
	}
	return NewDevIssuer(key, audience), nil
}

func readDevKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read development key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("development key %s: not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("development key %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("development key %s: not RSA", path)
	}
	return rk, nil
}

// createDevKey writes a new key to a temporary file and links it to path; an
// error wrapping os.ErrExist means another process got there first.
func createDevKey(dir, path string) (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate development key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode development key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	_ = os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("*\n"), 0o600)
	tmp, err := os.CreateTemp(dir, "dev-jwt-*.tmp") // 0600
	if err != nil {
		return nil, fmt.Errorf("write development key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write development key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("publish development key: %w", err)
	}
	return key, nil
}

// NewDevIssuer wraps a key (tests use it with their own keys).
func NewDevIssuer(key *rsa.PrivateKey, audience string) *DevIssuer {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	return &DevIssuer{key: key, kid: "dev-" + base64.RawURLEncoding.EncodeToString(sum[:8]), audience: audience}
}

// Keyfunc verifies development tokens (the key is local: no HTTP fetch).
func (d *DevIssuer) Keyfunc(t *jwt.Token) (any, error) {
	if kid, _ := t.Header["kid"].(string); kid != d.kid {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return &d.key.PublicKey, nil
}

// TokenOptions are the optional claims of a development token.
type TokenOptions struct {
	Name     string // "Ana Gómez" → first_name "Ana", last_name "Gómez"
	Email    string
	Username string // defaults to the user id
	TTL      time.Duration
	// Issuer (iss) defaults to DevIssuerName; the load tool sets a Clerk-like
	// issuer URL and serves the key's JWKS there, so the server can be measured
	// with its production verification path.
	Issuer          string
	AuthorizedParty string // azp, when set
}

// Mint signs a development token for userid.
func (d *DevIssuer) Mint(userid string, o TokenOptions) (string, error) {
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	if o.Username == "" {
		o.Username = userid
	}
	if o.Issuer == "" {
		o.Issuer = DevIssuerName
	}
	first, last, _ := strings.Cut(strings.TrimSpace(o.Name), " ")
	now := time.Now()
	c := Claims{
		AuthorizedParty: o.AuthorizedParty,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: o.Issuer, Subject: userid, Audience: jwt.ClaimStrings{d.audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(o.TTL)),
		},
		FirstName: first, LastName: strings.TrimSpace(last), Username: o.Username, Email: o.Email,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = d.kid
	s, err := t.SignedString(d.key)
	if err != nil {
		return "", fmt.Errorf("sign development token: %w", err)
	}
	return s, nil
}

// JWKS is the public key set, served at /.well-known/jwks.json in development.
func (d *DevIssuer) JWKS() []byte {
	pub := d.key.PublicKey
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": d.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	return b
}
