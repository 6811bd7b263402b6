package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"hermez/pkg/config"
	"hermez/pkg/httpapi"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// clerkWeb is the web process configured for Clerk, against a test JWKS.
func clerkWeb(t testing.TB, edit func(*config.Config)) (*testutil.Web, *testutil.JWKS) {
	t.Helper()
	j := testutil.NewJWKS(t)
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) {
		c.ClerkFrontendAPIURL = j.URL
		c.ClerkJWTIssuer = j.URL
		if edit != nil {
			edit(c)
		}
	}})
	if w.Dev != nil {
		t.Fatal("development issuer must not exist with Clerk configured")
	}
	return w, j
}

func TestClerkAuthenticationOverHTTP(t *testing.T) {
	w, j := clerkWeb(t, func(c *config.Config) { c.ClerkAuthorizedParties = []string{"http://localhost:4321"} })
	now := time.Now()
	with := func(edit func(jwt.MapClaims)) string {
		c := j.Claims("user_clerk")
		edit(c)
		return j.Sign(t, testutil.DefaultKID, testutil.Key(), c)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, j.Claims("user_clerk"))
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	res := w.Do(t, "GET", "/user/api/me/", j.Token(t, "user_clerk"), nil)
	wantStatus(t, res, 200)
	if !strings.Contains(string(res.Body), `"email":"user_clerk@clerk.test"`) {
		t.Fatalf("claims not applied: %s", res.Body)
	}

	cases := map[string]string{
		"expired":           with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }),
		"nbf in the future": with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }),
		"wrong iss":         with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }),
		"wrong aud":         with(func(c jwt.MapClaims) { c["aud"] = "other" }),
		"azp not allowed":   with(func(c jwt.MapClaims) { c["azp"] = "https://evil.example" }),
		"unknown kid":       j.Sign(t, "ins_unknown", other, j.Claims("user_clerk")),
		"alg none":          noneTok,
		"garbage":           "abc.def.ghi",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			res := w.Do(t, "GET", "/user/api/me/", tok, nil)
			wantDetail(t, res, 401)
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	res = w.Do(t, "GET", "/user/api/me/", cases["expired"], nil)
	if m := res.Map(t); m["detail"] != "Token expirado." {
		t.Fatalf("expired detail %v", m["detail"])
	}
	// The rest of the routes answer 401 the same way.
	for _, p := range []string{"/user/api/me/addresses/", "/user/api/me/vehicles/", "/user/api/user-ratings/", "/user/api/me/vehicle-types"} {
		res := w.Do(t, "GET", p, "", nil)
		wantDetail(t, res, 401)
		if res.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: no WWW-Authenticate", p)
		}
	}
}

func TestClerkDeletedUserIsRefused(t *testing.T) {
	w, j := clerkWeb(t, nil)
	tok := j.Token(t, "user_gone")
	wantStatus(t, w.Do(t, "GET", "/user/api/me/", tok, nil), 200)
	wantStatus(t, w.Do(t, "DELETE", "/user/api/me/user_gone/", tok, nil), 204)
	res := w.Do(t, "GET", "/user/api/me/", tok, nil)
	wantDetail(t, res, 401)
	if res.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("no WWW-Authenticate")
	}
	// A fresh token does not resurrect the profile either.
	wantDetail(t, w.Do(t, "GET", "/user/api/me/", j.Token(t, "user_gone"), nil), 401)
	var u store.User
	if err := w.Store.DB.Where("userid = ?", "user_gone").Take(&u).Error; err != nil {
		t.Fatal(err)
	}
	if u.DeletedAt == nil || u.Email != nil || u.FirstName != nil {
		t.Fatalf("profile not deleted: %+v", u)
	}
}

func TestClerkJWKSFetchedOnce(t *testing.T) {
	w, j := clerkWeb(t, nil)
	tok := j.Token(t, "user_many")
	for i := range 100 {
		res := w.Do(t, "GET", "/user/api/me/", tok, nil)
		if res.Status != 200 {
			t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
		}
	}
	if n := j.Fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times across 100 requests, want 1", n)
	}
}

// BenchmarkAuthenticate measures the authentication middleware on a valid
// Clerk token (RS256 verification with the cached JWKS + the user lookup),
// in process, without the network.
func BenchmarkAuthenticate(b *testing.B) {
	w, j := clerkWeb(b, nil)
	tok := j.Token(b, "user_bench")
	if _, err := w.App.Auth.Authenticate(context.Background(), tok); err != nil {
		b.Fatal(err) // first sight creates the user outside the loop
	}
	e := echo.New()
	mw := httpapi.RequireUser(w.App.Auth)(func(c echo.Context) error {
		if httpapi.CurrentUser(c) == nil {
			b.Fatal("no user")
		}
		return nil
	})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/user/api/me/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if err := mw(e.NewContext(req, httptest.NewRecorder())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMeEndToEnd is GET /user/api/me/ through the whole Echo stack.
func BenchmarkMeEndToEnd(b *testing.B) {
	w, j := clerkWeb(b, nil)
	tok := j.Token(b, "user_bench")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/user/api/me/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		w.App.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func TestClaimsRefreshTheRow(t *testing.T) {
	w, j := clerkWeb(t, nil)
	wantStatus(t, w.Do(t, "GET", "/user/api/me/", j.Token(t, "user_claims"), nil), 200)
	c := j.Claims("user_claims")
	c["first_name"], c["email"], c["last_name"], c["image_url"] = "Nueva", "nueva@clerk.test", "", "https://img.clerk.com/n"
	res := w.Do(t, "GET", "/user/api/me/user_claims/", j.Sign(t, testutil.DefaultKID, testutil.Key(), c), nil)
	wantStatus(t, res, 200)
	m := res.Map(t)
	// Non-empty differing claims refresh; an empty claim never clears a field.
	if m["first_name"] != "Nueva" || m["email"] != "nueva@clerk.test" || m["last_name"] != "user_claims" || m["image_url"] != "https://img.clerk.com/n" {
		t.Fatalf("claims refresh: %s", res.Body)
	}
}

func TestConcurrentFirstSight(t *testing.T) {
	w, j := clerkWeb(t, nil)
	tok := j.Token(t, "user_burst")
	errs := make(chan string, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", w.URL+"/user/api/me/", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				errs <- res.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	var n int64
	w.Store.DB.Model(&store.User{}).Where("userid = ?", "user_burst").Count(&n)
	if n != 1 {
		t.Fatalf("rows %d", n)
	}
}
