package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"hermez/pkg/account"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// A token's profile: cleaned (never refused but for the id), the row created
// on first sight, refreshed by non-empty differing fields only, a deleted
// user refused — without HTTP.
func TestUserFromToken(t *testing.T) {
	st := testutil.NewStore(t)
	clock := testutil.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	st.Now = clock.Now
	ctx := context.Background()

	if _, ok := (account.ClerkProfile{UserID: "\x00"}).Cleaned(); ok {
		t.Fatal("an id that is only a NUL was accepted")
	}
	if _, ok := (account.ClerkProfile{UserID: strings.Repeat("u", 256)}).Cleaned(); ok {
		t.Fatal("an id longer than any Clerk id was accepted")
	}
	p, ok := account.ClerkProfile{UserID: "user_\x00tok", FirstName: "A\x00na", Username: strings.Repeat("ñ", 151)}.Cleaned()
	if !ok || p.UserID != "user_tok" || p.FirstName != "Ana" || len([]rune(p.Username)) != 150 {
		t.Fatalf("cleaned: %+v ok=%v", p, ok)
	}

	u, err := account.UserFromToken(ctx, st, p)
	if err != nil {
		t.Fatal(err)
	}
	if u.FirstName == nil || *u.FirstName != "Ana" || u.LastName != nil || !u.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("created: %+v", u)
	}
	if p.Changes(u) != nil {
		t.Fatalf("the row just created differs from its profile: %v", p.Changes(u))
	}

	clock.Advance(time.Hour)
	// An empty claim never clears a column; a differing one refreshes it.
	p2 := account.ClerkProfile{UserID: "user_tok", FirstName: "Beatriz"}
	if ch := p2.Changes(u); len(ch) != 1 || ch["first_name"] != "Beatriz" {
		t.Fatalf("changes: %v", ch)
	}
	u, err = account.UserFromToken(ctx, st, p2)
	if err != nil {
		t.Fatal(err)
	}
	var row store.User
	st.DB.Where("userid = ?", "user_tok").Take(&row)
	if *u.FirstName != "Beatriz" || *row.FirstName != "Beatriz" || row.Username == nil || !row.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("refreshed: returned %+v, row %+v", u, row)
	}

	now := clock.Now()
	st.DB.Model(&store.User{}).Where("userid = ?", "user_tok").Update("deleted_at", now)
	if _, err := account.UserFromToken(ctx, st, p2); !errors.Is(err, account.ErrUserDeleted) {
		t.Fatalf("deleted user: %v", err)
	}
}
