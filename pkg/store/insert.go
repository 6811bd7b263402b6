package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// The inserts every quote creation makes (the quote, its history row, the
// change's outbox row), written as fixed SQL sent straight to the
// transaction's connection. Through GORM, each Create rebuilt its statement
// by reflection over the model (clauses, column list, values, RETURNING
// scan): about a sixth of web's CPU under POST quote (issue 23). The columns
// and values are the ones GORM's Create wrote, in the same types, and errors
// are translated as GORM translates them (store.IsForeignKeyViolation,
// IsUniqueViolation keep working).

// insertSQL is `INSERT INTO "table" ("col", …) VALUES (…), …` for rows rows,
// with the dialect's placeholders ($1… on PostgreSQL, ? on SQLite), then suffix.
func insertSQL(dialect, table string, cols []string, rows int, suffix string) string {
	return insertSQLAt(dialect, table, cols, rows, 1, suffix)
}

// insertSQLAt is insertSQL with PostgreSQL's placeholders from $first.
func insertSQLAt(dialect, table string, cols []string, rows, first int, suffix string) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO "` + table + `" ("` + strings.Join(cols, `", "`) + `") VALUES `)
	n := first - 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			n++
			if dialect == Postgres {
				b.WriteString("$" + strconv.Itoa(n))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(suffix)
	return b.String()
}

// StatementObserver, registered on a store's DB with db.Use, is told every
// statement these fixed-SQL inserts send: GORM's callbacks never see them, so
// whatever counts statements through callbacks (the statement budgets) needs
// this second ear. Nothing registers one in production; the lookup is a map
// read per insert.
type StatementObserver interface {
	gorm.Plugin
	ObserveStatement(ctx context.Context, sql string)
}

// StatementObserverName is the plugin name a StatementObserver registers under.
const StatementObserverName = "hermez:statements"

// exec sends one fixed statement on tx's connection and tells the observer.
func exec(tx *gorm.DB, query string, args ...any) error {
	_, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, query, args...)
	observe(tx, query)
	return err
}

func observe(tx *gorm.DB, query string) { observeCtx(tx.Statement.Context, tx, query) }

// observeCtx tells db's StatementObserver, if any, of query sent with ctx.
func observeCtx(ctx context.Context, db *gorm.DB, query string) {
	if p, ok := db.Config.Plugins[StatementObserverName]; ok {
		if o, ok := p.(StatementObserver); ok {
			o.ObserveStatement(ctx, query)
		}
	}
}

// dialectOf is tx's dialect, as Open named it.
func dialectOf(tx *gorm.DB) string {
	if tx.Dialector.Name() == "postgres" {
		return Postgres
	}
	return SQLite
}

// translate maps a driver error as GORM does with TranslateError.
func translate(tx *gorm.DB, err error) error {
	if t, ok := tx.Dialector.(gorm.ErrorTranslator); ok {
		return t.Translate(err)
	}
	return err
}

var quoteCols = []string{"id", "client_id", "pickup_address", "delivery_address", "category_id", "description",
	"observations", "vehicle_type_id", "estimated_weight", "estimated_size", "client_price", "payment_method",
	"status", "pickup_latitude", "pickup_longitude", "delivery_latitude", "delivery_longitude",
	"auto_accept_lowest", "auto_accept_at", "version", "created_at", "expires_at", "history_id"}

var insertQuoteSQL = map[string]string{
	Postgres: insertSQL(Postgres, "delivery_quotes", quoteCols, 1, ""),
	SQLite:   insertSQL(SQLite, "delivery_quotes", quoteCols, 1, ""),
}

// InsertQuote writes q's row (not its relations) in tx, as
// tx.Omit(clause.Associations).Create(q) did; q.Version must be set.
func InsertQuote(tx *gorm.DB, q *Quote) error {
	if err := exec(tx, insertQuoteSQL[dialectOf(tx)], quoteArgs(q)...); err != nil {
		return fmt.Errorf("insert quote: %w", translate(tx, err))
	}
	return nil
}

// quoteArgs are the values of quoteCols.
func quoteArgs(q *Quote) []any {
	return []any{q.ID, q.ClientID, q.PickupAddress, q.DeliveryAddress, q.CategoryID, q.Description,
		q.Observations, q.VehicleTypeID, q.EstimatedWeight, q.EstimatedSize, q.ClientPrice, q.PaymentMethod,
		q.Status, q.PickupLatitude, q.PickupLongitude, q.DeliveryLatitude, q.DeliveryLongitude,
		q.AutoAcceptLowest, q.AutoAcceptAt, q.Version, q.CreatedAt, q.ExpiresAt, q.HistoryID}
}

var historyCols = []string{"id", "history_id", "event_type", "description", "changed_by", "created_at"}

// insertHistorySQL holds the statements for 1..len rows (the most a change writes is a few).
var insertHistorySQL = map[string][]string{Postgres: {""}, SQLite: {""}}

func init() {
	for _, d := range []string{Postgres, SQLite} {
		for n := 1; n <= 4; n++ {
			insertHistorySQL[d] = append(insertHistorySQL[d], insertSQL(d, "delivery_history", historyCols, n, ""))
		}
	}
}

// InsertHistory writes history rows in tx with one statement, as
// tx.Omit(clause.Associations).Create(&hs) did.
func InsertHistory(tx *gorm.DB, hs ...HistoryEvent) error {
	if len(hs) == 0 {
		return nil
	}
	query, args := historyInsert(dialectOf(tx), hs)
	if err := exec(tx, query, args...); err != nil {
		return fmt.Errorf("insert history: %w", translate(tx, err))
	}
	return nil
}

// historyInsert is the statement and values writing hs.
func historyInsert(d string, hs []HistoryEvent) (string, []any) {
	var query string
	if len(hs) < len(insertHistorySQL[d]) {
		query = insertHistorySQL[d][len(hs)]
	} else {
		query = insertSQL(d, "delivery_history", historyCols, len(hs), "")
	}
	args := make([]any, 0, len(hs)*len(historyCols))
	for i := range hs {
		h := &hs[i]
		args = append(args, h.ID, h.HistoryID, h.EventType, h.Description, h.ChangedByID, h.CreatedAt)
	}
	return query, args
}

var outboxCols = []string{"group_name", "event_type", "payload", "created_at", "published_at", "resource",
	"version", "final", "frames", "heads"}

var insertOutboxSQL = map[string]string{
	Postgres: insertSQL(Postgres, "outbox_events", outboxCols, 1, " RETURNING id"),
	SQLite:   insertSQL(SQLite, "outbox_events", outboxCols, 1, " RETURNING id"),
}

// InsertOutbox writes row in tx and sets its ID, as tx.Create(row) did.
func InsertOutbox(tx *gorm.DB, row *OutboxEvent) error {
	err := tx.Statement.ConnPool.QueryRowContext(tx.Statement.Context, insertOutboxSQL[dialectOf(tx)], outboxArgs(row)...).
		Scan(&row.ID)
	observe(tx, insertOutboxSQL[dialectOf(tx)])
	if err != nil {
		return fmt.Errorf("insert outbox: %w", translate(tx, err))
	}
	return nil
}

// outboxArgs are the values of outboxCols.
func outboxArgs(row *OutboxEvent) []any {
	return []any{row.GroupName, row.EventType, row.Payload, row.CreatedAt, row.PublishedAt, row.Resource,
		row.Version, row.Final, row.Frames, row.Heads}
}

var offerCols = []string{"id", "delivery_person_id", "quote_id", "proposed_price", "estimated_delivery_time", "vehicle_id",
	"status", "version", "created_at", "updated_at", "expires_at"}

// castHistory are the history columns' types, for the history values a
// SELECT carries (no target column types them there).
var castHistory = []string{"uuid", "uuid", "text", "text", "text", "timestamptz"}

var insertOfferSQL = map[string]string{
	Postgres: func() string {
		var b strings.Builder
		b.WriteString("WITH o AS (" + insertSQL(Postgres, "delivery_offers", offerCols, 1, " ON CONFLICT DO NOTHING RETURNING 1") + ") ")
		b.WriteString(`INSERT INTO "delivery_history" ("` + strings.Join(historyCols, `", "`) + `") SELECT `)
		for i, t := range castHistory {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(len(offerCols)+i+1) + "::" + t)
		}
		b.WriteString(" FROM o")
		return b.String()
	}(),
	SQLite: insertSQL(SQLite, "delivery_offers", offerCols, 1, " ON CONFLICT DO NOTHING"),
}

// InsertOfferWithHistory writes o's row unless its driver already has an
// offer on its quote (ON CONFLICT DO NOTHING on delivery_offers_person_quote_key,
// as tx.Omit(clause.Associations).Clauses(clause.OnConflict{DoNothing: true}).Create(o)
// did) and, only when the offer was written, history row h. On PostgreSQL
// both are one statement (the history insert reads the offer insert's
// RETURNING); on SQLite, two. inserted tells whether the offer was written.
func InsertOfferWithHistory(tx *gorm.DB, o *Offer, h HistoryEvent) (inserted bool, err error) {
	offer := []any{o.ID, o.DeliveryPersonID, o.QuoteID, o.ProposedPrice, o.EstimatedDeliveryTime, o.VehicleID,
		o.Status, o.Version, o.CreatedAt, o.UpdatedAt, o.ExpiresAt}
	d := dialectOf(tx)
	query := insertOfferSQL[d]
	args := offer
	if d == Postgres {
		args = append(offer, h.ID, h.HistoryID, h.EventType, h.Description, h.ChangedByID, h.CreatedAt)
	}
	res, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, query, args...)
	observe(tx, query)
	if err != nil {
		return false, fmt.Errorf("insert offer: %w", translate(tx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert offer: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if d != Postgres {
		if err := InsertHistory(tx, h); err != nil {
			return false, err
		}
	}
	return true, nil
}

var deliveryCols = []string{"id", "client_id", "delivery_person_id", "pickup_address", "delivery_address", "category_id",
	"description", "observations", "estimated_weight", "estimated_size", "payment_method", "vehicle_type_id",
	"vehicle_type_name", "final_price", "vehicle_id", "status", "pickup_latitude", "pickup_longitude",
	"delivery_latitude", "delivery_longitude", "version", "created_at", "updated_at", "completed_at", "cancelled_at",
	"history_id"}

var (
	insertDeliverySQL = map[string]string{
		Postgres: insertSQL(Postgres, "deliveries", deliveryCols, 1, ""),
		SQLite:   insertSQL(SQLite, "deliveries", deliveryCols, 1, ""),
	}
	// acceptSQL is an accept's three writes in one PostgreSQL statement: the
	// delivery and its history row inserted by the WITH, the quote deleted.
	acceptSQL = func() string {
		n := len(deliveryCols)
		return "WITH d AS (" + insertDeliverySQL[Postgres] + "), h AS (" + insertSQLAt(Postgres, "delivery_history", historyCols, 1, n+1, "") +
			`) DELETE FROM "delivery_quotes" WHERE "id" = $` + strconv.Itoa(n+len(historyCols)+1)
	}()
)

// AcceptWrites is an accept's writes in tx: delivery d's row (not its
// relations, as tx.Omit(clause.Associations).Create(d) wrote it), history
// row h, and quote quoteID deleted (its offers go with it: ON DELETE
// CASCADE). One statement on PostgreSQL (two inserts in a WITH, then the
// delete), three on SQLite.
func AcceptWrites(tx *gorm.DB, d *Delivery, h HistoryEvent, quoteID uuid.UUID) error {
	args := []any{d.ID, d.ClientID, d.DeliveryPersonID, d.PickupAddress, d.DeliveryAddress, d.CategoryID,
		d.Description, d.Observations, d.EstimatedWeight, d.EstimatedSize, d.PaymentMethod, d.VehicleTypeID,
		d.VehicleTypeName, d.FinalPrice, d.VehicleID, d.Status, d.PickupLatitude, d.PickupLongitude,
		d.DeliveryLatitude, d.DeliveryLongitude, d.Version, d.CreatedAt, d.UpdatedAt, d.CompletedAt, d.CancelledAt,
		d.HistoryID}
	if dialectOf(tx) == Postgres {
		args = append(args, h.ID, h.HistoryID, h.EventType, h.Description, h.ChangedByID, h.CreatedAt, quoteID)
		if err := exec(tx, acceptSQL, args...); err != nil {
			return fmt.Errorf("accept writes: %w", translate(tx, err))
		}
		return nil
	}
	if err := exec(tx, insertDeliverySQL[SQLite], args...); err != nil {
		return fmt.Errorf("insert delivery: %w", translate(tx, err))
	}
	if err := InsertHistory(tx, h); err != nil {
		return err
	}
	const del = `DELETE FROM "delivery_quotes" WHERE "id" = ?`
	if err := exec(tx, del, quoteID); err != nil {
		return fmt.Errorf("delete quote: %w", translate(tx, err))
	}
	return nil
}
