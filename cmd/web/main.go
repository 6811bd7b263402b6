// Command web is the Hermez HTTP API (and, in single-process mode, the sockets
// and the sweeper too). Subcommands: serve (default), migrate, seed, expire,
// staff, createsuperuser, token, import-django.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"hermez/pkg/app"
	"hermez/pkg/config"
)

const usage = `usage: web [command]

commands:
  serve                      run the HTTP API (default)
  migrate                    apply database migrations
  seed                       create delivery categories and vehicle types (idempotent)
  expire                     one sweep of expired quotes and offers
  staff <userid> [--off]     grant or remove staff powers
  createsuperuser [--username NAME] [--update]
                             create a staff console login for /admin/ (password from a prompt or
                             HERMEZ_ADMIN_PASSWORD, never a flag; --update resets an existing one)
  token <userid> [--name "Ana Gómez"] [--email ana@example.com]
                             print a development JWT (local mode / DEBUG only)
  import-django --from postgres://… [--dry-run] [--merge] [--batch-size N]
                             copy the Django backend's database into DATABASE_URL (README: "Moving
                             from the Django backend"); the URL may come from DJANGO_DATABASE_URL
`

func main() {
	cmd, args := "serve", os.Args[1:]
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if err := run(cmd, args); err != nil {
		fmt.Fprintln(os.Stderr, "web:", err)
		os.Exit(1)
	}
}

func run(cmd string, args []string) error {
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Print(usage)
		return nil
	}
	cfg, err := app.LoadConfig(false)
	if err != nil {
		return err
	}
	log := app.Logger(cfg)
	ctx, stop := app.SignalContext()
	defer stop()
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return app.Migrate(ctx, cfg, log)
	case "seed":
		return app.Seed(ctx, cfg, log)
	case "expire":
		return app.Expire(ctx, cfg, log)
	case "staff":
		return app.Staff(ctx, cfg, log, args)
	case "createsuperuser":
		return app.CreateSuperuser(ctx, cfg, log, args)
	case "token":
		return app.Token(ctx, cfg, args, os.Stdout)
	case "import-django":
		return app.ImportDjango(ctx, cfg, log, args, os.Stdout)
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func serve(sig context.Context, cfg config.Config, log *slog.Logger) error {
	// sig ends at SIGTERM; the process's own work (broker subscription, relay,
	// JWKS refresh) goes on through the drain until Serve returns.
	ctx, stop := context.WithCancel(context.WithoutCancel(sig))
	defer stop()
	if cfg.LocalMode() && cfg.SecretKey == config.DefaultSecretKey {
		log.Warn("using the development SECRET_KEY (fine in local mode, refused in production)")
	}
	st, err := app.OpenStore(ctx, cfg, log, cfg.ShouldMigrateOnStart())
	if err != nil {
		return err
	}
	defer st.Close()
	broker, err := app.OpenBroker(cfg)
	if err != nil {
		return err
	}
	defer broker.Close()
	web, err := app.BuildWeb(ctx, cfg, log, st, broker)
	if err != nil {
		return err
	}
	stopBackground := app.StartBackground(ctx, web.Background...)
	err = app.Serve(sig, cfg, log, web.Handler, web.OnShutdown...)
	stopBackground() // every loop has returned before the store closes
	return err
}
