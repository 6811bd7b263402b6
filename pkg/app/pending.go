package app

import (
	"context"
	"errors"
	"log/slog"

	"hermez/pkg/config"
)

// Expire is the `expire` subcommand (issue 3 fills it in).
func Expire(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	return errors.New("expire: not implemented yet")
}
