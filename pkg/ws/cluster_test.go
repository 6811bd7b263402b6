package ws_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
	"hermez/pkg/ws"
)

// clusterBroker opens a broker on the cluster exactly as the processes do
// (REDIS_CLUSTER_URL alone).
func clusterBroker(t testing.TB, c *testutil.RedisCluster) *app.Broker {
	t.Helper()
	cfg := config.Defaults()
	cfg.RedisClusterURL = c.URL()
	b, err := app.OpenBroker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Publisher.(*realtime.ClusterPublisher); !ok || b.Memory != nil {
		t.Fatalf("REDIS_CLUSTER_URL gave a %T broker", b.Publisher)
	}
	t.Cleanup(func() { b.Redis.Close() })
	return b
}

// shardSubscribers waits until the master of channel counts n subscribers of it.
func shardSubscribers(t testing.TB, c *testutil.RedisCluster, channel string, n int64) {
	t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: c.Nodes[c.NodeOf(channel)].Addr()})
	defer cl.Close()
	testutil.Eventually(t, 20*time.Second, fmt.Sprintf("%d shard subscribers of %s", n, channel), func() bool {
		m, err := cl.PubSubShardNumSub(context.Background(), channel).Result()
		return err == nil && m[channel] == n
	})
}

// A web process and two workers on a real three-master cluster: events of
// groups whose channels hash to different masters all arrive on both workers;
// a master killed and restarted closes with 1012 the sockets of its groups
// only, and events flow again; when the master of the control channel fails,
// no socket of another master's group is closed, but a user deleted during
// the outage is found by the re-check and closed with 4401.
func TestClusterWebAndTwoWorkers(t *testing.T) {
	c := testutil.StartRedisCluster(t)
	st := testutil.NewStore(t)
	const prefix = "hermez:"
	web := testutil.NewWeb(t, testutil.WebOptions{Store: st, Broker: clusterBroker(t, c)})
	if web.App.Hub == nil {
		t.Fatal("web with REDIS_CLUSTER_URL did not serve sockets over the cluster")
	}
	w1 := startWorker(t, st, clusterBroker(t, c), app.WorkerOptions{})
	w2 := startWorker(t, st, clusterBroker(t, c), app.WorkerOptions{})

	// One user per master, by the slot of their user_quotes_ channel.
	control := c.NodeOf(prefix + realtime.GroupControl)
	users := make([]string, 3)
	for i, found := 0, 0; found < 3; i++ {
		u := fmt.Sprintf("user_cluster_%d", i)
		if k := c.NodeOf(prefix + realtime.GroupUserQuotes(u)); users[k] == "" {
			users[k] = u
			addUser(t, st, u)
			found++
		}
	}
	type sock struct {
		user int
		on   *worker
		c    *websocket.Conn
	}
	var socks []*sock
	open := func(k int, w *worker) *sock {
		s := &sock{user: k, on: w, c: mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", w.token(t, users[k]))}
		if m := read(t, s.c, wait); m["type"] != "user_quotes.initial" {
			t.Fatalf("snapshot: %v", m)
		}
		return s
	}
	for k := range users {
		for _, w := range []*worker{w1, w2} {
			socks = append(socks, open(k, w))
		}
	}
	for k := range users {
		shardSubscribers(t, c, prefix+realtime.GroupUserQuotes(users[k]), 2)
	}

	// A quote created over the web's API reaches its client on both workers.
	tok := w1.token(t, users[0])
	res := web.Do(t, http.MethodPost, "/deliveries/api/quotes/", tok, map[string]any{
		"category_id": category(t, st).String(), "client_price": 12000, "payment_method": "efectivo",
		"pickup_address": "Carrera 33 # 42-18", "delivery_address": "Calle 56 # 17A-23", "description": "Caja"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create quote: %d %s", res.Status, res.Body)
	}
	for _, s := range socks {
		if s.user == 0 {
			if m := read(t, s.c, wait); m["type"] != realtime.QuoteCreated {
				t.Fatalf("after the API call: %v", m)
			}
		}
	}

	pub := clusterBroker(t, c).Publisher
	round := 0
	victim := (control + 1) % 3
	everyoneReceives := func(list []*sock) {
		t.Helper()
		round++
		for k := range users {
			publish(t, pub, realtime.GroupUserQuotes(users[k]), realtime.QuoteUpdated, map[string]int{"round": round})
		}
		for _, s := range list {
			_ = s.c.SetReadDeadline(time.Now().Add(wait))
			var m map[string]any
			if err := s.c.ReadJSON(&m); err != nil {
				t.Fatalf("user %d (victim %d, control %d): %v", s.user, victim, control, err)
			}
			if m["type"] != realtime.QuoteUpdated || obj(t, m["data"])["round"] != float64(round) {
				t.Fatalf("user %d (victim %d, control %d): %v, want round %d", s.user, victim, control, m, round)
			}
		}
	}
	everyoneReceives(socks)

	// A master that is not the control channel's fails and comes back.
	c.Kill(victim)
	c.Restart(victim)
	var kept []*sock
	for _, s := range socks {
		if s.user == victim {
			if code, _ := closeCode(t, s.c, 30*time.Second); code != websocket.CloseServiceRestart {
				t.Fatalf("socket of the failed master's group: close %d, want 1012", code)
			}
			continue
		}
		kept = append(kept, s)
	}
	// The other groups' sockets are untouched: still joined on both workers
	// (they receive the next round below on the same connections).
	for k := range users {
		if k != victim {
			joined(t, w1, realtime.GroupUserQuotes(users[k]), 1)
			joined(t, w2, realtime.GroupUserQuotes(users[k]), 1)
		}
	}
	// The victim's clients reconnect (fresh snapshot) and events flow again.
	for _, w := range []*worker{w1, w2} {
		kept = append(kept, open(victim, w))
	}
	shardSubscribers(t, c, prefix+realtime.GroupUserQuotes(users[victim]), 2)
	socks = kept
	everyoneReceives(socks)

	// The control channel's master fails; meanwhile a user whose group lives
	// on another master is deleted (the control frame cannot be delivered).
	deleted := (control + 2) % 3
	c.Kill(control)
	if err := st.DB.Exec("UPDATE users SET deleted_at = ? WHERE userid = ?", time.Now(), users[deleted]).Error; err != nil {
		t.Fatal(err)
	}
	c.Restart(control)
	kept = nil
	for _, s := range socks {
		switch s.user {
		case control:
			if code, _ := closeCode(t, s.c, 30*time.Second); code != websocket.CloseServiceRestart {
				t.Fatalf("socket of the control master's group: close %d, want 1012", code)
			}
		case deleted:
			if code, _ := closeCode(t, s.c, 30*time.Second); code != ws.CloseUnauthorized {
				t.Fatalf("socket of the user deleted during the outage: close %d, want 4401", code)
			}
		default:
			kept = append(kept, s)
		}
	}
	for _, w := range []*worker{w1, w2} {
		kept = append(kept, open(control, w))
	}
	shardSubscribers(t, c, prefix+realtime.GroupUserQuotes(users[control]), 2)
	round++
	for _, k := range []int{victim, control} {
		publish(t, pub, realtime.GroupUserQuotes(users[k]), realtime.QuoteUpdated, map[string]int{"round": round})
	}
	for _, s := range kept {
		m := read(t, s.c, wait)
		if m["type"] != realtime.QuoteUpdated || obj(t, m["data"])["round"] != float64(round) {
			t.Fatalf("user %d after the control master came back: %v", s.user, m)
		}
	}
}
