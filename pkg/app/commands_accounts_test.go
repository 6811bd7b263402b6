package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"hermez/pkg/app"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/testutil"
)

func TestTokenCommandMintsAVerifiableToken(t *testing.T) {
	cfg := config.Defaults()
	cfg.DevKeyDir = t.TempDir()
	var out bytes.Buffer
	if err := app.Token(context.Background(), cfg, []string{"user_cli", "--name", "Ana Gómez", "--email", "ana@example.com"}, &out); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if strings.Count(line, "\n") != 1 || strings.Count(line, ".") != 2 {
		t.Fatalf("not one bare JWT line: %q", line)
	}
	dev, err := app.DevIssuer(cfg)
	if err != nil || dev == nil {
		t.Fatalf("dev issuer: %v", err)
	}
	v := auth.NewVerifier(auth.VerifierConfig{Audience: cfg.ClerkJWTAudience})
	v.AddIssuer(auth.DevIssuerName, dev.Keyfunc)
	c, err := v.Verify(context.Background(), strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "user_cli" || c.FirstName != "Ana" || c.LastName != "Gómez" || c.Email != "ana@example.com" || c.Username != "user_cli" {
		t.Fatalf("claims %+v", c)
	}
}

func TestDevIssuerImpossibleInProduction(t *testing.T) {
	cfg := config.Defaults()
	cfg.DevKeyDir = t.TempDir()
	cfg.DatabaseURL = "postgres://prod/db"
	cfg.Debug = false
	if err := app.Token(context.Background(), cfg, []string{"user_x"}, &bytes.Buffer{}); err == nil {
		t.Fatal("token minted with DATABASE_URL set and DEBUG=false")
	}
	if dev, _ := app.DevIssuer(cfg); dev != nil {
		t.Fatal("development issuer exists in production")
	}
	cfg.Debug = true
	cfg.ClerkFrontendAPIURL = "https://clerk.example"
	if dev, _ := app.DevIssuer(cfg); dev != nil {
		t.Fatal("development issuer exists next to Clerk")
	}
}

func TestStaffCommand(t *testing.T) {
	cfg := testutil.Config(t) // local mode: the command opens (and migrates) its own SQLite file
	cfg.SQLitePath = t.TempDir() + "/staff.db"
	log := testutil.Logger()
	if err := app.Staff(context.Background(), cfg, log, []string{"user_boss"}); err != nil {
		t.Fatal(err)
	}
	s2, err := app.OpenStore(context.Background(), cfg, log, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var staff bool
	if err := s2.DB.Raw("SELECT is_staff FROM users WHERE userid = ?", "user_boss").Scan(&staff).Error; err != nil || !staff {
		t.Fatalf("staff not set: %v %v", staff, err)
	}
	if err := app.Staff(context.Background(), cfg, log, []string{"user_boss", "--off"}); err != nil {
		t.Fatal(err)
	}
	if err := s2.DB.Raw("SELECT is_staff FROM users WHERE userid = ?", "user_boss").Scan(&staff).Error; err != nil || staff {
		t.Fatalf("staff not removed: %v %v", staff, err)
	}
}
