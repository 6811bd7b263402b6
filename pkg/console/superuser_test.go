package console_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"hermez/pkg/audit"
	"hermez/pkg/console"
	"hermez/pkg/store"
)

// TestCreateSuperuser: the `web createsuperuser` command takes the password
// from the environment or stdin (never a flag), refuses what CreateAccount
// refuses without creating anything, and --update resets and reactivates.
func TestCreateSuperuser(t *testing.T) {
	f := newFixture(t)
	st, svc := f.st, f.svc
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var out bytes.Buffer
	// Password from the environment, username from the flag.
	err := svc.CreateSuperuser(ctx, []string{"--username", "ana"}, console.SuperuserIO{In: strings.NewReader(""), Out: &out,
		Getenv: env(map[string]string{console.PasswordEnv: "clave-de-ana"})})
	if err != nil {
		t.Fatal(err)
	}
	// Username and password from stdin (not a terminal: one line each).
	err = svc.CreateSuperuser(ctx, nil, console.SuperuserIO{In: strings.NewReader("beto\nclave-de-beto\n"), Out: &out, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if o := out.String(); !strings.Contains(o, `"ana" creada`) || !strings.Contains(o, `"beto" creada`) {
		t.Errorf("output: %q", o)
	}
	var accs []store.StaffAccount
	f.must(st.DB.Order("username").Find(&accs).Error)
	if len(accs) != 2 || accs[0].Username != "ana" || accs[1].Username != "beto" || !accs[0].IsActive ||
		strings.Contains(accs[0].PasswordHash, "clave") || !strings.HasPrefix(accs[0].PasswordHash, "$2") {
		t.Fatalf("accounts: %+v", accs)
	}
	refused := map[string][]string{
		"existing": {"--username", "ana"},
		"flag":     {"--username", "carla", "--password", "clave-de-carla"},
		"short":    {"--username", "dora"},
		"bad name": {"--username", "con espacio"},
	}
	for name, args := range refused {
		pass := "clave-larga-1"
		if name == "short" {
			pass = "corta"
		}
		err := svc.CreateSuperuser(ctx, args, console.SuperuserIO{In: strings.NewReader(""), Out: io.Discard,
			Getenv: env(map[string]string{console.PasswordEnv: pass})})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var n int64
	f.must(st.DB.Model(&store.StaffAccount{}).Count(&n).Error)
	if n != 2 {
		t.Fatalf("refused commands created accounts: %d", n)
	}
	// --update sets a new password and reactivates.
	f.must(svc.SetAccountActive(ctx, &audit.Staff{ID: accs[0].ID, Username: accs[0].Username}, accs[0].ID, false))
	err = svc.CreateSuperuser(ctx, []string{"--username", "ana", "--update"}, console.SuperuserIO{In: strings.NewReader("otra-clave-9\n"), Out: io.Discard, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var ana store.StaffAccount
	f.must(st.DB.Where("username = ?", "ana").Take(&ana).Error)
	if !ana.IsActive || ana.PasswordHash == accs[0].PasswordHash {
		t.Fatalf("after --update: %+v", ana)
	}
}
