package app_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/testutil"
)

func TestImportDjangoNeedsASourceAndPostgreSQL(t *testing.T) {
	t.Setenv("DJANGO_DATABASE_URL", "")
	cfg := config.Defaults()
	cfg.DatabaseURL = "postgres://127.0.0.1:1/none"
	err := app.ImportDjango(context.Background(), cfg, testutil.Logger(), nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "usage: web import-django --from") {
		t.Fatalf("no --from: %v", err)
	}
	cfg.DatabaseURL = ""
	err = app.ImportDjango(context.Background(), cfg, testutil.Logger(), []string{"--from", "postgres://127.0.0.1:1/django"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "set DATABASE_URL") {
		t.Fatalf("local mode target: %v", err)
	}
}
