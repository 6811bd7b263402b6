package console_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/console"
	"hermez/pkg/store"
)

// invalidFields returns the fields of an Invalid error (nil for any other).
func invalidFields(err error) []string {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		return nil
	}
	var fs []string
	for k := range e.Fields {
		fs = append(fs, k)
	}
	slices.Sort(fs)
	return fs
}

func TestCreateAccountValidation(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, username, password string
		fields                   []string // refused fields; nil: created
	}{
		{"ok", "ana.lopez@hermez+1", "s3creta-larga", nil},
		{"unicode letters", "josé_ñ", "s3creta-larga", nil},
		{"blank username", "   ", "s3creta-larga", []string{"username"}},
		{"150 runes", strings.Repeat("ñ", 150), "s3creta-larga", nil},
		{"151 runes", strings.Repeat("a", 151), "s3creta-larga", []string{"username"}},
		{"space inside", "ana lopez", "s3creta-larga", []string{"username"}},
		{"slash", "ana/lopez", "s3creta-larga", []string{"username"}},
		{"one short of the minimum", "bob", "abcdefghij"[:console.MinPasswordLen-1], []string{"password"}},
		{"the minimum", "bob8", "abcdefghij"[:console.MinPasswordLen], nil},
		{"8 runes, more bytes", "bobrunes", "ññññññña", nil},
		{"73 bytes", "bob73", strings.Repeat("x", 73), []string{"password"}},
		{"72 bytes", "bob72", strings.Repeat("x", 72), nil},
		{"all digits", "bobnum", "1234567890", []string{"password"}},
		{"same as username, any case", "Roberto99", "roberto99", []string{"password"}},
		{"both wrong", "", "short", []string{"password", "username"}},
	}
	for _, c := range cases {
		acc, err := f.svc.CreateAccount(ctx, c.username, c.password, false)
		if c.fields == nil {
			if err != nil || acc == nil || acc.Username != strings.TrimSpace(c.username) || !acc.IsActive {
				t.Errorf("%s: %+v %v, want an active account", c.name, acc, err)
			}
			continue
		}
		if got := invalidFields(err); !slices.Equal(got, c.fields) || acc != nil {
			t.Errorf("%s: %v (fields %v), want Invalid on %v", c.name, err, got, c.fields)
		}
	}
	var n int64
	f.must(f.st.DB.Model(&store.StaffAccount{}).Count(&n).Error)
	if n != 6 {
		t.Fatalf("%d accounts stored, want the 6 valid ones", n)
	}
}

func TestCreateAccountStoresHashOnly(t *testing.T) {
	f := newFixture(t)
	const pw = "s3creta-larga"
	acc, err := f.svc.CreateAccount(ctx, "  ana  ", pw, false)
	if err != nil {
		t.Fatal(err)
	}
	var row store.StaffAccount
	f.must(f.st.DB.Where("id = ?", acc.ID).Take(&row).Error)
	if row.Username != "ana" || !row.CreatedAt.Equal(t0) || row.LastLoginAt != nil {
		t.Fatalf("stored %+v, want username trimmed, created at t0, never logged in", row)
	}
	if row.PasswordHash == pw || strings.Contains(row.PasswordHash, pw) {
		t.Fatal("password stored in clear")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(row.PasswordHash), []byte(pw)); err != nil {
		t.Fatalf("stored hash does not match the password: %v", err)
	}
}

func TestCreateAccountDuplicate(t *testing.T) {
	f := newFixture(t)
	first, err := f.svc.CreateAccount(ctx, "ana", "primera-clave", false)
	if err != nil {
		t.Fatal(err)
	}
	// Without update: refused on username, password unchanged.
	_, err = f.svc.CreateAccount(ctx, " ana ", "segunda-clave", false)
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Invalid || len(e.Fields["username"]) != 1 ||
		!strings.HasPrefix(e.Fields["username"][0], "Ya existe") {
		t.Fatalf("duplicate without update: %v, want Invalid on username", err)
	}
	if acc, _ := f.svc.CheckPassword(ctx, "ana", "primera-clave"); acc == nil {
		t.Fatal("refused duplicate changed the password")
	}
	// Usernames are compared as stored: another case is another account.
	if _, err := f.svc.CreateAccount(ctx, "ANA", "tercera-clave", false); err != nil {
		t.Fatalf("ANA next to ana: %v", err)
	}

	// With update: same row, new password, reactivated.
	f.must(f.svc.SetAccountActive(ctx, &audit.Staff{ID: first.ID, Username: first.Username}, first.ID, false))
	again, err := f.svc.CreateAccount(ctx, "ana", "segunda-clave", true)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || !again.IsActive {
		t.Fatalf("update: %+v, want account %s active", again, first.ID)
	}
	if acc, _ := f.svc.CheckPassword(ctx, "ana", "primera-clave"); acc != nil {
		t.Fatal("old password still accepted after update")
	}
	if acc, _ := f.svc.CheckPassword(ctx, "ana", "segunda-clave"); acc == nil || acc.ID != first.ID {
		t.Fatalf("new password refused after update: %+v", acc)
	}
	// With update, a new username is simply created; validation still applies.
	if acc, err := f.svc.CreateAccount(ctx, "beto", "otra-clave-1", true); err != nil || acc.ID == first.ID {
		t.Fatalf("update of an unknown username: %+v %v, want a new account", acc, err)
	}
	if _, err := f.svc.CreateAccount(ctx, "ana", "123456789", true); !slices.Equal(invalidFields(err), []string{"password"}) {
		t.Fatalf("update with a numeric password: %v, want Invalid on password", err)
	}
}

func TestCheckPassword(t *testing.T) {
	f := newFixture(t)
	acc, err := f.svc.CreateAccount(ctx, "ana", "clave-buena", false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, username, password string
		active                   bool
		ok                       bool
	}{
		{"right", "ana", "clave-buena", true, true},
		{"username trimmed", " ana ", "clave-buena", true, true},
		{"wrong password", "ana", "clave-mala", true, false},
		{"password case matters", "ana", "CLAVE-BUENA", true, false},
		{"unknown username", "nadie", "clave-buena", true, false},
		{"empty", "", "", true, false},
		{"inactive, right password", "ana", "clave-buena", false, false},
		{"reactivated", "ana", "clave-buena", true, true},
	}
	for _, c := range cases {
		f.must(f.svc.SetAccountActive(ctx, &audit.Staff{ID: acc.ID, Username: acc.Username}, acc.ID, c.active))
		got, err := f.svc.CheckPassword(ctx, c.username, c.password)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (got != nil) != c.ok {
			t.Fatalf("%s: %+v, want ok=%v", c.name, got, c.ok)
		}
		if got != nil && (got.ID != acc.ID || got.LastLoginAt == nil || !got.LastLoginAt.Equal(t0)) {
			t.Fatalf("%s: %+v, want account %s logged in at t0", c.name, got, acc.ID)
		}
	}
	// The login is recorded in the row.
	row, err := f.svc.Account(ctx, acc.ID.String())
	if err != nil || row == nil || row.LastLoginAt == nil || !row.LastLoginAt.Equal(t0) {
		t.Fatalf("Account after login: %+v %v, want last_login_at t0", row, err)
	}
}

func TestSetAccountActiveUnknown(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.SetAccountActive(ctx, &audit.Staff{ID: uuid.New(), Username: "nadie"}, uuid.New(), false); !isNotFound(err) {
		t.Fatalf("SetAccountActive(unknown): %v, want the not-found kind", err)
	}
	if acc, err := f.svc.Account(ctx, uuid.New().String()); acc != nil || err != nil {
		t.Fatalf("Account(unknown): %+v %v, want nil, nil", acc, err)
	}
}

func TestAccounts(t *testing.T) {
	f := newFixture(t)
	accs, err := f.svc.Accounts(ctx)
	if err != nil || len(accs) != 0 {
		t.Fatalf("Accounts on an empty table: %v %v", accs, err)
	}
	for _, u := range []string{"carla", "ana", "beto"} {
		if _, err := f.svc.CreateAccount(ctx, u, "clave-"+u+"-1", false); err != nil {
			t.Fatal(err)
		}
	}
	accs, err = f.svc.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(accs, func(a store.StaffAccount) string { return a.Username }); !slices.Equal(got, []string{"ana", "beto", "carla"}) {
		t.Fatalf("Accounts: %v, want by username", got)
	}
	for _, a := range accs {
		if !a.IsActive || a.PasswordHash == "" || a.PasswordHash == "clave-"+a.Username+"-1" {
			t.Errorf("%s: active %v hash %q, want active with a hash", a.Username, a.IsActive, a.PasswordHash)
		}
	}
}
