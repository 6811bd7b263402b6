package auth_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"hermez/pkg/auth"
	"hermez/pkg/testutil"
)

// clerkKeys runs ClerkKeys on j, fetching in-process (j.Client): called in a
// synctest bubble, the retry schedule runs on the bubble's clock and the
// tests below take milliseconds, not the seconds they describe.
func clerkKeys(t *testing.T, j *testutil.JWKS, refresh time.Duration) (*auth.ClerkKeys, *auth.Verifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k := auth.NewClerkKeysWithClient(ctx, j.URL, refresh, 30*time.Second, testutil.Logger(), j.Client())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	kf, err := k.Keyfunc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.VerifierConfig{Audience: "hermez-backend-api", Leeway: 10 * time.Second})
	v.AddIssuer(j.URL, kf)
	return k, v
}

// Clerk unreachable at start: not ready, tokens refused; once it is back the
// background retry (≤ 1 s apart) loads the keys with no token needed, and
// tokens verify within 2 s.
func TestClerkKeysRetryUntilFirstLoad(t *testing.T) {
	j := testutil.NewJWKS(t)
	synctest.Test(t, func(t *testing.T) {
		j.Down.Store(true)
		k, v := clerkKeys(t, j, time.Hour)
		ctx := context.Background()
		if k.Ready(ctx) == nil {
			t.Fatal("ready with no key loaded")
		}
		if _, err := v.Verify(ctx, j.Token(t, "user_a")); err == nil {
			t.Fatal("token accepted with no key loaded")
		}
		time.Sleep(2500 * time.Millisecond)
		if n := j.Fetches.Load(); n < 4 {
			t.Fatalf("%d fetches in 2.5 s of outage, want a retry at least every second", n)
		}
		j.Down.Store(false)
		back := time.Now()
		for k.Ready(ctx) != nil {
			if time.Since(back) > 2*time.Second {
				t.Fatalf("keys not loaded 2 s after the JWKS came back (%d fetches)", j.Fetches.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := v.Verify(ctx, j.Token(t, "user_a")); err != nil {
			t.Fatalf("token refused after the JWKS came back: %v", err)
		}
		t.Logf("keys loaded %s after the JWKS came back", time.Since(back).Round(time.Millisecond))
	})
}

// While the last fetch failed, a token with an unknown kid fetches at once
// (at most every 200 ms; not after the 30 s unknown-kid limit, nor after the
// background's next retry, up to 1 s away): it verifies as soon as Clerk answers.
func TestUnknownKIDFetchesAtOnceAfterAFailedFetch(t *testing.T) {
	j := testutil.NewJWKS(t)
	synctest.Test(t, func(t *testing.T) {
		j.Down.Store(true)
		_, v := clerkKeys(t, j, time.Hour)
		ctx := context.Background()
		tok := j.Token(t, "user_b")
		time.Sleep(1600 * time.Millisecond) // the background retry is now 1 s apart
		if _, err := v.Verify(ctx, tok); err == nil {
			t.Fatal("accepted while down")
		}
		j.Down.Store(false)
		back := time.Now()
		for {
			_, err := v.Verify(ctx, tok)
			if err == nil {
				break
			}
			if time.Since(back) > 600*time.Millisecond {
				t.Fatalf("token still refused %s after the JWKS came back: %v", time.Since(back), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("first token accepted %s after the JWKS came back", time.Since(back).Round(time.Millisecond))
	})
}

// Keys already loaded keep verifying through an outage (refreshes fail).
func TestLoadedKeysSurviveAnOutage(t *testing.T) {
	j := testutil.NewJWKS(t)
	synctest.Test(t, func(t *testing.T) {
		k, v := clerkKeys(t, j, 50*time.Millisecond)
		ctx := context.Background()
		if err := k.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		j.Down.Store(true)
		before := j.Fetches.Load()
		time.Sleep(200 * time.Millisecond)
		if j.Fetches.Load() == before {
			t.Fatal("no refresh attempted during the outage")
		}
		if _, err := v.Verify(ctx, j.Token(t, "user_c")); err != nil {
			t.Fatalf("loaded key lost in an outage: %v", err)
		}
		if err := k.Ready(ctx); err != nil {
			t.Fatalf("not ready during an outage with keys loaded: %v", err)
		}
	})
}
