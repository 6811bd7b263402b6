package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/view"
)

// The rows of one quote creation, as web writes them for POST
// /deliveries/api/quotes/ (market.CreateQuote, store.InsertQuote,
// InsertHistory, realtime.Write): the quote with every column web's insert
// names, its history row, and one outbox row holding the change's three
// quote_created frames (new_quotes, quote_<id>, user_quotes_<client>) and
// their heads (pkg/realtime/rows.go).
//
// The frames are rendered once per client and body by web's own view code
// (view.NewQuote, realtime.NewMessage) with placeholder ids and times, then
// each transaction fills in its quote id, history id, created_at and
// expires_at: the same bytes web stores for that body (so the same size and
// the same compressibility: PostgreSQL compresses the column with pglz), at
// the cost of a string copy instead of a rendering.

// quoteTTL is web's default QUOTE_TTL (a quote's expires_at is created_at + it).
const quoteTTL = 10 * time.Minute

// Payload shapes (-payload).
const (
	payloadRendered = "rendered" // the quote as web renders it (the default)
	payloadRepeat   = "repeat"   // strings.Repeat("x", 900) as each frame's data, the reference until session 16
)

// quoteBody is the JSON the load tool posts (bench/load.QuoteFields).
type quoteBody struct {
	CategoryID      string           `json:"category_id"`
	ClientPrice     decimal.Decimal  `json:"client_price"`
	PaymentMethod   string           `json:"payment_method"`
	PickupAddress   string           `json:"pickup_address"`
	DeliveryAddress string           `json:"delivery_address"`
	Description     *string          `json:"description"`
	Observations    []string         `json:"observations"`
	EstimatedWeight *decimal.Decimal `json:"estimated_weight"`
	EstimatedSize   *string          `json:"estimated_size"`
}

// decodeBody reads and checks a posted quote: valid JSON, both addresses,
// a positive price and an active category of cats.
func decodeBody(b []byte, cats map[uuid.UUID]store.Category) (quoteBody, store.Category, error) {
	var q quoteBody
	if err := json.Unmarshal(b, &q); err != nil {
		return q, store.Category{}, fmt.Errorf("body: %w", err)
	}
	id, err := uuid.Parse(q.CategoryID)
	if err != nil {
		return q, store.Category{}, errors.New("category_id: not a UUID")
	}
	cat, ok := cats[id]
	switch {
	case !ok:
		return q, store.Category{}, errors.New("category_id: no such active category")
	case strings.TrimSpace(q.PickupAddress) == "" || strings.TrimSpace(q.DeliveryAddress) == "":
		return q, store.Category{}, errors.New("pickup_address and delivery_address are required")
	case !q.ClientPrice.IsPositive():
		return q, store.Category{}, errors.New("client_price must be positive")
	}
	if q.PaymentMethod == "" {
		q.PaymentMethod = "efectivo"
	}
	return q, cat, nil
}

// client is a quote's client as web's authentication keeps them (the
// token's claims; the load tool's tokens carry them all).
type client struct {
	ID, Username, FirstName, LastName, Email string
}

// benchClient is the client the load tool's token for id makes on web
// (load.bench.token: name "Bench <id>", email <id>@bench.invalid).
func benchClient(id string) client {
	return client{ID: id, Username: id, FirstName: "Bench", LastName: id, Email: id + "@bench.invalid"}
}

func (c client) user() *store.User {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return &store.User{UserID: c.ID, Username: opt(c.Username), FirstName: opt(c.FirstName), LastName: opt(c.LastName), Email: opt(c.Email)}
}

// insertUsers writes cs's users rows as web's authentication creates them
// (the claims' columns), leaving rows that exist alone.
func insertUsers(ctx context.Context, pool *pgxpool.Pool, cs ...client) error {
	for _, c := range cs {
		u := c.user()
		if _, err := pool.Exec(ctx, `INSERT INTO users (userid, username, first_name, last_name, email, is_online, is_available, is_staff, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, false, false, false, now(), now()) ON CONFLICT DO NOTHING`,
			u.UserID, u.Username, u.FirstName, u.LastName, u.Email); err != nil {
			return fmt.Errorf("users row %s: %w", c.ID, err)
		}
	}
	return nil
}

// activeCategories are the categories web offers, in its order (name, id:
// the load tool posts the first).
func activeCategories(ctx context.Context, pool *pgxpool.Pool) ([]store.Category, error) {
	rows, err := pool.Query(ctx, "SELECT id, name FROM delivery_categories WHERE is_active ORDER BY name, id")
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	cats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Category, error) {
		var c store.Category
		err := r.Scan(&c.ID, &c.Name)
		c.IsActive = true
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	if len(cats) == 0 {
		return nil, errors.New("no active category (is the database seeded?)")
	}
	return cats, nil
}

// Placeholders the templates are rendered with, each filled per transaction.
var (
	holeQuote   = uuid.MustParse("0dd0dd0d-0000-4000-8000-0000000000a1")
	holeHistory = uuid.MustParse("0dd0dd0d-0000-4000-8000-0000000000b2")
	holeCreated = time.Date(1999, 1, 2, 3, 4, 5, 678901000, time.UTC)
)

// holes lists the placeholders' text in the order fill takes their values.
var holes = []string{holeQuote.String(), holeHistory.String(), holeCreated.Format(view.TimeFormat),
	holeCreated.Add(quoteTTL).Format(view.TimeFormat)}

// template is a text with holes: parts[0] hole parts[1] hole … parts[n].
type template struct {
	parts []string
	holes []int // index into fill's values, one per gap
	size  int   // bytes of the filled text (every value is as long as its placeholder)
}

// newTemplate cuts s at every placeholder of holes.
func newTemplate(s string) template {
	var t template
	for {
		at, which := -1, -1
		for i, h := range holes {
			if j := strings.Index(s, h); j >= 0 && (at < 0 || j < at) {
				at, which = j, i
			}
		}
		if at < 0 {
			break
		}
		t.parts = append(t.parts, s[:at])
		t.holes = append(t.holes, which)
		s = s[at+len(holes[which]):]
	}
	t.parts = append(t.parts, s)
	for _, p := range t.parts {
		t.size += len(p)
	}
	for _, h := range t.holes {
		t.size += len(holes[h])
	}
	return t
}

// fill writes the text with vals in its holes (vals[i] fills holes[i]; each
// value is as long as its placeholder).
func (t template) fill(vals *[4]string) string {
	var b strings.Builder
	b.Grow(t.size)
	for i, p := range t.parts {
		b.WriteString(p)
		if i < len(t.holes) {
			b.WriteString(vals[t.holes[i]])
		}
	}
	return b.String()
}

// shape is one client's quote from one body: the row's values (the ids and
// times set per transaction) and its outbox row's templates.
type shape struct {
	quote  store.Quote
	frames template
	heads  template
}

// newShape renders what web writes when c posts body b (category cat).
func newShape(c client, cat store.Category, b quoteBody, payload string) (*shape, error) {
	obs := store.StringList(b.Observations)
	if obs == nil {
		obs = store.StringList{}
	}
	q := store.Quote{ID: holeQuote, ClientID: c.ID, Client: c.user(), PickupAddress: b.PickupAddress,
		DeliveryAddress: b.DeliveryAddress, CategoryID: cat.ID, Category: &cat, Description: b.Description,
		Observations: obs, EstimatedWeight: b.EstimatedWeight, EstimatedSize: b.EstimatedSize,
		ClientPrice: b.ClientPrice, PaymentMethod: b.PaymentMethod, Status: store.QuotePending, Version: 1,
		CreatedAt: holeCreated, ExpiresAt: holeCreated.Add(quoteTTL), HistoryID: holeHistory}
	resource := realtime.ResourceQuote(q.ID.String())
	auds := []struct {
		group  string
		viewer view.Viewer
	}{{realtime.GroupNewQuotes, ""}, {realtime.GroupQuote(q.ID.String()), c.ID}, {realtime.GroupUserQuotes(c.ID), c.ID}}
	var frames strings.Builder
	frames.WriteByte('[')
	rendered := map[view.Viewer][]byte{}
	for i, a := range auds {
		p, ok := rendered[a.viewer]
		if !ok {
			var data any = view.NewQuote(&q, a.viewer)
			if payload == payloadRepeat {
				data = strings.Repeat("x", 900)
			}
			m, err := realtime.NewMessage(a.group, realtime.QuoteCreated, data)
			if err != nil {
				return nil, err
			}
			p = m.Payload
			rendered[a.viewer] = p
		}
		// The frame as realtime's encodeFrames stores it: its head's fields,
		// then the payload, last.
		head, err := json.Marshal(struct {
			Group    string `json:"group"`
			Type     string `json:"type"`
			Resource string `json:"resource"`
			Version  int64  `json:"version"`
		}{a.group, realtime.QuoteCreated, resource, q.Version})
		if err != nil {
			return nil, err
		}
		if i > 0 {
			frames.WriteByte(',')
		}
		frames.Write(head[:len(head)-1])
		frames.WriteString(`,"payload":`)
		frames.Write(p)
		frames.WriteByte('}')
	}
	frames.WriteByte(']')
	heads := resource + " " + strconv.FormatInt(q.Version, 10)
	for _, a := range auds {
		heads += " " + a.group
	}
	q.Client, q.Category = nil, nil // the row holds ids only
	return &shape{quote: q, frames: newTemplate(frames.String()), heads: newTemplate(heads + "\n")}, nil
}

// The statements web sends (pkg/store/insert.go), on pgx's cached prepared
// statements.
const (
	insertQuoteSQL = `INSERT INTO "delivery_quotes" ("id", "client_id", "pickup_address", "delivery_address", "category_id", "description", ` +
		`"observations", "vehicle_type_id", "estimated_weight", "estimated_size", "client_price", "payment_method", "status", ` +
		`"pickup_latitude", "pickup_longitude", "delivery_latitude", "delivery_longitude", "auto_accept_lowest", "auto_accept_at", ` +
		`"version", "created_at", "expires_at", "history_id") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, ` +
		`$16, $17, $18, $19, $20, $21, $22, $23)`
	insertHistorySQL = `INSERT INTO "delivery_history" ("id", "history_id", "event_type", "description", "changed_by", "created_at") ` +
		`VALUES ($1, $2, $3, $4, $5, $6)`
	insertOutboxSQL = `INSERT INTO "outbox_events" ("group_name", "event_type", "payload", "created_at", "published_at", "resource", ` +
		`"version", "final", "frames", "heads") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`
	markSQL = "UPDATE outbox_events SET published_at = $1 WHERE id = ANY($2) AND published_at IS NULL"
)

// Transaction shapes (-tx).
const (
	txPipelined  = "pipelined"  // the three inserts in one round trip (one pgx batch: an implicit transaction)
	txStatements = "statements" // BEGIN, each insert, COMMIT: five round trips, as web's transaction sends them
)

// writer writes quote creations: on pool, marks queued for m (nil: each
// transaction marks its row), in transactions shaped as tx.
type writer struct {
	pool *pgxpool.Pool
	m    *marker
	tx   string
}

// writeQuote writes the rows of one quote creation of s in one transaction,
// then its published mark (queued for w.m when it is not nil, at once
// otherwise), and returns the quote's id.
func (w writer) writeQuote(ctx context.Context, s *shape) (uuid.UUID, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	q := s.quote
	q.ID, q.HistoryID, q.CreatedAt, q.ExpiresAt = uuid.New(), uuid.New(), now, now.Add(quoteTTL)
	vals := [4]string{q.ID.String(), q.HistoryID.String(), q.CreatedAt.Format(view.TimeFormat), q.ExpiresAt.Format(view.TimeFormat)}
	frames, heads := s.frames.fill(&vals), s.heads.fill(&vals)
	obs, err := q.Observations.Value()
	if err != nil {
		return uuid.Nil, fmt.Errorf("observations: %w", err)
	}
	// Arguments in the types pgx encodes without a detour: a driver.Valuer
	// (uuid.UUID, decimal.Decimal) is encoded by pgx through its Value, and a
	// decimal's string into a numeric parameter fails first, building an error
	// with fmt (≈ a fifth of the bare writer's CPU). web's database/sql calls
	// Value itself and hands pgx strings.
	quoteArgs := []any{uuidArg(q.ID), q.ClientID, q.PickupAddress, q.DeliveryAddress, uuidArg(q.CategoryID), q.Description,
		obs, optUUIDArg(q.VehicleTypeID), optDecimalArg(q.EstimatedWeight), q.EstimatedSize, q.ClientPrice.String(), q.PaymentMethod,
		q.Status, q.PickupLatitude, q.PickupLongitude, q.DeliveryLatitude, q.DeliveryLongitude,
		q.AutoAcceptLowest, q.AutoAcceptAt, q.Version, q.CreatedAt, q.ExpiresAt, uuidArg(q.HistoryID)}
	historyArgs := []any{uuidArg(uuid.New()), uuidArg(q.HistoryID), store.HistoryQuoteCreated, "Cotización creada por el cliente", q.ClientID, now}
	outboxArgs := []any{"", "", "", now, nil, "", 0, false, frames, heads}
	var id int64
	if w.tx == txPipelined {
		// One round trip: the statements up to the batch's Sync run as one
		// implicit transaction (all or none).
		b := &pgx.Batch{}
		b.Queue(insertQuoteSQL, quoteArgs...)
		b.Queue(insertHistorySQL, historyArgs...)
		b.Queue(insertOutboxSQL, outboxArgs...).QueryRow(func(row pgx.Row) error { return row.Scan(&id) })
		err = w.pool.SendBatch(ctx, b).Close()
	} else {
		err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, insertQuoteSQL, quoteArgs...); err != nil {
				return fmt.Errorf("insert quote: %w", err)
			}
			if _, err := tx.Exec(ctx, insertHistorySQL, historyArgs...); err != nil {
				return fmt.Errorf("insert history: %w", err)
			}
			if err := tx.QueryRow(ctx, insertOutboxSQL, outboxArgs...).Scan(&id); err != nil {
				return fmt.Errorf("insert outbox: %w", err)
			}
			return nil
		})
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("write quote rows: %w", err)
	}
	if w.m != nil {
		w.m.queue(id)
		return q.ID, nil
	}
	if _, err := w.pool.Exec(ctx, markSQL, now, []int64{id}); err != nil {
		return uuid.Nil, fmt.Errorf("mark published: %w", err)
	}
	return q.ID, nil
}

func uuidArg(u uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: u, Valid: true} }

func optUUIDArg(u *uuid.UUID) any {
	if u == nil {
		return nil
	}
	return uuidArg(*u)
}

func optDecimalArg(d *decimal.Decimal) any {
	if d == nil {
		return nil
	}
	return d.String()
}
