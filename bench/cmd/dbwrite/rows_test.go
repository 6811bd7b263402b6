package main

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"hermez/bench/load"
	"hermez/pkg/auth"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// newDB is a fresh migrated, seeded PostgreSQL database of the test's own
// and a pgx pool on it (skipped without TEST_DATABASE_URL: dbwrite is
// PostgreSQL only).
func newDB(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	if testutil.PostgresURL() == "" {
		t.Skip("TEST_DATABASE_URL not set")
	}
	url := testutil.NewDatabaseURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return url, pool
}

// rowSizes are one quote creation's rows as PostgreSQL stores them.
type rowSizes struct {
	frames, framesStored, heads, quote, history int
}

func sizesOf(t *testing.T, pool *pgxpool.Pool, quoteID uuid.UUID) rowSizes {
	t.Helper()
	var r rowSizes
	err := pool.QueryRow(context.Background(), `SELECT octet_length(o.frames), pg_column_size(o.frames), octet_length(o.heads),
			pg_column_size(q.*), pg_column_size(h.*)
		FROM delivery_quotes q JOIN delivery_history h ON h.history_id = q.history_id
		JOIN outbox_events o ON o.heads LIKE 'quote:' || q.id || ' %'
		WHERE q.id = $1`, quoteID).Scan(&r.frames, &r.framesStored, &r.heads, &r.quote, &r.history)
	if err != nil {
		t.Fatalf("rows of quote %s: %v", quoteID, err)
	}
	return r
}

// within fails unless got is within frac of want.
func within(t *testing.T, what string, got, want int, frac float64) {
	t.Helper()
	if math.Abs(float64(got-want)) > frac*float64(want) {
		t.Errorf("%s: dbwrite %d bytes, web %d (more than %.0f%% apart)", what, got, want, frac*100)
	}
}

// TestReferenceRowsAreWebs posts the load tool's body with the load tool's
// token to a real web, then writes a quote with the reference's own path
// (benchShapes, writeQuote) into the same database, and compares the rows
// as PostgreSQL stores them: the outbox frames raw and compressed, the
// heads, the quote and history rows. The old payload (-payload repeat) is
// checked to fail the comparison, so the test can tell.
func TestReferenceRowsAreWebs(t *testing.T) {
	url, pool := newDB(t)
	st, err := store.Open(url, filepath.Join(t.TempDir(), "unused.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	web := testutil.NewWeb(t, testutil.WebOptions{Store: st})
	ctx := context.Background()

	// As the load tool: its token for its user 7, the first category, its body.
	const user = "bench_quote_7"
	tok, err := web.Dev.Mint(user, auth.TokenOptions{Name: "Bench " + user, Email: user + "@bench.invalid", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var cats []struct {
		ID string `json:"id"`
	}
	web.Do(t, "GET", "/deliveries/api/categories/", tok, nil).JSON(t, &cats)
	mine, err := activeCategories(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(cats) == 0 || cats[0].ID != mine[0].ID.String() {
		t.Fatalf("web's first category %v, dbwrite's %s: the load tool posts web's first", cats, mine[0].ID)
	}
	res := web.Do(t, "POST", "/deliveries/api/quotes/", tok, load.QuoteFields(cats[0].ID, 7))
	if res.Status != 201 {
		t.Fatalf("POST quote: %d %s", res.Status, res.Body)
	}
	var created struct {
		ID        uuid.UUID `json:"id"`
		HistoryID uuid.UUID `json:"history_id"`
		CreatedAt string    `json:"created_at"`
		ExpiresAt string    `json:"expires_at"`
	}
	res.JSON(t, &created)
	webRows := sizesOf(t, pool, created.ID)

	// The same client, body, ids and times through dbwrite's template: the
	// bytes web stored.
	var webFrames, webHeads string
	if err := pool.QueryRow(ctx, `SELECT frames, heads FROM outbox_events WHERE heads LIKE 'quote:' || $1::text || ' %'`, created.ID).Scan(&webFrames, &webHeads); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(load.QuoteFields(cats[0].ID, 7))
	b, cat, err := decodeBody(body, catalog(mine))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := newShape(benchClient(user), cat, b, payloadRendered)
	if err != nil {
		t.Fatal(err)
	}
	vals := [4]string{created.ID.String(), created.HistoryID.String(), created.CreatedAt, created.ExpiresAt}
	if got := sh.frames.fill(&vals); got != webFrames {
		t.Logf("frames differ from web's (same ids and times):\n dbwrite %s\n web     %s", got, webFrames)
	} else {
		t.Logf("frames: the %d bytes web stored, byte for byte", len(got))
	}
	if got := sh.heads.fill(&vals); got != webHeads {
		t.Errorf("heads %q, web's %q", got, webHeads)
	}

	// The reference's own path: its user 7 (as long a name as the load tool's).
	cfg := config{c: 8, users: 8, userPrefix: "bench_dbwrt", payload: payloadRendered}
	shapes, err := benchShapes(ctx, cfg, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range []string{txPipelined, txStatements} {
		id, err := writer{pool: pool, tx: tx}.writeQuote(ctx, shapes[7])
		if err != nil {
			t.Fatal(err)
		}
		ref := sizesOf(t, pool, id)
		t.Logf("web: %+v\nreference (-tx %s): %+v", webRows, tx, ref)
		within(t, "outbox frames", ref.frames, webRows.frames, 0.03)
		within(t, "outbox frames as stored (compressed)", ref.framesStored, webRows.framesStored, 0.03)
		within(t, "outbox heads", ref.heads, webRows.heads, 0.03)
		within(t, "quote row", ref.quote, webRows.quote, 0.03)
		within(t, "history row", ref.history, webRows.history, 0.03)
		var published bool
		if err := pool.QueryRow(ctx, `SELECT published_at IS NOT NULL FROM outbox_events WHERE heads LIKE 'quote:' || $1::text || ' %'`, id).Scan(&published); err != nil || !published {
			t.Errorf("-tx %s: the reference's row not marked published (%v)", tx, err)
		}
	}

	// The old payload is what this test is for: its frames compress to far less.
	cfg.payload = payloadRepeat
	old, err := benchShapes(ctx, cfg, pool)
	if err != nil {
		t.Fatal(err)
	}
	oid, err := writer{pool: pool, tx: txPipelined}.writeQuote(ctx, old[7])
	if err != nil {
		t.Fatal(err)
	}
	if o := sizesOf(t, pool, oid); float64(o.framesStored) > 0.8*float64(webRows.framesStored) {
		t.Errorf("-payload repeat stores %d bytes of frames, web %d: the comparison cannot tell them apart", o.framesStored, webRows.framesStored)
	} else {
		t.Logf("-payload repeat: frames %d bytes raw, %d stored (web %d, %d)", o.frames, o.framesStored, webRows.frames, webRows.framesStored)
	}
}

func TestTemplateFill(t *testing.T) {
	tpl := newTemplate("a" + holes[1] + "b" + holes[0] + holes[3] + "c" + holes[1])
	vals := [4]string{uuid.New().String(), uuid.New().String(), holes[2], time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")}
	want := "a" + vals[1] + "b" + vals[0] + vals[3] + "c" + vals[1]
	if got := tpl.fill(&vals); got != want || tpl.size != len(want) {
		t.Fatalf("fill = %q (size %d), want %q", got, tpl.size, want)
	}
	if got := newTemplate("no holes").fill(&vals); got != "no holes" {
		t.Fatalf("fill without holes = %q", got)
	}
}

// TestWriteIsOneTransaction: when the last insert fails (a NUL byte in the
// heads, which PostgreSQL's text refuses), the quote and history inserts
// before it are undone, in both transaction shapes.
func TestWriteIsOneTransaction(t *testing.T) {
	_, pool := newDB(t)
	ctx := context.Background()
	shapes, err := benchShapes(ctx, config{c: 1, users: 1, userPrefix: "bench_dbwrt", payload: payloadRendered}, pool)
	if err != nil {
		t.Fatal(err)
	}
	bad := *shapes[0]
	bad.heads = newTemplate("quote:x 1 new_quotes\x00\n")
	for _, tx := range []string{txPipelined, txStatements} {
		if _, err := (writer{pool: pool, tx: tx}).writeQuote(ctx, &bad); err == nil {
			t.Fatalf("-tx %s: a NUL byte in heads was written", tx)
		}
		var quotes, history, outbox int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM delivery_quotes), (SELECT count(*) FROM delivery_history),
			(SELECT count(*) FROM outbox_events)`).Scan(&quotes, &history, &outbox); err != nil {
			t.Fatal(err)
		}
		if quotes+history+outbox != 0 {
			t.Errorf("-tx %s: a failed write left %d quotes, %d history rows, %d outbox rows", tx, quotes, history, outbox)
		}
	}
	if _, err := (writer{pool: pool, tx: txPipelined}).writeQuote(ctx, shapes[0]); err != nil {
		t.Fatalf("the connection after a failed batch: %v", err)
	}
}
