package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"hermez/pkg/account"
	"hermez/pkg/config"
	"hermez/pkg/store"
)

// Migrate is the `migrate` subcommand.
func Migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	st, err := store.OpenWith(cfg.DatabaseURL, cfg.SQLitePath, store.Options{TransactionPooler: cfg.TransactionPooler()})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	log.Info("migrations up to date", "dialect", st.Dialect)
	return nil
}

// Seed is the `seed` subcommand (idempotent).
func Seed(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	st, err := OpenStore(ctx, cfg, log, cfg.LocalMode())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Seed(ctx); err != nil {
		return err
	}
	log.Info("seed applied")
	return nil
}

// Token is the development-only `token <userid> [--name] [--email]` subcommand:
// it prints one bare JWT line.
func Token(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	name := fs.String("name", "", `full name ("Ana Gómez")`)
	email := fs.String("email", "", "email claim")
	username := fs.String("username", "", "username claim (default: the user id)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	userid, rest := "", args
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		userid, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if userid == "" && fs.NArg() > 0 {
		userid = fs.Arg(0)
	}
	if userid == "" {
		return errors.New("usage: web token <userid> [--name \"Ana Gómez\"] [--email ana@example.com]")
	}
	dev, err := DevIssuer(cfg)
	if err != nil {
		return err
	}
	if dev == nil {
		return errors.New("the development issuer is disabled: it exists only without CLERK_FRONTEND_API_URL, in local mode (no DATABASE_URL) or with DEBUG=true")
	}
	tok, err := dev.Mint(userid, devOpts(*name, *email, *username, *ttl))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}

// Staff is `staff <userid> [--off]`: grant or remove staff powers, creating
// the user row for an id never seen.
func Staff(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("staff", flag.ContinueOnError)
	off := fs.Bool("off", false, "remove staff powers")
	userid, rest := "", args
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		userid, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if userid == "" && fs.NArg() > 0 {
		userid = fs.Arg(0)
	}
	if userid == "" {
		return errors.New("usage: web staff <userid> [--off]")
	}
	st, err := OpenStore(ctx, cfg, log, cfg.LocalMode())
	if err != nil {
		return err
	}
	defer st.Close()
	// docs/api.md: `web staff <userid>` creates the row of a user never seen.
	if err := account.New(st, nil, log).SetStaff(ctx, nil, userid, !*off, account.UnknownCreate); err != nil {
		return err
	}
	log.Info("staff flag set", "userid", userid, "is_staff", !*off)
	return nil
}
