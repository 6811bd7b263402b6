package auth_test

import (
	"context"
	"testing"
	"time"

	"hermez/pkg/auth"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The authenticated row is reused for UserTTL, but never against the token's
// claims, never after Forget and never after the TTL.
func TestAuthenticatorUserCache(t *testing.T) {
	t.Parallel()
	st := testutil.NewStore(t)
	j := testutil.NewJWKS(t)
	a := &auth.Authenticator{Verifier: clerkVerifier(t, j), Store: st, UserTTL: time.Hour}
	ctx := context.Background()
	tok := j.Token(t, "user_cached")
	setPhone := func(p string) {
		t.Helper()
		if err := st.DB.Model(&store.User{}).Where("userid = ?", "user_cached").Update("phone", p).Error; err != nil {
			t.Fatal(err)
		}
	}
	phone := func(u *store.User) string {
		if u.Phone == nil {
			return ""
		}
		return *u.Phone
	}

	u, err := a.Authenticate(ctx, tok)
	if err != nil || u.UserID != "user_cached" {
		t.Fatalf("first sight: %+v %v", u, err)
	}
	// Another process changes the row: within the TTL this process does not
	// read it again (that is the point of the cache)...
	setPhone("3000000001")
	if u, _ = a.Authenticate(ctx, tok); phone(u) != "" {
		t.Fatalf("cached row was read again: phone %q", phone(u))
	}
	// ...a returned row is a copy: editing it does not edit the cache...
	u.Phone = new(string)
	*u.Phone = "edited"
	if u, _ = a.Authenticate(ctx, tok); phone(u) != "" {
		t.Fatalf("the cache handed out its own row: %q", phone(u))
	}
	// ...and after Forget (what this process's writes call) it does.
	a.Forget("user_cached")
	if u, _ = a.Authenticate(ctx, tok); phone(u) != "3000000001" {
		t.Fatalf("after Forget: phone %q", phone(u))
	}

	// Claims that differ from the cached row refresh it at once.
	c := j.Claims("user_cached")
	c["first_name"] = "Renombrada"
	if u, err = a.Authenticate(ctx, j.Sign(t, testutil.DefaultKID, testutil.Key(), c)); err != nil || u.FirstName == nil || *u.FirstName != "Renombrada" {
		t.Fatalf("new claims on a cached user: %+v %v", u, err)
	}
	var row store.User
	if err := st.DB.Where("userid = ?", "user_cached").Take(&row).Error; err != nil || *row.FirstName != "Renombrada" {
		t.Fatalf("claims not written to the row: %v %v", row.FirstName, err)
	}

	// A deleted user is refused once forgotten (here at once; elsewhere within the TTL).
	if err := st.DB.Model(&store.User{}).Where("userid = ?", "user_cached").Update("deleted_at", store.Now()).Error; err != nil {
		t.Fatal(err)
	}
	a.Forget("user_cached")
	_, err = a.Authenticate(ctx, j.Token(t, "user_cached"))
	wantAuthError(t, err, auth.MsgDeleted)
}

func TestAuthenticatorUserCacheExpires(t *testing.T) {
	t.Parallel()
	st := testutil.NewStore(t)
	clock := testutil.NewClock(time.Time{})
	st.Now = clock.Now
	j := testutil.NewJWKS(t)
	a := &auth.Authenticator{Verifier: clerkVerifier(t, j), Store: st, UserTTL: time.Minute}
	ctx := context.Background()
	tok := j.Token(t, "user_ttl")
	if _, err := a.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := st.DB.Model(&store.User{}).Where("userid = ?", "user_ttl").Update("is_staff", true).Error; err != nil {
		t.Fatal(err)
	}
	if u, err := a.Authenticate(ctx, tok); err != nil || u.IsStaff {
		t.Fatalf("within the TTL the cached row must be served: %+v %v", u, err)
	}
	clock.Advance(time.Minute + time.Millisecond)
	if u, err := a.Authenticate(ctx, tok); err != nil || !u.IsStaff {
		t.Fatalf("after the TTL the row must be read again: %+v %v", u, err)
	}
}
