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
// while the first holds it, and gets it once released.
func testExclusive(t *testing.T, a, b app.Locker) {
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
	unlock2, ok, err := b.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock after release: %v %v", ok, err)
	}
	unlock2()
}

func TestPostgresAdvisoryLockIsExclusive(t *testing.T) {
	if !testutil.IsPostgres() {
		t.Skip("PostgreSQL only (TEST_DATABASE_URL)")
	}
	st := testutil.NewStore(t)
	name := "runner-" + time.Now().String()
	testExclusive(t, app.NewLocker(st, nil, name), app.NewLocker(st, nil, name))
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
	testExclusive(t, app.NewLocker(nil, c1, prefix+"lock"), app.NewLocker(nil, c2, prefix+"lock"))
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
	testExclusive(t, app.NewLocker(nil, clients[0], name), app.NewLocker(nil, clients[1], name))

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
