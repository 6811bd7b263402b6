// Package store opens the database (PostgreSQL, or an embedded SQLite file in
// local mode), applies the embedded migrations and the seed, and holds the GORM models.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"hermez/db"
)

// Dialects.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// Store is the opened database.
type Store struct {
	DB      *gorm.DB
	Dialect string
	// Now is the clock of the services working on this database (timestamps,
	// expiry, retention); GORM's own timestamps use it too. Open sets it to
	// the wall clock (store.Now); a test sets its own before serving, so tests
	// with different clocks run in parallel, each on its own database.
	Now     func() time.Time
	sqlDB   *sql.DB
	catalog *Catalog
	opts    Options
}

// Options say how Open reaches PostgreSQL.
type Options struct {
	// TransactionPooler: PostgreSQL is behind a transaction-mode pooler
	// (PgBouncer with pool_mode=transaction, DATABASE_POOLER=transaction),
	// where consecutive statements outside a transaction may run on different
	// server connections. Then no statement is prepared: pgx's "exec" mode
	// sends each one with the unnamed statement, parsed, bound (by the server)
	// and executed in one round trip, which PgBouncer 1.18 passes through; and
	// migrations take goose's lease row instead of a session advisory lock.
	TransactionPooler bool
}

// Open connects to databaseURL (postgres://…) or, when it is empty, to the SQLite
// file at sqlitePath (pure Go, WAL, foreign keys on, every transaction BEGIN
// IMMEDIATE so writers are serialized).
func Open(databaseURL, sqlitePath string) (*Store, error) {
	return OpenWith(databaseURL, sqlitePath, Options{})
}

// OpenWith is Open with options for PostgreSQL.
func OpenWith(databaseURL, sqlitePath string, o Options) (*Store, error) {
	if o.TransactionPooler && databaseURL != "" {
		dsn, err := PoolerDSN(databaseURL)
		if err != nil {
			return nil, err
		}
		databaseURL = dsn
	}
	gcfg := &gorm.Config{
		Logger:                                   logger.Discard,
		DisableForeignKeyConstraintWhenMigrating: true,
		TranslateError:                           true,
		NamingStrategy:                           newCachedNaming(),
	}
	var (
		gdb     *gorm.DB
		err     error
		dialect string
	)
	if databaseURL != "" {
		dialect = Postgres
		// registerTypes on every connection (pgtypes.go). GORM's dialector
		// sets an AfterConnect of its own, replacing this one, only for a URL
		// naming a TimeZone: the parameters then take pgx's slower path.
		gdb, err = gorm.Open(postgres.New(postgres.Config{DSN: databaseURL,
			OptionOpenDB: []stdlib.OptionOpenDB{stdlib.OptionAfterConnect(registerTypes)}}), gcfg)
	} else {
		dialect = SQLite
		gdb, err = gorm.Open(sqlite.Open(SQLiteDSN(sqlitePath)), gcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == Postgres {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		sqlDB.SetMaxOpenConns(8)
	}
	st := &Store{DB: gdb, Dialect: dialect, Now: Now, sqlDB: sqlDB, opts: o}
	st.catalog = &Catalog{now: func() time.Time { return st.Now() }}
	if err := gdb.Use(st.catalog); err != nil {
		return nil, fmt.Errorf("catalog cache: %w", err)
	}
	if err := registerAliasCheck(gdb); err != nil {
		return nil, err
	}
	if err := parseModels(gdb); err != nil {
		return nil, err
	}
	gdb.Config.NowFunc = func() time.Time { return st.Now() }
	return st, nil
}

// PoolerDSN is a postgres:// URL set up for a transaction-mode pooler: pgx's
// default_query_exec_mode=exec (no prepared statement, no statement cache)
// unless the URL already names exec or simple_protocol; a mode that prepares
// or caches statements, or describes them in a round trip of its own, is
// refused.
func PoolerDSN(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("DATABASE_URL must be a postgres:// URL to go through a pooler")
	}
	q := u.Query()
	switch mode := q.Get("default_query_exec_mode"); mode {
	case "":
		q.Set("default_query_exec_mode", "exec")
	case "exec", "simple_protocol":
	default:
		return "", fmt.Errorf("DATABASE_URL asks for default_query_exec_mode=%s, which a transaction-mode pooler breaks: use exec (the default with DATABASE_POOLER=transaction) or simple_protocol", mode)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SQLiteDSN is the connection string of the local SQLite file.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.sqlDB.Close() }

// SQL is the underlying pool.
func (s *Store) SQL() *sql.DB { return s.sqlDB }

// Ping checks that the database answers within the context's deadline.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.Dialect, err)
	}
	var one int
	if err := s.sqlDB.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("query %s: %w", s.Dialect, err)
	}
	return nil
}

// Migrate applies every pending embedded migration. On PostgreSQL a session
// advisory lock makes concurrent migrators (two instances deploying) safe;
// behind a transaction-mode pooler (where a session lock could be taken on one
// server connection and released on another) goose's lease row in the
// goose_lock table does.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := db.Migrations(s.Dialect)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if s.Dialect == Postgres {
		dialect = goose.DialectPostgres
		if s.opts.TransactionPooler {
			locker, err := lock.NewPostgresTableLocker(lock.WithTableLockTimeout(time.Second, 600))
			if err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
			opts = append(opts, goose.WithLocker(locker))
		} else {
			locker, err := lock.NewPostgresSessionLocker()
			if err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
	}
	p, err := goose.NewProvider(dialect, s.sqlDB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	// SQLite has no session lock: two local processes migrating one fresh file
	// race, and the loser's transaction (rolled back whole) fails with "table
	// already exists". Trying again finds the winner's work done; a migration
	// that is really broken fails every attempt and is reported.
	for attempt := 1; err != nil && s.Dialect == SQLite && attempt < 5 && ctx.Err() == nil; attempt++ {
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
		results, err = p.Up(ctx)
	}
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		slog.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration.String())
	}
	return nil
}

// Transaction runs fn in one transaction (BEGIN IMMEDIATE on SQLite).
//
// Its statements skip GORM's default transaction: without it, every Create,
// Save, Update and Delete inside fn first tries to begin a transaction of its
// own, which inside one always fails (and is ignored) after cloning the
// session — a few percent of web's CPU under POST quote (issue 23). What the
// statements do is the same.
func (s *Store) Transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.DB.Session(&gorm.Session{Context: ctx, SkipDefaultTransaction: true}).Transaction(fn)
}

// IsUniqueViolation tells whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }

// IsForeignKeyViolation tells whether err is a foreign-key violation.
func IsForeignKeyViolation(err error) bool {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return true
	}
	// SQLite reports a refused ON DELETE RESTRICT action with the extended code
	// SQLITE_CONSTRAINT_TRIGGER, which the dialector does not translate.
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code() == sqliteConstraintTrigger &&
		strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// sqliteConstraintTrigger is SQLITE_CONSTRAINT_TRIGGER (19 | 7<<8).
const sqliteConstraintTrigger = 1811

// Models is every table's model, as GORM maps it.
func Models() []any {
	return []any{&User{}, &Address{}, &Category{}, &VehicleType{}, &VehicleTypeCategory{}, &Vehicle{},
		&Quote{}, &Offer{}, &Delivery{}, &HistoryEvent{}, &Rating{}, &DjangoImport{}, &WebhookEvent{},
		&OutboxEvent{}, &StaffAccount{}, &RunnerLease{}, &StaffAudit{}, &TrackPoint{}}
}

// parseModels has GORM parse and cache every model's schema, relations
// included, before the store is shared. GORM caches a schema before its
// relations are parsed (to allow cycles), so a first query of one model could
// read a related schema's relations while another goroutine's first query
// was still writing them: the race detector caught it in CI on 2026-12-07
// (a worker's new_quotes snapshot parsing Quote while a deliveries snapshot
// preloaded through it).
func parseModels(gdb *gorm.DB) error {
	for _, m := range Models() {
		if err := (&gorm.Statement{DB: gdb}).Parse(m); err != nil {
			return fmt.Errorf("parse model %T: %w", m, err)
		}
	}
	return nil
}
