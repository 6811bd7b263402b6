// Command worker serves the Hermez WebSockets fed by Redis and runs the expiry
// sweeper and outbox relay. Subcommands: serve (default), migrate, seed, expire.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"hermez/pkg/app"
	"hermez/pkg/config"
)

const usage = `usage: worker [command]

commands:
  serve      run the WebSocket endpoints, the sweeper and the outbox relay (default; needs REDIS_URL
             or REDIS_CLUSTER_URL)
  migrate    apply database migrations
  seed       create delivery categories and vehicle types (idempotent)
  expire     one sweep of expired quotes and offers
`

func main() {
	cmd, args := "serve", os.Args[1:]
	if len(args) > 0 {
		cmd = args[0]
	}
	if err := run(cmd); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(cmd string) error {
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Print(usage)
		return nil
	}
	cfg, err := app.LoadConfig(cmd == "serve")
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
	st, err := app.OpenStore(ctx, cfg, log, cfg.MigrateOnStart)
	if err != nil {
		return err
	}
	defer st.Close()
	broker, err := app.OpenBroker(cfg)
	if err != nil {
		return err
	}
	defer broker.Close()
	w, err := app.BuildWorker(ctx, cfg, log, st, broker, app.WorkerOptions{Sweep: app.ExpirySweep(cfg, log, st, broker),
		AutoAccept: app.AutoAcceptJob(cfg, log, st, broker)})
	if err != nil {
		return err
	}
	stopBackground := app.StartBackground(ctx, w.Background...)
	err = app.Serve(sig, cfg, log, w.Handler, w.OnShutdown...)
	stopBackground() // every loop has returned before the store closes
	return err
}
