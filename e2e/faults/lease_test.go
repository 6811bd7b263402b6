package faults

import (
	"database/sql"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hermez/pkg/testutil"
)

// The relay/sweep runner's lease (runner_leases, RUNNER_LEASE_SECONDS=2) on
// two workers: the first holds it, renewing it every relay tick, and the
// second never takes it meanwhile; the holder killed (-9) cannot release it,
// so the second takes it once it expires — within the lease time after the
// last renewal — and relays what was left unpublished. A worker stopped by
// SIGTERM releases it: the next takes over without waiting for the expiry.
func TestRunnerLeaseHolderKilled(t *testing.T) {
	t.Parallel()
	url, prefix := testutil.Redis(t)
	const ttl = 2 * time.Second
	s := newSystem(t, url, prefix, "RUNNER_LEASE_SECONDS=2")
	db, err := sql.Open("pgx", s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder := func() string {
		var h string
		if err := db.QueryRow(`SELECT holder FROM runner_leases WHERE expires_at > now()`).Scan(&h); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return h
	}
	holds := func(p *proc) bool {
		return strings.Contains(holder(), "/"+strconv.Itoa(p.cmd.Process.Pid)+"/")
	}
	waitHolder := func(p *proc, within time.Duration) time.Time {
		for end := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
			if holds(p) {
				return time.Now()
			}
			if time.Now().After(end) {
				t.Fatalf("%s does not hold the lease after %s (holder %q)", p.name, within, holder())
			}
		}
	}
	w1 := s.startWorker("worker-1")
	waitHolder(w1, 5*time.Second)
	w2 := s.startWorker("worker-2")
	// Longer than the lease: w1 keeps it by renewing, w2 never gets it.
	for end := time.Now().Add(ttl + 500*time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !holds(w1) {
			t.Fatalf("the lease left its live holder (holder %q)", holder())
		}
	}
	w1.kill9()
	killed := time.Now()
	// A frame left unpublished (as by a web killed between commit and publish).
	var id int64
	if err := db.QueryRow(`INSERT INTO outbox_events (group_name, event_type, payload, created_at, resource, version, final, heads)
		VALUES ('new_quotes', 'quote_deleted', '{"type":"quote_deleted","data":{"id":"x"}}', now() - interval '10 seconds', '', 0, false, '')
		RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	took := waitHolder(w2, ttl+10*time.Second).Sub(killed)
	var relayed time.Duration
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var published sql.NullTime
		if err := db.QueryRow(`SELECT published_at FROM outbox_events WHERE id = $1`, id).Scan(&published); err != nil {
			t.Fatal(err)
		}
		if published.Valid {
			relayed = time.Since(killed)
			break
		}
		if time.Now().After(end) {
			t.Fatal("the new holder never relayed the unpublished row")
		}
	}
	// A graceful stop releases it.
	w3 := s.startWorker("worker-3")
	w2.signal(syscall.SIGTERM)
	if err := w2.wait(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	handover := waitHolder(w3, 5*time.Second).Sub(stopped)
	figure(t, "runner-lease", "lease %s; holder kill -9: another worker took the lease %s after the kill and relayed a row left unpublished %s after; "+
		"holder SIGTERM: the next took it %s after the exit (released)",
		ttl, took.Round(10*time.Millisecond), relayed.Round(10*time.Millisecond), handover.Round(10*time.Millisecond))
	// The killed holder renewed at most a relay tick (1 s) before the kill.
	if took < ttl-time.Second-200*time.Millisecond || took > ttl+3*time.Second {
		t.Fatalf("lease taken over %s after the kill; lease %s, renewed every second", took, ttl)
	}
	if handover > 2*time.Second {
		t.Fatalf("released lease taken %s after the holder's exit", handover)
	}
}
