package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/testutil"
)

// clerkVerifier is the production wiring (NewClerkKeyfunc) against a test JWKS.
func clerkVerifier(t *testing.T, j *testutil.JWKS, parties ...string) *auth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kf, err := auth.NewClerkKeyfunc(ctx, j.URL, time.Hour, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.VerifierConfig{Audience: "hermez-backend-api", Leeway: 10 * time.Second, AuthorizedParty: parties})
	v.AddIssuer(j.URL, kf)
	return v
}

func wantAuthError(t *testing.T, err error, msg string) {
	t.Helper()
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != apperr.Unauthenticated {
		t.Fatalf("want an apperr.Unauthenticated error, got %v", err)
	}
	if ae.Message != msg {
		t.Fatalf("message %q, want %q (reason %v)", ae.Message, msg, ae.Err)
	}
}

func TestVerifyClerkTokens(t *testing.T) {
	j := testutil.NewJWKS(t)
	v := clerkVerifier(t, j)
	ctx := context.Background()
	now := time.Now()
	with := func(edit func(jwt.MapClaims)) string {
		c := j.Claims("user_a")
		edit(c)
		return j.Sign(t, testutil.DefaultKID, testutil.Key(), c)
	}

	c, err := v.Verify(ctx, j.Token(t, "user_a"))
	if err != nil || c.Subject != "user_a" || c.Email != "user_a@clerk.test" || c.FirstName != "Clerk" {
		t.Fatalf("valid token: %+v %v", c, err)
	}
	// Within the leeway (10 s) an expired token still passes.
	if _, err := v.Verify(ctx, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Second).Unix() })); err != nil {
		t.Fatalf("exp within leeway: %v", err)
	}

	pubDER, _ := x509.MarshalPKIXPublicKey(&testutil.Key().PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, j.Claims("user_a"))
		tok.Header["kid"] = testutil.DefaultKID
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, j.Claims("user_a"))
		tok.Header["kid"] = testutil.DefaultKID
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tampered := func() string {
		parts := strings.Split(j.Token(t, "user_a"), ".")
		c := j.Claims("user_admin")
		b, _ := json.Marshal(c)
		parts[1] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(parts, ".")
	}

	cases := []struct {
		name, token, msg string
	}{
		{"missing", "", auth.MsgMissing},
		{"garbage", "not.a.jwt", auth.MsgInvalid},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), auth.MsgExpired},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), auth.MsgInvalid},
		{"nbf in the future", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), auth.MsgInvalid},
		{"wrong iss", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.clerk.accounts.dev" }), auth.MsgInvalid},
		{"wrong aud", with(func(c jwt.MapClaims) { c["aud"] = "another-api" }), auth.MsgInvalid},
		{"no sub", with(func(c jwt.MapClaims) { delete(c, "sub") }), auth.MsgInvalid},
		{"alg none", none(), auth.MsgInvalid},
		{"HS256 with the public key PEM", hs(pubPEM), auth.MsgInvalid},
		{"HS256 with the public key DER", hs(pubDER), auth.MsgInvalid},
		{"tampered payload", tampered(), auth.MsgInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(ctx, tc.token)
			wantAuthError(t, err, tc.msg)
		})
	}
	if n := j.Fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (no refetch for known kids)", n)
	}
}

func TestUnknownKIDRefetchesOnceThenRateLimited(t *testing.T) {
	j := testutil.NewJWKS(t)
	v := clerkVerifier(t, j)
	ctx := context.Background()
	if j.Fetches.Load() != 1 {
		t.Fatalf("initial fetches %d", j.Fetches.Load())
	}
	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// Clerk rotates: the new kid is unknown to the cache, one refetch finds it.
	j.Publish("ins_rotated", rotated)
	if _, err := v.Verify(ctx, j.Sign(t, "ins_rotated", rotated, j.Claims("user_b"))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := j.Fetches.Load(); n != 2 {
		t.Fatalf("fetches after rotation %d, want 2", n)
	}
	// Another unknown kid right away: the refetch is rate limited → 401, no fetch.
	for range 5 {
		_, err := v.Verify(ctx, j.Sign(t, "ins_unknown", rotated, j.Claims("user_b")))
		wantAuthError(t, err, auth.MsgInvalid)
	}
	if n := j.Fetches.Load(); n != 2 {
		t.Fatalf("fetches after unknown kids %d, want 2 (rate limited)", n)
	}
}

func TestUnknownKIDIs401AfterOneRefetch(t *testing.T) {
	j := testutil.NewJWKS(t)
	v := clerkVerifier(t, j)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), j.Sign(t, "ins_never_published", other, j.Claims("user_c")))
	wantAuthError(t, err, auth.MsgInvalid)
	if n := j.Fetches.Load(); n != 2 {
		t.Fatalf("fetches %d, want 2 (startup + one refetch)", n)
	}
	// A known kid with a signature by another key is refused too.
	_, err = v.Verify(context.Background(), j.Sign(t, testutil.DefaultKID, other, j.Claims("user_c")))
	wantAuthError(t, err, auth.MsgInvalid)
}

func TestAuthorizedParties(t *testing.T) {
	j := testutil.NewJWKS(t)
	v := clerkVerifier(t, j, "https://hermez.app", "http://localhost:4321")
	ctx := context.Background()
	if _, err := v.Verify(ctx, j.Token(t, "user_d")); err != nil {
		t.Fatalf("allowed azp: %v", err)
	}
	c := j.Claims("user_d")
	c["azp"] = "https://evil.example"
	_, err := v.Verify(ctx, j.Sign(t, testutil.DefaultKID, testutil.Key(), c))
	wantAuthError(t, err, auth.MsgInvalid)
	delete(c, "azp")
	_, err = v.Verify(ctx, j.Sign(t, testutil.DefaultKID, testutil.Key(), c))
	wantAuthError(t, err, auth.MsgInvalid)
}

func TestDevIssuerTokensAreNotClerkTokens(t *testing.T) {
	j := testutil.NewJWKS(t)
	v := clerkVerifier(t, j)
	dev := auth.NewDevIssuer(testutil.Key(), "hermez-backend-api")
	tok, err := dev.Mint("user_e", auth.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Same key, but iss hermez-dev is not trusted by a Clerk-only verifier.
	_, err = v.Verify(context.Background(), tok)
	wantAuthError(t, err, auth.MsgInvalid)
}

// BenchmarkVerify is the token check alone (RS256 with the cached JWKS, no database).
func BenchmarkVerify(b *testing.B) {
	j := testutil.NewJWKS(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kf, err := auth.NewClerkKeyfunc(ctx, j.URL, time.Hour, 30*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	v := auth.NewVerifier(auth.VerifierConfig{Audience: "hermez-backend-api", Leeway: 10 * time.Second})
	v.AddIssuer(j.URL, kf)
	tok := j.Token(b, "user_bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// A cached verification never outlives the token: once exp (+ leeway) passes,
// the same token string is refused as expired.
func TestVerifiedTokenCacheHonoursExpiry(t *testing.T) {
	j := testutil.NewJWKS(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kf, err := auth.NewClerkKeyfunc(ctx, j.URL, time.Hour, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.VerifierConfig{Audience: "hermez-backend-api"}) // no leeway
	v.AddIssuer(j.URL, kf)
	claims := j.Claims("user_cache")
	claims["exp"] = time.Now().Add(1200 * time.Millisecond).Unix()
	tok := j.Sign(t, testutil.DefaultKID, testutil.Key(), claims)
	for range 3 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("fresh token refused: %v", err)
		}
	}
	time.Sleep(time.Until(time.Unix(claims["exp"].(int64), 0)) + 50*time.Millisecond)
	_, err = v.Verify(ctx, tok)
	wantAuthError(t, err, auth.MsgExpired)
}
