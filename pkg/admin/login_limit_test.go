package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"hermez/pkg/admin"
	"hermez/pkg/config"
	"hermez/pkg/testutil"
)

// guess posts one login attempt with extra headers (after fetching the form).
func (b *browser) guess(user, pass string, hdr ...string) *page {
	b.t.Helper()
	lp := b.get("/admin/login/")
	return b.do(http.MethodPost, "/admin/login/", url.Values{"csrf_token": {csrf(b.t, lp)}, "username": {user}, "password": {pass}}, hdr...)
}

func limitFixture(t *testing.T, edit func(*config.Config)) *fixture {
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) {
		c.ThrottleAnon = "0"
		if edit != nil {
			edit(c)
		}
	}})
	if _, err := admin.CreateAccount(context.Background(), w.Store, "ana", staffPass, false); err != nil {
		t.Fatal(err)
	}
	return &fixture{W: w}
}

// Issue 12 §3: a new X-Forwarded-For or X-Real-IP on each try does not lift
// the limit (TRUSTED_PROXY_HOPS=0: the peer address is the client's).
func TestLoginLimitIgnoresForgedAddresses(t *testing.T) {
	f := limitFixture(t, nil)
	b := f.browser(t)
	for i := 0; i < admin.LoginFailsPerIP; i++ {
		ip := fmt.Sprintf("198.51.100.%d", i)
		if res := b.guess("ana", "mala", "X-Forwarded-For", ip, "X-Real-IP", ip); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	for _, hdr := range [][]string{
		{"X-Forwarded-For", "203.0.113.50"}, {"X-Real-IP", "203.0.113.51"},
		{"X-Forwarded-For", "203.0.113.52, 203.0.113.53", "X-Real-IP", "203.0.113.54"},
	} {
		if res := b.guess("ana", staffPass, hdr...); res.Status != http.StatusTooManyRequests {
			t.Fatalf("forged %v lifted the limit: %d", hdr, res.Status)
		}
	}
}

// Behind one proxy (TRUSTED_PROXY_HOPS=1) the proxy's entry is the client:
// entries the client wrote to the left of it change nothing.
func TestLoginLimitBehindAProxy(t *testing.T) {
	f := limitFixture(t, func(c *config.Config) { c.TrustedProxyHops = 1 })
	b := f.browser(t)
	for i := 0; i < admin.LoginFailsPerIP; i++ {
		forged := fmt.Sprintf("198.51.100.%d, 203.0.113.9", i)
		if res := b.guess("ana", "mala", "X-Forwarded-For", forged, "X-Real-IP", "1.2.3.4"); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	if res := b.guess("ana", staffPass, "X-Forwarded-For", "10.10.10.10, 203.0.113.9"); res.Status != http.StatusTooManyRequests {
		t.Fatalf("same client, forged left entry: %d", res.Status)
	}
	if res := b.guess("ana", staffPass, "X-Forwarded-For", "203.0.113.10"); res.Status != http.StatusSeeOther {
		t.Fatalf("another client is not limited: %d", res.Status)
	}
}

// Issue 12 §3: concurrent guesses from many addresses never pass the
// per-username cap (it is reserved before the password is checked).
func TestConcurrentGuessesNeverPassTheUsernameCap(t *testing.T) {
	f := limitFixture(t, func(c *config.Config) { c.TrustedProxyHops = 1 })
	const workers, total = 8, 60
	var next, checked, refused atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := f.browser(t)
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				ip := fmt.Sprintf("192.0.2.%d", n) // a new address each time: only the username cap applies
				switch res := b.guess("ana", "mala", "X-Forwarded-For", ip); res.Status {
				case http.StatusUnauthorized:
					checked.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("guess %d: %d", n, res.Status)
				}
			}
		}()
	}
	wg.Wait()
	if checked.Load() != admin.LoginFailsPerAcc || refused.Load() != total-admin.LoginFailsPerAcc {
		t.Fatalf("%d passwords checked and %d refused of %d guesses; the cap is %d", checked.Load(), refused.Load(), total, admin.LoginFailsPerAcc)
	}
}

// A username PostgreSQL would refuse (U+0000, not UTF-8, too long) is a
// failed login, never a 500.
func TestLoginWithHostileUsernames(t *testing.T) {
	f := limitFixture(t, func(c *config.Config) { c.TrustedProxyHops = 1 })
	b := f.browser(t)
	for i, u := range []string{"ana\x00", "\xa5\xff", strings.Repeat("a", 5000)} {
		if res := b.guess(u, staffPass, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1)); res.Status != http.StatusUnauthorized {
			t.Fatalf("username %.10q: %d", u, res.Status)
		}
	}
}
