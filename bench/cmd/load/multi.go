package main

// Scenarios for runs spread over several processes (more sockets than one
// process may hold descriptors for, several workers, several web
// processes): listeners open sockets and record receipts; posters create
// quotes over HTTP and write what they posted to an events file; files on
// disk coordinate them (same machine, same clock).
//
//	sockets-listen: open -sockets sockets on -ws-path (socket i is user i mod
//	  -users), write -ready-file, keep receipts until -done-file appears (at
//	  most -listen-max), wait -settle for frames in flight, then read every
//	  -events-file and report, for the events this process's sockets should
//	  have received, received/missing and latency from the POST being sent;
//	  every latency goes to -samples-out (ms, one per line) for merging.
//	post-quotes: wait for every -wait-ready file, then create quotes: at
//	  -rate for -duration as users round-robin (each event expected by that
//	  user's sockets), or -events quotes -spacing apart as one client (expected
//	  by every socket: the new_quotes fan-out); write -events-file, then -done-file.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hermez/bench/load"
)

// everyone in an events file: the event is expected by every socket.
const everyone = -1

type multiOptions struct {
	readyFile  string
	waitReady  string
	eventsFile string
	doneFile   string
	samplesOut string
	listenMax  time.Duration
	spacing    time.Duration
}

type postedEvent struct {
	id   string
	user int
	sent time.Time
}

// socketsListen is the listening side.
func (b *bench) socketsListen(ctx context.Context) error {
	o, m := b.o, b.o.multi
	if m.readyFile == "" || m.doneFile == "" || m.eventsFile == "" {
		return errors.New("sockets-listen needs -ready-file, -done-file and -events-file")
	}
	lim, err := load.RaiseNoFile(load.NoFileTarget(o.sockets))
	if err != nil {
		fmt.Fprintln(b.out, "note:", err)
	}
	toks, err := b.tokens("socket", min(o.sockets, o.users))
	if err != nil {
		return err
	}
	var before int64
	if o.pid > 0 {
		if before, err = load.RSS(o.pid); err != nil {
			return err
		}
	}
	dialLat := load.NewRecorder(o.maxSamples)
	t0 := time.Now()
	socks, users, err := b.openUserSockets(ctx, b.socketsPath("/ws/deliveries/new-quotes/"), o.sockets, toks, dialLat)
	if err != nil {
		return err
	}
	defer closeAll(socks)
	openTook := time.Since(t0)
	sleep(ctx, o.settle)
	line := fmt.Sprintf("scenario=sockets-listen sockets=%d/%d open=%.1fs", len(socks), o.sockets, openTook.Seconds())
	if o.pid > 0 {
		after, err := load.RSS(o.pid)
		if err != nil {
			return err
		}
		line += fmt.Sprintf(" server_rss_before=%.1fMiB server_rss_after=%.1fMiB rss_per_socket=%.1fKB",
			float64(before)/(1<<20), float64(after)/(1<<20), float64(after-before)/float64(len(socks))/1000)
	}
	fmt.Fprintln(b.out, line)
	if err := os.WriteFile(m.readyFile, []byte(strconv.Itoa(len(socks))+"\n"), 0o644); err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, m.listenMax)
	defer cancel()
	if err := waitFiles(wctx, []string{m.doneFile}); err != nil {
		return fmt.Errorf("waiting for %s: %w", m.doneFile, err)
	}
	sleep(ctx, o.eventWait)

	var events []postedEvent
	for _, f := range splitList(m.eventsFile) {
		evs, err := readEvents(f)
		if err != nil {
			return err
		}
		events = append(events, evs...)
	}
	byUser := map[int][]int{}
	for i, u := range users {
		byUser[u] = append(byUser[u], i)
	}
	lat := load.NewRecorder(o.maxSamples)
	var samples *bufio.Writer
	if m.samplesOut != "" {
		f, err := os.Create(m.samplesOut)
		if err != nil {
			return err
		}
		defer f.Close()
		samples = bufio.NewWriter(f)
		defer samples.Flush()
	}
	var expected, missing int64
	for _, ev := range events {
		idx := byUser[ev.user]
		if ev.user == everyone {
			idx = nil
			for i := range socks {
				idx = append(idx, i)
			}
		}
		for _, i := range idx {
			expected++
			at, ok := socks[i].receivedAt(ev.id)
			if !ok {
				missing++
				continue
			}
			d := at.Sub(ev.sent)
			lat.Add(d)
			if samples != nil {
				fmt.Fprintf(samples, "%.3f\n", float64(d.Microseconds())/1000)
			}
		}
	}
	st, dst := lat.Stats(), dialLat.Stats()
	r := socketReport{Scenario: o.scenario, Sockets: len(socks), Requested: o.sockets, OpenSeconds: openTook.Seconds(),
		DialP50ms: msf(dst.P50), DialP99ms: msf(dst.P99), Events: len(events), Received: st.Count, Missing: missing,
		P50ms: msf(st.P50), P99ms: msf(st.P99), Maxms: msf(st.Max), NoFileLimit: lim}
	b.report(fmt.Sprintf("scenario=sockets-listen sockets=%d events=%d expected=%d received=%d missing=%d p50=%s p99=%s max=%s (from POST sent)",
		len(socks), len(events), expected, st.Count, missing, ms(st.P50), ms(st.P99), ms(st.Max)), r)
	return nil
}

// wsBase is the socket base URL of socket i: -ws-target, or with
// placed-fanout's -ws-targets the (i mod n)th of them.
func (b *bench) wsBase(i int) string {
	if n := len(b.o.placed.bases); n > 0 {
		return b.o.placed.bases[i%n]
	}
	return b.o.wsTarget
}

// openUserSockets is openSockets that also says which user (token index) each socket is.
func (b *bench) openUserSockets(ctx context.Context, path string, n int, toks []string, dialLat *load.Recorder) ([]*sock, []int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.openTimeout)
	defer cancel()
	socks := make([]*sock, n)
	sem := make(chan struct{}, b.o.dialers)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			c, err := b.dialTo(ctx, b.wsBase(i), path, toks[i%len(toks)])
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				dialLat.Error(err)
				return
			}
			dialLat.Add(time.Since(t0))
			s := &sock{c: c}
			socks[i] = s
			go s.read()
		}(i)
	}
	wg.Wait()
	var open []*sock
	var users []int
	for i, s := range socks {
		if s != nil {
			open = append(open, s)
			users = append(users, i%len(toks))
		}
	}
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(b.out, "note: %d of %d sockets failed to open; first error: %v\n", f, n, firstErr.Load())
	}
	if len(open) == 0 {
		return nil, nil, errors.New("no socket opened")
	}
	return open, users, nil
}

// postQuotes is the posting side.
func (b *bench) postQuotes(ctx context.Context) error {
	o, m := b.o, b.o.multi
	if m.eventsFile == "" || m.doneFile == "" {
		return errors.New("post-quotes needs -events-file and -done-file")
	}
	var toks []string
	var err error
	if o.rate > 0 {
		toks, err = b.tokens("socket", o.users)
	} else {
		var t string
		t, err = b.token(o.userPrefix + "_fanout_client")
		toks = []string{t}
	}
	if err != nil {
		return err
	}
	cat, err := b.firstCategory(ctx, toks[0])
	if err != nil {
		return err
	}
	if m.waitReady != "" {
		wctx, cancel := context.WithTimeout(ctx, o.openTimeout)
		err := waitFiles(wctx, splitList(m.waitReady))
		cancel()
		if err != nil {
			return fmt.Errorf("waiting for the listeners: %w", err)
		}
	}
	var mu sync.Mutex
	var events []postedEvent
	httpLat := load.NewRecorder(o.maxSamples)
	var failed atomic.Int64
	var firstErr atomic.Value
	post := func(i, user int) {
		start := time.Now()
		body, err := b.client.do(ctx, "POST", o.target+"/deliveries/api/quotes/", toks[max(user, 0)], quoteBody(cat, i), 201, true)
		if err == nil {
			var qid string
			if qid, err = id(body); err == nil {
				httpLat.Add(time.Since(start))
				mu.Lock()
				events = append(events, postedEvent{id: qid, user: user, sent: start})
				mu.Unlock()
				return
			}
		}
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err)
		httpLat.Error(err)
	}
	t0 := time.Now()
	late := 0
	if o.rate > 0 {
		total := int(o.rate * o.duration.Seconds())
		sem := make(chan struct{}, o.workers)
		var wg sync.WaitGroup
		for i := 0; i < total && ctx.Err() == nil; i++ {
			due := t0.Add(load.Scheduled(int64(i), o.rate))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			} else if d < -10*time.Millisecond {
				late++
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(i int) {
				defer func() { <-sem; wg.Done() }()
				post(i, i%len(toks))
			}(i)
		}
		wg.Wait()
	} else {
		for i := 0; i < o.events && ctx.Err() == nil; i++ {
			if i > 0 {
				sleep(ctx, m.spacing)
			}
			post(i, everyone)
		}
	}
	took := time.Since(t0)
	if err := writeEvents(m.eventsFile, events); err != nil {
		return err
	}
	if err := os.WriteFile(m.doneFile, []byte("done\n"), 0o644); err != nil {
		return fmt.Errorf("done file: %w", err)
	}
	hst := httpLat.Stats()
	line := fmt.Sprintf("scenario=post-quotes posted=%d failed=%d in=%.1fs rate=%.1f/s late=%d post_p50=%s post_p99=%s",
		len(events), failed.Load(), took.Seconds(), float64(len(events))/took.Seconds(), late, ms(hst.P50), ms(hst.P99))
	if f := failed.Load(); f > 0 {
		line += fmt.Sprintf(" first_error=%q", fmt.Sprint(firstErr.Load()))
	}
	fmt.Fprintln(b.out, line)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// waitFiles waits until every file exists.
func waitFiles(ctx context.Context, files []string) error {
	for {
		all := true
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				all = false
				break
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Events files: one line per quote, "<id> <user index or -1> <sent, Unix ns>".
func writeEvents(path string, evs []postedEvent) error {
	sort.Slice(evs, func(i, j int) bool { return evs[i].sent.Before(evs[j].sent) })
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "%s %d %d\n", e.id, e.user, e.sent.UnixNano())
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("events file: %w", err)
	}
	return os.Rename(tmp, path)
}

func readEvents(path string) ([]postedEvent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("events file: %w", err)
	}
	var out []postedEvent
	for n, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 fields", path, n+1)
		}
		u, err1 := strconv.Atoi(f[1])
		ns, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad line %q", path, n+1, line)
		}
		out = append(out, postedEvent{id: f[0], user: u, sent: time.Unix(0, ns)})
	}
	return out, nil
}
