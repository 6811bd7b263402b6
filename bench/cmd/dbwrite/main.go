// Command dbwrite measures what the database can write: it writes, straight
// to PostgreSQL with pgx, the rows one quote creation writes — in one
// transaction a quote, its history row and its outbox row (its three frames
// in one row), then, after commit, the row's published mark (batched as web's
// Outbox.Run batches them: one UPDATE per round for every transaction that
// committed meanwhile; -marks each: one UPDATE per transaction) — with
// -c concurrent writers for -duration, and prints transactions per second.
//
// The writers are spread over -users clients (writer i writes as user
// i mod -users), as the load tool's workers are: each quote insert takes a
// key-share lock on its client's users row, and 64 writers on one row make
// PostgreSQL build MultiXacts for every insert (2.3–2.7 ms of PostgreSQL CPU
// per transaction instead of ≈ 1.5), which is not what POST quote pays.
// -users 1 gives that old one-user shape; the report line names the shape.
// bench/writes.sh runs it right before and after POST /deliveries/api/quotes/
// on the same database and prints the ratio. Loopback databases only.
//
//	dbwrite -db 'postgres://postgres@127.0.0.1:5432/hermez_bench?sslmode=disable' -c 64 -duration 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// clientPrefix names the bench users: user_bench_dbwrite_0 … _N-1.
const clientPrefix = "user_bench_dbwrite_"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dbwrite:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dbwrite", flag.ContinueOnError)
	dsn := fs.String("db", os.Getenv("DATABASE_URL"), "PostgreSQL URL (loopback only; migrated and seeded)")
	c := fs.Int("c", 64, "concurrent writers")
	conns := fs.Int("conns", 0, "PostgreSQL connections the writers share (0: one per writer; web's pool is DATABASE_MAX_CONNECTIONS, 20)")
	duration := fs.Duration("duration", 10*time.Second, "length of the run")
	maxOps := fs.Int64("max-ops", 10_000_000, "stop after this many transactions")
	users := fs.Int("users", 16, "distinct client users the writers are spread over (1 = every writer on one users row)")
	marks := fs.String("marks", "batched", "published marks: batched (one UPDATE per round for every transaction committed meanwhile, as web's Outbox.Run) or each (one UPDATE after each transaction, as web without Run)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *c < 1 || *c > 1024 || *duration <= 0 || *duration > time.Hour || *users < 1 || *users > 10_000 {
		return errors.New("-c must be 1..1024, -users 1..10000 and -duration at most 1h")
	}
	if *conns < 0 || *conns > 1024 {
		return errors.New("-conns must be 0..1024")
	}
	if *conns == 0 {
		*conns = *c
	}
	if *marks != "batched" && *marks != "each" {
		return errors.New("-marks must be batched or each")
	}
	if err := loopback(*dsn); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(*dsn)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	cfg.MaxConns = int32(*conns) // the marker shares them, as web's Outbox.Run shares its pool
	ctx, cancel := context.WithTimeout(context.Background(), *duration+time.Minute)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()

	var category uuid.UUID
	if err := pool.QueryRow(ctx, "SELECT id FROM delivery_categories WHERE is_active ORDER BY name LIMIT 1").Scan(&category); err != nil {
		return fmt.Errorf("a category (is the database seeded?): %w", err)
	}
	clients := make([]string, *users)
	for i := range clients {
		clients[i] = fmt.Sprintf("%s%d", clientPrefix, i)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO users (userid, is_online, is_available, is_staff, created_at, updated_at)
		SELECT u, false, false, false, now(), now() FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING`, clients); err != nil {
		return fmt.Errorf("bench users: %w", err)
	}
	payload := strings.Repeat("x", 900) // about a rendered quote frame

	var (
		done    atomic.Int64
		failed  atomic.Int64
		mu      sync.Mutex
		samples []time.Duration
		wg      sync.WaitGroup
	)
	var m *marker
	if *marks == "batched" {
		m = newMarker(pool)
		go m.run(ctx)
	}
	deadline := time.Now().Add(*duration)
	start := time.Now()
	for w := range *c {
		clientID := clients[w%len(clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) && done.Load() < *maxOps {
				t0 := time.Now()
				if err := writeQuote(ctx, pool, m, clientID, category, payload); err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "dbwrite: first failure:", err)
					}
					continue
				}
				done.Add(1)
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if m != nil {
		if err := m.stop(); err != nil {
			failed.Add(1)
			fmt.Fprintln(os.Stderr, "dbwrite: mark published:", err)
		}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	pct := func(p float64) time.Duration {
		if len(samples) == 0 {
			return 0
		}
		return samples[int(p*float64(len(samples)-1))]
	}
	fmt.Printf("scenario=db-quote-rows c=%d conns=%d users=%d marks=%s ops=%d errors=%d tx/s=%.1f p50=%s p99=%s\n",
		*c, *conns, len(clients), *marks, done.Load(), failed.Load(), float64(done.Load())/elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond))
	if failed.Load() > 0 {
		return fmt.Errorf("%d transactions failed", failed.Load())
	}
	return nil
}

// writeQuote writes the rows of one quote creation: the transaction, then
// the published mark (queued for m when it is not nil, at once otherwise),
// as clientID.
func writeQuote(ctx context.Context, pool *pgxpool.Pool, m *marker, clientID string, category uuid.UUID, payload string) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	id, history := uuid.New(), uuid.New()
	var ids []int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO delivery_quotes (id, client_id, pickup_address, delivery_address, category_id,
			description, observations, vehicle_type_id, estimated_weight, estimated_size, client_price, payment_method,
			status, version, created_at, expires_at, history_id)
			VALUES ($1, $2, 'Carrera 33 # 42-18, Bucaramanga', 'Calle 56 # 17A-23, Bucaramanga', $3, 'Caja mediana',
			'["Frágil"]', NULL, 3.50, 'Mediano', 12000.00, 'efectivo', 'pending', 1, $4, $5, $6)`,
			id, clientID, category, now, now.Add(10*time.Minute), history)
		if err != nil {
			return fmt.Errorf("insert quote: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_history (id, history_id, event_type, description, changed_by, created_at)
			VALUES ($1, $2, 'quote_created', 'Cotización creada por el cliente', $3, $4)`, uuid.New(), history, clientID, now); err != nil {
			return fmt.Errorf("insert history: %w", err)
		}
		// One outbox row holding the change's three frames, as realtime.Write
		// stores a change with several frames (pkg/realtime/rows.go).
		res, qid := "quote:"+id.String(), id.String()
		frame := func(group string) string {
			return `{"group":"` + group + `","type":"quote_created","resource":"` + res + `","version":1,"payload":{"type":"quote_created","data":"` + payload + `"}}`
		}
		frames := "[" + frame("new_quotes") + "," + frame("quote_"+qid) + "," + frame("user_quotes_"+clientID) + "]"
		heads := res + " 1 new_quotes quote_" + qid + " user_quotes_" + clientID + "\n"
		rows, err := tx.Query(ctx, `INSERT INTO outbox_events (group_name, event_type, payload, created_at, resource, version, final, frames, heads)
			VALUES ('', '', '', $1, '', 0, false, $2, $3) RETURNING id`, now, frames, heads)
		if err != nil {
			return fmt.Errorf("insert outbox: %w", err)
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return err
	}
	if m != nil {
		m.queue(ids)
		return nil
	}
	if _, err := pool.Exec(ctx, markSQL, now, ids); err != nil {
		return fmt.Errorf("mark published: %w", err)
	}
	return nil
}

const markSQL = "UPDATE outbox_events SET published_at = $1 WHERE id = ANY($2) AND published_at IS NULL"

// marker marks the queued rows published as web's Outbox.Run does
// (pkg/realtime/marks.go): a round takes every id queued since the last one
// and marks them with one UPDATE (at most 1,000 ids each), so under load a
// round covers many transactions and at rest it starts at once.
type marker struct {
	pool *pgxpool.Pool
	mu   sync.Mutex
	ids  []int64
	wake chan struct{}
	done chan error
	quit chan struct{}
}

func newMarker(pool *pgxpool.Pool) *marker {
	return &marker{pool: pool, wake: make(chan struct{}, 1), done: make(chan error, 1), quit: make(chan struct{})}
}

func (m *marker) queue(ids []int64) {
	m.mu.Lock()
	m.ids = append(m.ids, ids...)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *marker) take() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.ids
	m.ids = nil
	return ids
}

func (m *marker) mark(ctx context.Context, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		if _, err := m.pool.Exec(ctx, markSQL, time.Now().UTC().Truncate(time.Microsecond), ids[:n]); err != nil {
			return fmt.Errorf("mark %d rows published: %w", n, err)
		}
		ids = ids[n:]
	}
	return nil
}

// run marks rounds until stop, then what is left; the first failure ends it.
func (m *marker) run(ctx context.Context) {
	for {
		select {
		case <-m.quit:
			m.done <- m.mark(ctx, m.take())
			return
		case <-m.wake:
			if err := m.mark(ctx, m.take()); err != nil {
				m.done <- err
				return
			}
		}
	}
}

// stop marks what is queued and returns the first failure.
func (m *marker) stop() error {
	close(m.quit)
	return <-m.done
}

// loopback refuses a database that is not on this machine.
func loopback(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return errors.New("-db must be a postgres:// URL")
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing database host %q: loopback only", host)
}
