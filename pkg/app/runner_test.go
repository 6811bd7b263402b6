package app_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func TestRunnerRelaysOldUnpublishedRows(t *testing.T) {
	st := testutil.NewStore(t)
	rec := &testutil.Recorder{}
	old := store.Now().Add(-10 * time.Second)
	rows := []store.OutboxEvent{
		{GroupName: "new_quotes", EventType: "quote_created", Payload: `{"type":"quote_created","data":{}}`, CreatedAt: old},
		{GroupName: "new_quotes", EventType: "quote_deleted", Payload: `{"type":"quote_deleted","data":{}}`, CreatedAt: store.Now()}, // too fresh
	}
	if err := st.DB.Create(&rows).Error; err != nil {
		t.Fatal(err)
	}
	r := &app.Runner{Outbox: &realtime.Outbox{Store: st, Publisher: rec}, Lock: app.NewLocker(st, nil, "t")}
	r.RelayOnce(context.Background())
	got := rec.Take()
	if len(got) != 1 || got[0].Type != "quote_created" || string(got[0].Payload) != rows[0].Payload {
		t.Fatalf("relayed %v", got)
	}
	var unpublished int64
	st.DB.Model(&store.OutboxEvent{}).Where("published_at IS NULL").Count(&unpublished)
	if unpublished != 1 {
		t.Fatalf("%d unpublished rows, want 1 (the fresh one)", unpublished)
	}
}

func TestRunnerSweepsAndReportsErrors(t *testing.T) {
	st := testutil.NewStore(t)
	calls := 0
	r := &app.Runner{Sweep: func(context.Context) error { calls++; return errors.New("boom") }, Lock: app.NewLocker(st, nil, "t")}
	r.SweepOnce(context.Background())
	r.SweepOnce(context.Background())
	if calls != 2 {
		t.Fatalf("sweep ran %d times", calls)
	}
}

// Only one replica runs a pass: a second locker on the same lock is refused
// while the first holds it, and gets it once released (release: what frees
// it after unlock — nothing for a lock, Release for a lease).
func testExclusive(t *testing.T, a, b app.Locker, release func()) {
	t.Helper()
	ctx := context.Background()
	unlock, ok, err := a.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("first lock: %v %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx); err != nil || ok {
		t.Fatalf("second lock while held: %v %v", ok, err)
	}
	r := &app.Runner{Lock: b, Sweep: func(context.Context) error { t.Fatal("swept while another replica holds the lock"); return nil }}
	r.SweepOnce(ctx)
	unlock()
	if release != nil {
		release()
	}
	unlock2, ok, err := b.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock after release: %v %v", ok, err)
	}
	unlock2()
}

func lease(t *testing.T, st *store.Store, name string, ttl time.Duration) *app.PGLease {
	t.Helper()
	l, ok := app.NewLocker(st, nil, name).(*app.PGLease)
	if !ok {
		t.Fatalf("the PostgreSQL locker is %T, not a lease", app.NewLocker(st, nil, name))
	}
	l.TTL = ttl
	return l
}

func needPostgres(t *testing.T) {
	t.Helper()
	if !testutil.IsPostgres() {
		t.Skip("PostgreSQL only (TEST_DATABASE_URL)")
	}
}

func TestPostgresLeaseIsExclusive(t *testing.T) {
	needPostgres(t)
	st := testutil.NewStore(t)
	a, b := lease(t, st, "runner", time.Minute), lease(t, st, "runner", time.Minute)
	if a.Holder == b.Holder {
		t.Fatalf("two lockers share the holder %q", a.Holder)
	}
	testExclusive(t, a, b, func() {
		// Unlock ends a pass, not the lease: b is still refused.
		if _, ok, err := b.TryLock(context.Background()); err != nil || ok {
			t.Fatalf("lease taken from its holder between passes: %v %v", ok, err)
		}
		if err := a.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// The holder keeps its lease by taking it again; once it stops renewing,
// another takes it after the TTL (not before), and the first then finds it
// lost.
func TestPostgresLeaseExpires(t *testing.T) {
	needPostgres(t)
	st := testutil.NewStore(t)
	const ttl = 400 * time.Millisecond
	a, b := lease(t, st, "runner", ttl), lease(t, st, "runner", ttl)
	ctx := context.Background()
	taken := time.Now()
	for end := taken.Add(2 * ttl); time.Now().Before(end); time.Sleep(ttl / 4) {
		if _, ok, err := a.TryLock(ctx); err != nil || !ok {
			t.Fatalf("holder renewing: %v %v", ok, err)
		}
		taken = time.Now()
		if _, ok, err := b.TryLock(ctx); err != nil || ok {
			t.Fatalf("lease taken while renewed: %v %v", ok, err)
		}
	}
	var took time.Duration
	for {
		_, ok, err := b.TryLock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			took = time.Since(taken)
			break
		}
		if time.Since(taken) > 10*ttl {
			t.Fatal("lease never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took < ttl-50*time.Millisecond {
		t.Fatalf("lease taken %s after the last renewal, before its TTL %s", took, ttl)
	}
	if ok, err := a.Renew(ctx); err != nil || ok {
		t.Fatalf("old holder renewed a lease another holds: %v %v", ok, err)
	}
}

// A pass whose lease is lost meanwhile (another replica holds it) stops: its
// context ends. When the runner stops it releases its lease: another replica
// takes it at once.
func TestRunnerStopsAPassWhoseLeaseIsLostAndReleasesAtStop(t *testing.T) {
	needPostgres(t)
	st := testutil.NewStore(t)
	const ttl = 300 * time.Millisecond
	a := lease(t, st, "runner", ttl)
	stolen := make(chan time.Time, 1)
	r := &app.Runner{Lock: a, Log: testutil.Logger(), Sweep: func(ctx context.Context) error {
		// Another replica holds it now (as after this process lost it).
		if err := st.DB.Exec("UPDATE runner_leases SET holder = 'other', expires_at = now() + interval '1 hour'").Error; err != nil {
			return err
		}
		stolen <- time.Now()
		<-ctx.Done()
		return ctx.Err()
	}}
	done := make(chan struct{})
	go func() { r.SweepOnce(context.Background()); close(done) }()
	select {
	case <-done:
		if d := time.Since(<-stolen); d > 2*ttl {
			t.Fatalf("pass stopped %s after its lease was lost (TTL %s)", d, ttl)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pass still running with its lease lost")
	}
	if err := st.DB.Exec("DELETE FROM runner_leases").Error; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r = &app.Runner{Lock: a, RelayEvery: 10 * time.Millisecond, Outbox: &realtime.Outbox{Store: st, Publisher: &testutil.Recorder{}}}
	ran := make(chan struct{})
	go func() { r.Run(ctx); close(ran) }()
	var holder string
	for end := time.Now().Add(10 * time.Second); holder != a.Holder; time.Sleep(10 * time.Millisecond) {
		st.DB.Raw("SELECT holder FROM runner_leases").Scan(&holder)
		if time.Now().After(end) {
			t.Fatal("the running runner never took the lease")
		}
	}
	cancel()
	<-ran
	b := lease(t, st, "runner", time.Hour)
	if _, ok, err := b.TryLock(context.Background()); err != nil || !ok {
		t.Fatalf("lease not released when the runner stopped: %v %v", ok, err)
	}
}

func TestRedisLockIsExclusive(t *testing.T) {
	url, prefix := testutil.Redis(t)
	c1, err := realtime.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, _ := realtime.OpenRedis(url)
	defer c2.Close()
	testExclusive(t, app.NewLocker(nil, c1, prefix+"lock"), app.NewLocker(nil, c2, prefix+"lock"), nil)
}

// The relay never puts an older state of a resource after a newer one: an
// unpublished row whose resource already had a newer frame published to the
// same group is skipped (marked, counted), while older rows of other groups
// or resources, and same-version siblings, are published in order.
func TestRelaySkipsRowsSupersededByAPublishedNewerFrame(t *testing.T) {
	st := testutil.NewStore(t)
	rec := &testutil.Recorder{}
	old, now := store.Now().Add(-10*time.Second), store.Now()
	row := func(group, typ, res string, ver int64, published bool) store.OutboxEvent {
		r := store.OutboxEvent{GroupName: group, EventType: typ, Payload: `{"type":"` + typ + `","data":{}}`,
			CreatedAt: old, Resource: res, Version: ver}
		if published {
			r.PublishedAt = &now
		}
		return r
	}
	rows := []store.OutboxEvent{
		row("quote_1", "quote_updated", "quote:1", 4, false),    // superseded by v5 below
		row("new_quotes", "quote_updated", "quote:1", 4, false), // no newer frame to new_quotes: published
		row("quote_1", "quote_expired", "quote:1", 5, true),     // published by the web process
		row("quote_1", "offer_made", "offer:9", 1, false),       // another resource: published
		row("quote_1", "quote_updated", "quote:1", 5, false),    // same version as the published one: published
		row("quote_1", "quote_created", "", 0, false),           // outside the rule: published
		row("new_quotes", "quote_updated", "quote:1", 3, false), // older, but nothing newer published to new_quotes
		row("driver_offers_d", "offer_deleted", "offer:9", 2, false),
	}
	if err := st.DB.Create(&rows).Error; err != nil {
		t.Fatal(err)
	}
	r := &app.Runner{Outbox: &realtime.Outbox{Store: st, Publisher: rec}, Lock: app.NewLocker(st, nil, "t")}
	r.RelayOnce(context.Background())
	var got []string
	for _, m := range rec.Take() {
		got = append(got, m.Group+"/"+m.Resource+"@"+strconv.FormatInt(m.Version, 10))
	}
	want := []string{"new_quotes/quote:1@4", "quote_1/offer:9@1", "quote_1/quote:1@5", "quote_1/@0", "new_quotes/quote:1@3", "driver_offers_d/offer:9@2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("relayed\n %v\nwant\n %v", got, want)
	}
	var unpublished int64
	st.DB.Model(&store.OutboxEvent{}).Where("published_at IS NULL").Count(&unpublished)
	if unpublished != 0 {
		t.Fatalf("%d rows left unpublished (the superseded one is marked too)", unpublished)
	}
}

// On a Redis Cluster the lock (one key, one slot) is held by one runner at a
// time: the exclusive check, then runners on three clients of their own
// sweeping concurrently never overlap.
func TestRedisClusterLockIsExclusive(t *testing.T) {
	c := testutil.StartRedisCluster(t)
	var clients []*redis.ClusterClient
	for range 3 {
		cc, err := realtime.OpenRedisCluster(c.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		clients = append(clients, cc)
	}
	name := "hermez:runner-lock"
	testExclusive(t, app.NewLocker(nil, clients[0], name), app.NewLocker(nil, clients[1], name), nil)

	var inFlight, most, runs atomic.Int32
	sweep := func(context.Context) error {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		runs.Add(1)
		inFlight.Add(-1)
		return nil
	}
	var wg sync.WaitGroup
	for _, cc := range clients {
		r := &app.Runner{Lock: app.NewLocker(nil, cc, name), Sweep: sweep}
		wg.Go(func() {
			for range 40 {
				r.SweepOnce(context.Background())
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 || runs.Load() == 0 {
		t.Fatalf("%d passes at most at once (want 1), %d passes", most.Load(), runs.Load())
	}
}

// REDIS_CLUSTER_URL alone gives a cluster broker whose subscriber is the
// sharded one (never the in-process broker); with REDIS_URL too it is refused.
func TestOpenBrokerOnACluster(t *testing.T) {
	cfg := config.Defaults()
	cfg.RedisClusterURL = "redis://127.0.0.1:1?addr=127.0.0.1:2"
	b, err := app.OpenBroker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Redis.Close()
	if _, ok := b.Publisher.(*realtime.ClusterPublisher); !ok || b.Memory != nil {
		t.Fatalf("publisher %T, memory %v", b.Publisher, b.Memory)
	}
	sub, err := b.Subscriber(testutil.Logger())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sub.(*realtime.ClusterSubscriber); !ok {
		t.Fatalf("subscriber %T", sub)
	}
	cfg.RedisURL = "redis://127.0.0.1:6379/0"
	if _, err := app.OpenBroker(cfg); err == nil {
		t.Fatal("REDIS_URL and REDIS_CLUSTER_URL together accepted")
	}
}
