// Package djangoimport copies the data of the original Django backend's
// PostgreSQL database into this service's store (`web import-django`).
//
// The source is only read, inside one REPEATABLE READ, READ ONLY transaction,
// so every table comes from the same snapshot. The target is written table by
// table in dependency order, in batches: each batch is COPYed into a temporary
// staging table and moved with INSERT … SELECT … ON CONFLICT (primary key) DO
// NOTHING in its own transaction, so a stopped run leaves whole batches behind
// and a re-run skips what is there and writes the rest. Rules that a row of the
// old database may break are checked on the source before anything is written
// (see rules.go): some refuse the import with a report naming each row, others
// import a corrected value and list the correction. At the end a verification
// pass compares counts and a checksum of key columns on both sides.
package djangoimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Errors that Run returns besides connection and SQL failures.
var (
	// ErrRefused: rows that break a refusing rule, or target rows not from this
	// source without Merge. Nothing was written.
	ErrRefused = errors.New("import refused")
	// ErrMismatch: the verification pass found a difference.
	ErrMismatch = errors.New("verification found a mismatch")
	// ErrBusy: another import holds the target's import lock.
	ErrBusy = errors.New("another import-django is running on the target database")
)

// DefaultBatchSize is the number of rows per target transaction.
const DefaultBatchSize = 5000

// Options configure one run.
type Options struct {
	From      string        // URL of the Django PostgreSQL database (only read)
	To        string        // URL of this service's PostgreSQL database (DATABASE_URL)
	DryRun    bool          // do everything in one transaction and roll it back
	Merge     bool          // allow a target that already holds marketplace rows not from this source
	BatchSize int           // rows per transaction (DefaultBatchSize when 0)
	QuoteTTL  time.Duration // expiry given to a quote the old rows left without one (created_at + QuoteTTL)
	OfferTTL  time.Duration // same for offers
	Log       *slog.Logger
	// Progress receives the per-table progress: a bar when it is a terminal,
	// plain log lines otherwise (nil: log lines only).
	Progress io.Writer

	failAfterBatches int // test hook: fail after this many committed batches
}

// Run imports once and returns its report (also on ErrRefused and ErrMismatch).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.QuoteTTL <= 0 {
		o.QuoteTTL = 10 * time.Minute
	}
	if o.OfferTTL <= 0 {
		o.OfferTTL = 4 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srcCfg, err := connConfig(o.From)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	dstCfg, err := connConfig(o.To)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	src, err := pgx.ConnectConfig(ctx, srcCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the Django database: %w", err)
	}
	defer src.Close(context.Background())
	dst, err := pgx.ConnectConfig(ctx, dstCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the target database: %w", err)
	}
	defer dst.Close(context.Background())

	r := &run{o: o, src: src, dst: dst, rep: &Report{DryRun: o.DryRun, Merge: o.Merge}, source: sourceName(srcCfg)}
	r.prog = newProgress(o.Progress, o.Log)
	err = r.run(ctx)
	// Release the lock before the connection closes: the server frees a
	// closed session's locks only when its backend has exited.
	_, _ = dst.Exec(context.Background(), `SELECT pg_advisory_unlock_all()`)
	if err != nil && !errors.Is(err, ErrRefused) && !errors.Is(err, ErrMismatch) {
		r.rep.Stopped = err.Error()
	}
	return r.rep, err
}

func connConfig(url string) (*pgx.ConnConfig, error) {
	if url == "" {
		return nil, errors.New("empty database URL")
	}
	c, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	c.RuntimeParams["TimeZone"] = "UTC"
	c.RuntimeParams["application_name"] = "hermez import-django"
	return c, nil
}

// sourceName identifies the source in the ledger: host, port and database, never credentials.
func sourceName(c *pgx.ConnConfig) string {
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))) + "/" + c.Database
}

type run struct {
	o      Options
	src    *pgx.Conn
	dst    *pgx.Conn
	srcTx  pgx.Tx // the source snapshot
	dryTx  pgx.Tx // dry run: the one target transaction rolled back at the end
	rep    *Report
	prog   progress
	source string

	importTime time.Time // the time given to fields the old rows lack
	ref        *refMap
	ids        map[string]*idSet // per table: the ids of the source rows (for verification)
	batches    int
}

func (r *run) run(ctx context.Context) error {
	start := time.Now()
	var locked bool
	if err := r.dst.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('hermez import-django'))`).Scan(&locked); err != nil {
		return fmt.Errorf("import lock: %w", err)
	}
	if !locked {
		return ErrBusy
	}
	if err := r.checkTarget(ctx); err != nil {
		return err
	}
	srcTx, err := r.src.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin source snapshot: %w", err)
	}
	r.srcTx = srcTx
	defer srcTx.Rollback(context.Background())
	if err := r.checkSource(ctx); err != nil {
		return err
	}

	// Read-only checks first: nothing is written when one refuses.
	r.o.Log.Info("checking the source", "source", r.source)
	if err := r.scan(ctx); err != nil {
		return err
	}
	if len(r.rep.Refusals) > 0 || len(r.rep.Foreign) > 0 {
		return ErrRefused
	}

	if r.o.DryRun {
		tx, err := r.dst.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin dry run: %w", err)
		}
		r.dryTx = tx
		defer tx.Rollback(context.Background())
	}
	if err := r.startLedger(ctx); err != nil {
		return err
	}
	r.ids = map[string]*idSet{}
	if err := r.reference(ctx); err != nil {
		return err
	}
	for _, t := range r.tables() {
		if err := r.copyTable(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if err := r.ratings(ctx); err != nil {
		return fmt.Errorf("ratings: %w", err)
	}
	r.o.Log.Info("verifying")
	vstart := time.Now()
	if err := r.verify(ctx); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	r.o.Log.Info("verified", "seconds", time.Since(vstart).Seconds())
	r.rep.Duration = time.Since(start)
	if r.rep.mismatch() {
		return ErrMismatch
	}
	if err := r.finishLedger(ctx); err != nil {
		return err
	}
	return nil
}

// checkTarget makes sure the target has the schema the import writes.
func (r *run) checkTarget(ctx context.Context) error {
	var ledger, nullable *string
	err := r.dst.QueryRow(ctx, `SELECT to_regclass('django_import')::text,
		(SELECT is_nullable FROM information_schema.columns
		 WHERE table_schema = current_schema() AND table_name = 'user_rating' AND column_name = 'delivery_id')`).Scan(&ledger, &nullable)
	if err != nil {
		return fmt.Errorf("inspect the target schema: %w", err)
	}
	if ledger == nil || nullable == nil || *nullable != "YES" {
		return errors.New("the target database is not migrated (run `web migrate` first)")
	}
	return nil
}

// checkSource makes sure --from is a Django database of the old backend.
func (r *run) checkSource(ctx context.Context) error {
	var missing []string
	for _, t := range []string{"users_user", "user_rating", "addresses_address", "vehicles_vehicletype",
		"vehicles_vehicletype_delivery_categories", "vehicles_vehicle", "deliveries_deliverycategory",
		"deliveries_deliveryquote", "deliveries_deliveryoffer", "deliveries_delivery", "deliveries_deliveryhistory"} {
		var reg *string
		if err := r.srcTx.QueryRow(ctx, `SELECT to_regclass($1)::text`, t).Scan(&reg); err != nil {
			return fmt.Errorf("inspect the source: %w", err)
		}
		if reg == nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--from is not a database of the Django backend: missing tables %v", missing)
	}
	// Same database, same schema: our user_rating would be Django's.
	var hasDeliveryID bool
	if err := r.srcTx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'user_rating' AND column_name = 'delivery_id')`).Scan(&hasDeliveryID); err != nil {
		return fmt.Errorf("inspect the source: %w", err)
	}
	if hasDeliveryID {
		return errors.New("--from resolves user_rating to this service's table: in one database, give this service its own schema (README: same database)")
	}
	return nil
}

// begin starts one batch transaction (a savepoint of the dry-run transaction).
func (r *run) begin(ctx context.Context) (pgx.Tx, error) {
	if r.dryTx != nil {
		return r.dryTx.Begin(ctx)
	}
	return r.dst.Begin(ctx)
}

// exec runs one statement on the target (inside the dry-run transaction when there is one).
func (r *run) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if r.dryTx != nil {
		tag, err := r.dryTx.Exec(ctx, sql, args...)
		return tag.RowsAffected(), err
	}
	tag, err := r.dst.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (r *run) dstQuery(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if r.dryTx != nil {
		return r.dryTx.Query(ctx, sql, args...)
	}
	return r.dst.Query(ctx, sql, args...)
}

func (r *run) dstQueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if r.dryTx != nil {
		return r.dryTx.QueryRow(ctx, sql, args...)
	}
	return r.dst.QueryRow(ctx, sql, args...)
}

// committed counts a committed batch (and fails on purpose in tests).
func (r *run) committed() error {
	r.batches++
	if r.o.failAfterBatches > 0 && r.batches >= r.o.failAfterBatches {
		return fmt.Errorf("stopped on purpose after %d batches", r.batches)
	}
	return nil
}

// startLedger records the source and fixes the import time: the start of the
// first import into this database, so a re-run writes the same values.
func (r *run) startLedger(ctx context.Context) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := r.exec(ctx, `INSERT INTO django_import (source, started_at) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING`, r.source, now); err != nil {
		return fmt.Errorf("import ledger: %w", err)
	}
	if err := r.dstQueryRow(ctx, `SELECT min(started_at) FROM django_import`).Scan(&r.importTime); err != nil {
		return fmt.Errorf("import ledger: %w", err)
	}
	r.importTime = r.importTime.UTC()
	r.rep.ImportTime = r.importTime
	return nil
}

func (r *run) finishLedger(ctx context.Context) error {
	if r.rep.written() == 0 {
		return nil // a no-op run changes nothing, not even the ledger
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := r.exec(ctx, `UPDATE django_import SET finished_at = $2 WHERE source = $1`, r.source, now); err != nil {
		return fmt.Errorf("import ledger: %w", err)
	}
	return nil
}
