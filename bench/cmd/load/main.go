// Command load is the Hermez load tool: authenticated HTTP scenarios at
// saturation or at a fixed rate, and WebSocket scenarios (idle sockets and
// their memory, fan-out latency, publish → receipt latency). It only ever
// targets the local machine, and every loop is bounded in time and count.
//
//	load -scenario me -c 64 -duration 10s                # saturation
//	load -scenario me -rate 1000 -duration 10s           # fixed rate
//	load -scenario sockets-idle -sockets 20000 -pid $(pgrep -n worker)
//
// See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"hermez/bench/load"
	"hermez/pkg/auth"
)

type options struct {
	scenario    string
	target      string
	wsTarget    string
	devKey      string
	audience    string
	issuerURL   string
	azp         string
	serveJWKS   string
	serveBare   string
	serveFor    time.Duration
	workers     int
	duration    time.Duration
	rate        float64
	maxOps      int64
	maxSamples  int
	users       int
	runs        int
	pause       time.Duration
	warmup      time.Duration
	timeout     time.Duration
	jsonOut     bool
	sockets     int
	dialers     int
	pid         int
	settle      time.Duration
	hold        time.Duration
	events      int
	interval    time.Duration
	wsPath      string
	userPrefix  string
	eventWait   time.Duration
	openTimeout time.Duration
	multi       multiOptions
	placed      placedOptions
	bareWS      bareWSOptions
}

const (
	maxWorkers = 10000
	maxSockets = 100000
	maxRuns    = 10
	maxEvents  = 10000
)

func main() {
	var o options
	defineFlags(flag.CommandLine, &o)
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func defineFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.scenario, "scenario", "me", "me | categories | quote | accept | sockets-idle | sockets-fanout | placed-fanout | publish-latency | sockets-listen | post-quotes")
	fs.StringVar(&o.target, "target", "http://127.0.0.1:8000", "web base URL (loopback only)")
	fs.StringVar(&o.wsTarget, "ws-target", "", "socket base URL, e.g. ws://127.0.0.1:8001 for a worker (default: the web target)")
	fs.StringVar(&o.devKey, "dev-key", ".hermez/dev-jwt.pem", "the development issuer's key file the server uses (tokens are minted with it)")
	fs.StringVar(&o.audience, "audience", "hermez-backend-api", "token audience (CLERK_JWT_AUDIENCE)")
	fs.StringVar(&o.issuerURL, "issuer", "", "mint Clerk-like tokens with this iss (the server's CLERK_FRONTEND_API_URL, served by -serve-jwks) instead of development tokens")
	fs.StringVar(&o.azp, "azp", "http://localhost:4321", "azp claim of -issuer tokens (one of the server's CLERK_AUTHORIZED_PARTIES)")
	fs.StringVar(&o.serveJWKS, "serve-jwks", "", "no scenario: serve the -dev-key key's JWKS at http://ADDR/.well-known/jwks.json (creating the key if missing) for -serve-for")
	fs.StringVar(&o.serveBare, "serve-bare", "", "no load: fetch -scenario's answer (me, categories) from -target once and serve the same bytes at http://ADDR from a plain net/http handler (the bare limit) for -serve-for")
	fs.StringVar(&o.bareWS.addr, "serve-bare-ws", "", "no load: the bare fan-out server at ws://ADDR (any path): receives new_quotes from the workers' broker and writes each frame as one PreparedMessage to every socket it holds (bench/cluster.sh SCENARIOS=fanout-bare) for -serve-for")
	fs.IntVar(&o.bareWS.writers, "bare-writers", 1, "-serve-bare-ws: goroutines writing one event (1: one plain loop; 0: GOMAXPROCS, each a contiguous share)")
	fs.DurationVar(&o.bareWS.ping, "bare-ping", 0, "-serve-bare-ws: ping every socket this often, spread over the interval, as a worker does (its PING_INTERVAL is 25s; 0: no pings)")
	fs.StringVar(&o.bareWS.redisURL, "redis-url", os.Getenv("REDIS_URL"), "-serve-bare-ws: the workers' Redis (default $REDIS_URL)")
	fs.StringVar(&o.bareWS.clusterURL, "redis-cluster-url", os.Getenv("REDIS_CLUSTER_URL"), "-serve-bare-ws: the workers' Redis Cluster (default $REDIS_CLUSTER_URL)")
	fs.StringVar(&o.bareWS.prefix, "redis-prefix", os.Getenv("REDIS_PREFIX"), "-serve-bare-ws: the workers' REDIS_PREFIX (default $REDIS_PREFIX)")
	fs.DurationVar(&o.serveFor, "serve-for", 2*time.Hour, "how long -serve-jwks, -serve-bare or -serve-bare-ws serves (ended early by SIGINT/SIGTERM)")
	fs.IntVar(&o.workers, "c", 64, "concurrent workers (saturation) or worker pool size (fixed rate)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of one run (HTTP scenarios)")
	fs.Float64Var(&o.rate, "rate", 0, "operations per second (0 = saturation)")
	fs.Int64Var(&o.maxOps, "max-ops", 10_000_000, "stop a run after this many operations")
	fs.IntVar(&o.maxSamples, "max-samples", 2_000_000, "latency samples kept per run (reservoir beyond)")
	fs.IntVar(&o.users, "users", 0, "distinct users for HTTP scenarios (default: one per worker, at most 200)")
	fs.IntVar(&o.runs, "runs", 1, "repeat the run this many times and print the medians (1..10)")
	fs.DurationVar(&o.pause, "pause", 2*time.Second, "pause between runs")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before the first run (HTTP scenarios)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&o.jsonOut, "json", false, "also print each report as one JSON line")
	fs.IntVar(&o.sockets, "sockets", 1000, "sockets to open (sockets-idle, sockets-fanout)")
	fs.IntVar(&o.dialers, "dialers", 128, "concurrent socket handshakes while opening")
	fs.IntVar(&o.pid, "pid", 0, "server process whose RSS is measured (sockets-idle; /proc/<pid>/status)")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "wait after opening sockets before measuring RSS")
	fs.DurationVar(&o.hold, "hold", 0, "keep the sockets open this long after measuring")
	fs.IntVar(&o.events, "events", 5, "events to publish (sockets-fanout: rounds; publish-latency: quotes)")
	fs.DurationVar(&o.interval, "interval", 50*time.Millisecond, "idle time between publish-latency quotes (1s between fan-out rounds)")
	fs.StringVar(&o.wsPath, "ws-path", "", "socket path override (default: per scenario)")
	fs.StringVar(&o.userPrefix, "user-prefix", "bench", "prefix of the benchmark users' ids")
	fs.DurationVar(&o.eventWait, "event-wait", 30*time.Second, "how long to wait for an event to reach every socket")
	fs.DurationVar(&o.openTimeout, "open-timeout", 5*time.Minute, "bound on opening all sockets")
	fs.StringVar(&o.multi.readyFile, "ready-file", "", "sockets-listen: written once the sockets are open")
	fs.StringVar(&o.multi.waitReady, "wait-ready", "", "post-quotes: comma-separated ready files to wait for before posting")
	fs.StringVar(&o.multi.eventsFile, "events-file", "", "post-quotes: where the posted quotes are written; sockets-listen: comma-separated files to read")
	fs.StringVar(&o.multi.doneFile, "done-file", "", "written by post-quotes when done; sockets-listen waits for it")
	fs.StringVar(&o.multi.samplesOut, "samples-out", "", "sockets-listen: every latency in ms, one per line (merge several processes)")
	fs.DurationVar(&o.multi.listenMax, "listen-max", 10*time.Minute, "sockets-listen: longest wait for -done-file")
	fs.DurationVar(&o.multi.spacing, "spacing", time.Second, "post-quotes without -rate: time between two fan-out quotes")
	fs.IntVar(&o.placed.towns, "towns", 100, "placed-fanout: towns the users are spread over (user u in town u mod -towns)")
	fs.Float64Var(&o.placed.radiusKm, "radius-km", 10, "placed-fanout: the server's QUOTE_RADIUS_KM (who is in a quote's area)")
	fs.Float64Var(&o.placed.townKm, "town-km", 50, "placed-fanout: distance between neighbouring towns (more than 2 × (radius + 3 km))")
	fs.StringVar(&o.placed.wsTargets, "ws-targets", "", "placed-fanout: comma-separated socket base URLs (workers); socket i goes to the (i mod n)th (default: -ws-target)")
	fs.StringVar(&o.placed.pids, "pids", "", "placed-fanout: comma-separated worker pids whose CPU is summed (default: -pid)")
	fs.DurationVar(&o.placed.relocate, "relocate", 30*time.Second, "placed-fanout: re-send every user's location this often (keep it well under LOCATION_TTL_SECONDS)")
}

func (o *options) validate() error {
	o.target = strings.TrimRight(o.target, "/")
	if o.wsTarget == "" {
		o.wsTarget = load.WSURL(o.target)
	}
	o.wsTarget = strings.TrimRight(o.wsTarget, "/")
	if err := load.CheckLoopback(o.target); err != nil {
		return err
	}
	if err := load.CheckLoopback(o.wsTarget); err != nil {
		return err
	}
	switch {
	case o.workers < 1 || o.workers > maxWorkers:
		return fmt.Errorf("-c must be 1..%d", maxWorkers)
	case o.duration <= 0 || o.duration > time.Hour:
		return errors.New("-duration must be in (0, 1h]")
	case o.rate < 0 || o.rate > 1_000_000:
		return errors.New("-rate must be 0..1,000,000")
	case o.runs < 1 || o.runs > maxRuns:
		return fmt.Errorf("-runs must be 1..%d", maxRuns)
	case o.sockets < 1 || o.sockets > maxSockets:
		return fmt.Errorf("-sockets must be 1..%d", maxSockets)
	case o.events < 1 || o.events > maxEvents:
		return fmt.Errorf("-events must be 1..%d", maxEvents)
	case o.dialers < 1 || o.dialers > 4096:
		return errors.New("-dialers must be 1..4096")
	case o.maxOps < 1:
		return errors.New("-max-ops must be ≥ 1")
	}
	if o.scenario == "placed-fanout" {
		if err := o.validatePlaced(); err != nil {
			return err
		}
	}
	if o.users <= 0 {
		o.users = min(o.workers, 200)
	}
	return nil
}

func run(o options) error {
	if o.serveJWKS != "" {
		ctx, cancel := signalContext()
		defer cancel()
		return serveJWKS(ctx, o)
	}
	if o.bareWS.addr != "" {
		ctx, cancel := signalContext()
		defer cancel()
		return serveBareWS(ctx, o.bareWS, o.serveFor)
	}
	b, err := newBench(o, os.Stdout)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	if o.serveBare != "" {
		return b.serveBare(ctx)
	}
	return b.run(ctx)
}

func newBench(o options, out io.Writer) (*bench, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	iss, err := issuer(o.devKey, o.audience)
	if err != nil {
		return nil, err
	}
	return &bench{out: out, o: o, iss: iss, client: newHTTPClient(o.workers, o.timeout)}, nil
}

func (b *bench) run(ctx context.Context) error {
	switch b.o.scenario {
	case "me", "categories", "quote", "accept":
		return b.httpScenario(ctx)
	case "sockets-idle":
		return b.socketsIdle(ctx)
	case "sockets-fanout":
		return b.socketsFanout(ctx)
	case "placed-fanout":
		return b.placedFanout(ctx)
	case "publish-latency":
		return b.publishLatency(ctx)
	case "sockets-listen":
		return b.socketsListen(ctx)
	case "post-quotes":
		return b.postQuotes(ctx)
	default:
		return fmt.Errorf("unknown scenario %q", b.o.scenario)
	}
}

// issuer loads the development key the server uses, so the tool's tokens
// verify there (the server must run with the development issuer: local mode,
// or DEBUG=true with no CLERK_FRONTEND_API_URL).
func issuer(path, audience string) (*auth.DevIssuer, error) {
	iss, err := auth.LoadDevIssuer(path, audience)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("development key (start the server once with DEBUG=true to create it, or -serve-jwks; and pass -dev-key): %w", err)
	}
	return iss, err
}

type bench struct {
	out    io.Writer
	o      options
	iss    *auth.DevIssuer
	client *httpClient
}

func (b *bench) token(userid string) (string, error) {
	o := auth.TokenOptions{Name: "Bench " + userid, Email: userid + "@bench.invalid", TTL: 3 * time.Hour}
	if b.o.issuerURL != "" {
		o.Issuer, o.AuthorizedParty = b.o.issuerURL, b.o.azp
	}
	return b.iss.Mint(userid, o)
}

func (b *bench) tokens(kind string, n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		t, err := b.token(fmt.Sprintf("%s_%s_%d", b.o.userPrefix, kind, i))
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// report prints one summary line (and a JSON line with -json).
func (b *bench) report(line string, v any) {
	fmt.Fprintln(b.out, line)
	if b.o.jsonOut {
		j, err := json.Marshal(v)
		if err == nil {
			fmt.Fprintln(b.out, string(j))
		}
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
