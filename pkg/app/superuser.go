package app

import (
	"context"
	"log/slog"
	"os"

	"hermez/pkg/config"
	"hermez/pkg/console"
)

// CreateSuperuser is the `createsuperuser [--username NAME] [--update]`
// subcommand: a staff console login. The password comes from a prompt (not
// echoed on a terminal; one line when stdin is a pipe) or HERMEZ_ADMIN_PASSWORD,
// never from a flag.
func CreateSuperuser(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	st, err := OpenStore(ctx, cfg, log, cfg.LocalMode())
	if err != nil {
		return err
	}
	defer st.Close()
	return console.New(st).CreateSuperuser(ctx, args, console.SuperuserIO{In: os.Stdin, Out: os.Stdout, Getenv: os.Getenv})
}
