// Command dbwrite measures what the database can write: it writes, straight
// to PostgreSQL with pgx, the rows one quote creation writes — in one
// transaction a quote, its history row and its outbox row (its three frames
// in one row), then, after commit, the row's published mark (batched as web's
// Outbox.Run batches them: one UPDATE per round for every transaction that
// committed meanwhile; -marks each: one UPDATE per transaction) — with
// -c concurrent writers for -duration, and prints transactions per second.
//
// The rows are the ones web writes for the load tool's quote body
// (bench/load.QuoteFields) and token (rows.go): every column web's insert
// names, and the outbox frames rendered by web's view code once per client,
// then filled with each transaction's ids and times — the same bytes, so the
// same size and compressibility as web's rows (-payload repeat: the old
// frames, 900 × "x" as each frame's data, which compress to a third).
//
// The writers are spread over -users clients (writer i writes as user
// i mod -users; by default one per writer up to 200, as the load tool's
// workers are): each quote insert takes a key-share lock on its client's
// users row, and 64 writers on one row make PostgreSQL build MultiXacts for
// every insert, which is not what POST quote pays. -users 1 gives that old
// one-user shape; the report line names the shape.
//
// -serve ADDR is the ceiling of an HTTP service writing these rows: a plain
// net/http server whose POST /deliveries/api/quotes/ decodes the load tool's
// body and writes the same rows with the same function (serve.go).
//
// bench/writes.sh runs both beside POST /deliveries/api/quotes/ on the same
// database and prints the ratios. Loopback databases only.
//
//	dbwrite -db 'postgres://postgres@127.0.0.1:5432/hermez_bench?sslmode=disable' -c 64 -duration 10s
//	dbwrite -db … -serve 127.0.0.1:18102
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"hermez/bench/load"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dbwrite:", err)
		os.Exit(1)
	}
}

// config is dbwrite's flags, checked.
type config struct {
	dsn        string
	c          int
	conns      int
	duration   time.Duration
	maxOps     int64
	users      int
	userPrefix string
	marks      string
	payload    string
	tx         string
	serve      string
	serveFor   time.Duration
	cpuProfile string
}

// webPool is web's DATABASE_MAX_CONNECTIONS default: the bare server's pool.
const webPool = 20

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("dbwrite", flag.ContinueOnError)
	fs.StringVar(&cfg.dsn, "db", os.Getenv("DATABASE_URL"), "PostgreSQL URL (loopback only; migrated and seeded)")
	fs.IntVar(&cfg.c, "c", 64, "concurrent writers")
	fs.IntVar(&cfg.conns, "conns", 0, "PostgreSQL connections the writers share (0: one per writer, or web's 20 with -serve; web's pool is DATABASE_MAX_CONNECTIONS, 20)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the run")
	fs.Int64Var(&cfg.maxOps, "max-ops", 10_000_000, "stop after this many transactions")
	fs.IntVar(&cfg.users, "users", 0, "distinct client users the writers are spread over (0: one per writer, at most 200, as the load tool; 1 = every writer on one users row)")
	fs.StringVar(&cfg.userPrefix, "user-prefix", "bench_dbwrt", "the writers' users are <prefix>_<i> (as long as the load tool's bench_quote_<i> by default)")
	fs.StringVar(&cfg.marks, "marks", "batched", "published marks: batched (one UPDATE per round for every transaction committed meanwhile, as web's Outbox.Run) or each (one UPDATE after each transaction, as web without Run)")
	fs.StringVar(&cfg.payload, "payload", payloadRendered, "outbox frames: rendered (web's bytes for the load tool's body) or repeat (900 × \"x\" as each frame's data, the reference until session 16)")
	fs.StringVar(&cfg.tx, "tx", txPipelined, "transactions: pipelined (the three inserts in one round trip, an implicit transaction) or statements (BEGIN, each insert, COMMIT: web's five round trips)")
	fs.StringVar(&cfg.serve, "serve", "", "no run: serve POST /deliveries/api/quotes/ at http://ADDR (loopback), writing each quote's rows as the run does, for -serve-for")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write this process's CPU profile to this file (the run, or the serving)")
	fs.DurationVar(&cfg.serveFor, "serve-for", 6*time.Hour, "how long -serve serves (ended early by SIGINT/SIGTERM)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.c < 1 || cfg.c > 1024:
		return cfg, errors.New("-c must be 1..1024")
	case cfg.duration <= 0 || cfg.duration > time.Hour:
		return cfg, errors.New("-duration must be in (0, 1h]")
	case cfg.users < 0 || cfg.users > 10_000:
		return cfg, errors.New("-users must be 0..10000")
	case cfg.conns < 0 || cfg.conns > 1024:
		return cfg, errors.New("-conns must be 0..1024")
	case cfg.maxOps < 1:
		return cfg, errors.New("-max-ops must be ≥ 1")
	case cfg.marks != "batched" && cfg.marks != "each":
		return cfg, errors.New("-marks must be batched or each")
	case cfg.payload != payloadRendered && cfg.payload != payloadRepeat:
		return cfg, errors.New("-payload must be rendered or repeat")
	case cfg.tx != txPipelined && cfg.tx != txStatements:
		return cfg, errors.New("-tx must be pipelined or statements")
	case cfg.userPrefix == "" || len(cfg.userPrefix) > 100:
		return cfg, errors.New("-user-prefix must be 1..100 bytes")
	case cfg.serveFor <= 0 || cfg.serveFor > 24*time.Hour:
		return cfg, errors.New("-serve-for must be in (0, 24h]")
	}
	if cfg.serve != "" {
		if err := load.CheckLoopback("http://" + cfg.serve); err != nil {
			return cfg, fmt.Errorf("-serve: %w", err)
		}
	}
	if cfg.users == 0 {
		cfg.users = min(cfg.c, 200)
	}
	if cfg.conns == 0 {
		cfg.conns = cfg.c
		if cfg.serve != "" {
			cfg.conns = webPool
		}
	}
	if err := loopback(cfg.dsn); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func run(args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	pcfg, err := pgxpool.ParseConfig(cfg.dsn)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	pcfg.MaxConns = int32(cfg.conns) // the marker shares them, as web's Outbox.Run shares its pool
	ctx, cancel := signalContext()
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if cfg.serve != "" {
		return serve(ctx, cfg, pool, os.Stdout)
	}
	return bench(ctx, cfg, pool)
}

// benchShapes are the writers' clients and what each posts: client i is
// <prefix>_i with the load tool's body for its user i.
func benchShapes(ctx context.Context, cfg config, pool *pgxpool.Pool) ([]*shape, error) {
	cats, err := activeCategories(ctx, pool)
	if err != nil {
		return nil, err
	}
	byID := catalog(cats)
	clients := make([]client, cfg.users)
	shapes := make([]*shape, cfg.users)
	for i := range clients {
		clients[i] = benchClient(fmt.Sprintf("%s_%d", cfg.userPrefix, i))
		body, err := json.Marshal(load.QuoteFields(cats[0].ID.String(), i)) // as the load tool sends it
		if err != nil {
			return nil, err
		}
		b, cat, err := decodeBody(body, byID)
		if err != nil {
			return nil, fmt.Errorf("the load tool's body: %w", err)
		}
		if shapes[i], err = newShape(clients[i], cat, b, cfg.payload); err != nil {
			return nil, err
		}
	}
	if err := insertUsers(ctx, pool, clients...); err != nil {
		return nil, fmt.Errorf("bench users: %w", err)
	}
	return shapes, nil
}

func bench(ctx context.Context, cfg config, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration+time.Minute)
	defer cancel()
	shapes, err := benchShapes(ctx, cfg, pool)
	if err != nil {
		return err
	}
	var (
		done    atomic.Int64
		failed  atomic.Int64
		mu      sync.Mutex
		samples []time.Duration
		wg      sync.WaitGroup
	)
	wr := writer{pool: pool, tx: cfg.tx}
	if cfg.marks == "batched" {
		wr.m = newMarker(pool)
		go wr.m.run(ctx)
	}
	deadline := time.Now().Add(cfg.duration)
	start := time.Now()
	for w := range cfg.c {
		s := shapes[w%len(shapes)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) && done.Load() < cfg.maxOps && ctx.Err() == nil {
				t0 := time.Now()
				if _, err := wr.writeQuote(ctx, s); err != nil {
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
	if wr.m != nil {
		if err := wr.m.stop(); err != nil {
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
	fmt.Printf("scenario=db-quote-rows c=%d conns=%d users=%d marks=%s tx=%s payload=%s frames=%dB ops=%d errors=%d tx/s=%.1f p50=%s p99=%s\n",
		cfg.c, cfg.conns, len(shapes), cfg.marks, cfg.tx, cfg.payload, shapes[0].frames.size,
		done.Load(), failed.Load(), float64(done.Load())/elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond))
	if failed.Load() > 0 {
		return fmt.Errorf("%d transactions failed", failed.Load())
	}
	return nil
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
