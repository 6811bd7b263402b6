package account_test

import (
	"context"
	"testing"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// One staff-flag rule, with the unknown-id case chosen by the caller: the
// console refuses an id never seen (404), `web staff` creates its row.
func TestSetStaff(t *testing.T) {
	st := testutil.NewStore(t)
	ctx := context.Background()
	var forgotten []string
	svc := account.New(st, nil, testutil.Logger())
	svc.UserChanged = func(ids ...string) { forgotten = append(forgotten, ids...) }

	err := svc.SetStaff(ctx, nil, "user_never_seen", true, account.UnknownNotFound)
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.NotFound {
		t.Fatalf("unknown id with UnknownNotFound: %v, want 404", err)
	}
	var n int64
	st.DB.Model(&store.User{}).Where("userid = ?", "user_never_seen").Count(&n)
	if n != 0 {
		t.Fatal("UnknownNotFound created a row")
	}

	if err := svc.SetStaff(ctx, nil, "user_never_seen", true, account.UnknownCreate); err != nil {
		t.Fatal(err)
	}
	var u store.User
	if err := st.DB.Where("userid = ?", "user_never_seen").Take(&u).Error; err != nil || !u.IsStaff {
		t.Fatalf("UnknownCreate: row %+v err %v, want a staff row", u, err)
	}

	// A known user: both choices just set the flag.
	if err := svc.SetStaff(ctx, nil, "user_never_seen", false, account.UnknownNotFound); err != nil {
		t.Fatal(err)
	}
	st.DB.Where("userid = ?", "user_never_seen").Take(&u)
	if u.IsStaff {
		t.Fatal("flag not cleared")
	}
	if len(forgotten) != 3 {
		t.Fatalf("UserChanged told %v, want once per call", forgotten)
	}
}
