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
}

// Open connects to databaseURL (postgres://…) or, when it is empty, to the SQLite
// file at sqlitePath (pure Go, WAL, foreign keys on, every transaction BEGIN
// IMMEDIATE so writers are serialized).
func Open(databaseURL, sqlitePath string) (*Store, error) {
	gcfg := &gorm.Config{
		Logger:                                   logger.Discard,
		DisableForeignKeyConstraintWhenMigrating: true,
		TranslateError:                           true,
	}
	var (
		gdb     *gorm.DB
		err     error
		dialect string
	)
	if databaseURL != "" {
		dialect = Postgres
		gdb, err = gorm.Open(postgres.New(postgres.Config{DSN: databaseURL}), gcfg)
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
	st := &Store{DB: gdb, Dialect: dialect, Now: Now, sqlDB: sqlDB}
	st.catalog = &Catalog{now: func() time.Time { return st.Now() }}
	if err := gdb.Use(st.catalog); err != nil {
		return nil, fmt.Errorf("catalog cache: %w", err)
	}
	gdb.Config.NowFunc = func() time.Time { return st.Now() }
	return st, nil
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
// advisory lock makes concurrent migrators (two instances deploying) safe.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := db.Migrations(s.Dialect)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if s.Dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
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
func (s *Store) Transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.DB.WithContext(ctx).Transaction(fn)
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
