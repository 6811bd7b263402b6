package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// Batch is a write made only of the fixed-SQL inserts (the quote, its history
// rows, the change's outbox row), queued and then sent together by
// Store.WriteBatch as one transaction.
//
// On PostgreSQL the statements go in one round trip: a pgx batch, every
// statement's Parse/Bind/Execute and a single Sync, which PostgreSQL runs as
// one implicit transaction (all committed at the Sync, or none when one
// fails; pgx's SendBatch documents it). The same write through a
// database/sql transaction took five round trips (BEGIN, three INSERTs,
// COMMIT), each a write and a read syscall and database/sql's per-statement
// bookkeeping: about a third of web's CPU under POST quote (issue 23). The
// batch works in every exec mode pgx has, exec (DATABASE_POOLER=transaction:
// unnamed statements, nothing prepared) included, and behind PgBouncer in
// transaction mode (one Sync: one transaction, one server connection). On
// SQLite it is one BEGIN IMMEDIATE transaction running the statements in turn.
type Batch struct {
	stmts []batchStmt
}

type batchStmt struct {
	sql  string
	args []any
	id   *int64 // RETURNING id scanned here; nil: no result
	what string // the error's prefix
}

// InsertQuote queues q's row, as InsertQuote writes it.
func (b *Batch) InsertQuote(dialect string, q *Quote) {
	b.stmts = append(b.stmts, batchStmt{sql: insertQuoteSQL[dialect], args: quoteArgs(q), what: "insert quote"})
}

// InsertHistory queues history rows (one statement), as InsertHistory writes them.
func (b *Batch) InsertHistory(dialect string, hs ...HistoryEvent) {
	if len(hs) == 0 {
		return
	}
	query, args := historyInsert(dialect, hs)
	b.stmts = append(b.stmts, batchStmt{sql: query, args: args, what: "insert history"})
}

// InsertOutbox queues row; its ID is set when the batch is written.
func (b *Batch) InsertOutbox(dialect string, row *OutboxEvent) {
	b.stmts = append(b.stmts, batchStmt{sql: insertOutboxSQL[dialect], args: outboxArgs(row), id: &row.ID, what: "insert outbox"})
}

// Len is the number of statements queued.
func (b *Batch) Len() int { return len(b.stmts) }

// WriteBatch writes b as one transaction (see Batch). Each statement is told
// to a registered StatementObserver, as the fixed inserts' are. Errors are
// translated as GORM translates them (IsForeignKeyViolation, IsUniqueViolation).
func (s *Store) WriteBatch(ctx context.Context, b *Batch) error {
	if len(b.stmts) == 0 {
		return nil
	}
	for _, st := range b.stmts {
		observeCtx(ctx, s.DB, st.sql)
	}
	if s.Dialect != Postgres {
		return s.Transaction(ctx, func(tx *gorm.DB) error {
			for _, st := range b.stmts {
				var err error
				if st.id != nil {
					err = tx.Statement.ConnPool.QueryRowContext(ctx, st.sql, st.args...).Scan(st.id)
				} else {
					_, err = tx.Statement.ConnPool.ExecContext(ctx, st.sql, st.args...)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", st.what, translate(tx, err))
				}
			}
			return nil
		})
	}
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("write batch: driver connection is %T, not pgx's", dc)
		}
		pb := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(b.stmts))}
		for _, st := range b.stmts {
			pb.Queue(st.sql, st.args...)
		}
		br := sc.Conn().SendBatch(ctx, pb)
		var first error
		for _, st := range b.stmts {
			var err error
			if st.id != nil {
				err = br.QueryRow().Scan(st.id)
			} else {
				_, err = br.Exec()
			}
			if err != nil && first == nil {
				first = fmt.Errorf("%s: %w", st.what, translate(s.DB, err))
			}
		}
		if err := br.Close(); err != nil && first == nil {
			first = fmt.Errorf("write batch: %w", translate(s.DB, err))
		}
		// A connection broken mid-batch is closed: database/sql drops it
		// (stdlib's ResetSession) instead of reusing it.
		return first
	})
}
