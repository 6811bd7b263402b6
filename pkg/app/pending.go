package app

import (
	"context"
	"errors"
	"log/slog"

	"hermez/pkg/config"
)

// CreateSuperuser is the `createsuperuser` subcommand (issue 6 fills it in).
func CreateSuperuser(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	return errors.New("createsuperuser: not implemented yet")
}
