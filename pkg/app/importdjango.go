package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"hermez/pkg/config"
	"hermez/pkg/djangoimport"
)

// ImportDjango is `import-django --from <postgres URL> [--dry-run] [--merge]
// [--batch-size N]`: it copies the Django backend's database into DATABASE_URL
// (see pkg/djangoimport) and prints the report on out. The source URL may also
// come from DJANGO_DATABASE_URL, which keeps its password off the command line.
func ImportDjango(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("import-django", flag.ContinueOnError)
	from := fs.String("from", cfg.DjangoDatabaseURL, "URL of the Django PostgreSQL database (default $DJANGO_DATABASE_URL)")
	dry := fs.Bool("dry-run", false, "read everything and report what would be written; commit nothing")
	merge := fs.Bool("merge", false, "import even though the target holds marketplace rows not from this source")
	batch := fs.Int("batch-size", djangoimport.DefaultBatchSize, "rows per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("usage: web import-django --from postgres://… [--dry-run] [--merge] (or DJANGO_DATABASE_URL)")
	}
	if cfg.DatabaseURL == "" {
		return errors.New("import-django writes to PostgreSQL: set DATABASE_URL to this service's database")
	}
	if cfg.TransactionPooler() {
		// One session for the whole import: a session advisory lock against
		// a second import, and COPY into staging tables.
		return errors.New("import-django needs a session of its own: point DATABASE_URL at PostgreSQL directly (not the transaction-mode pooler) and unset DATABASE_POOLER for this command")
	}
	if !*dry {
		if err := Migrate(ctx, cfg, log); err != nil {
			return fmt.Errorf("migrate the target: %w", err)
		}
	}
	rep, err := djangoimport.Run(ctx, djangoimport.Options{
		From: *from, To: cfg.DatabaseURL, DryRun: *dry, Merge: *merge, BatchSize: *batch,
		QuoteTTL: cfg.QuoteTTL(), OfferTTL: cfg.OfferTTL(), Log: log, Progress: os.Stderr,
	})
	if rep != nil {
		rep.Print(out)
	}
	return err
}
