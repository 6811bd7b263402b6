package realtime_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

func TestSlotMatchesRedis(t *testing.T) {
	c := testutil.StartRedisCluster(t)
	cl := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr()})
	defer cl.Close()
	for _, k := range []string{"", "a", "hermez:new_quotes", "hermez:quote_0f8fad5b-d9cb-469f-a165-70867728950e",
		"{user1}:sockets", "a{b}c", "a{}b", "{}{b}", "x{y", "é"} {
		want, err := cl.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := realtime.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, Redis says %d", k, got, want)
		}
	}
}

// clusterRecv collects what a ClusterSubscriber delivers.
type clusterRecv struct {
	mu     sync.Mutex
	msgs   map[string][]string
	resets [][]string
}

func (r *clusterRecv) handle(m realtime.Message) {
	r.mu.Lock()
	// The broker envelope travels: the order fields come back with the frame.
	r.msgs[m.Group] = append(r.msgs[m.Group], fmt.Sprintf("%s|%s@%d", m.Payload, m.Resource, m.Version))
	r.mu.Unlock()
}

func (r *clusterRecv) reset(groups []string) {
	r.mu.Lock()
	r.resets = append(r.resets, slices.Clone(groups))
	r.mu.Unlock()
}

func (r *clusterRecv) got(group, payload string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.msgs[group], payload+"|quote:"+group+"@7")
}

// resetGroups is the set of groups reset so far.
func (r *clusterRecv) resetGroups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, g := range r.resets {
		out = append(out, g...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// groupsPerMaster picks n group names whose channels hash to each master.
func groupsPerMaster(c *testutil.RedisCluster, prefix string, n int) [][]string {
	out := make([][]string, len(c.Nodes))
	for i := 0; ; i++ {
		g := fmt.Sprintf("quote_%d", i)
		k := c.NodeOf(prefix + g)
		if len(out[k]) < n {
			out[k] = append(out[k], g)
		}
		done := true
		for _, gs := range out {
			done = done && len(gs) == n
		}
		if done {
			return out
		}
	}
}

// The subscriber spreads its channels over the three masters (one SSUBSCRIBE
// per slot), receives every group's frames, and when one master is killed and
// restarted resets exactly that master's groups, while the others keep
// receiving during the outage; then frames flow again everywhere.
func TestClusterSubscriberResetsOnlyTheFailedMastersGroups(t *testing.T) {
	c := testutil.StartRedisCluster(t)
	const prefix = "hermez:"
	pubc, err := realtime.OpenRedisCluster(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pubc.Close()
	pub := &realtime.ClusterPublisher{Client: pubc, Prefix: prefix}
	subc, err := realtime.OpenRedisCluster(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer subc.Close()
	sub := realtime.NewClusterSubscriber(subc, prefix, testutil.Logger())
	sub.RetryInterval, sub.PingInterval = 200*time.Millisecond, 500*time.Millisecond
	rec := &clusterRecv{msgs: map[string][]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sub.Run(ctx, rec.handle, rec.reset) }()

	byMaster := groupsPerMaster(c, prefix, 3)
	var all []string
	for _, gs := range byMaster {
		all = append(all, gs...)
	}
	// One call spanning slots and masters.
	if err := sub.Subscribe(ctx, all...); err != nil {
		t.Fatal(err)
	}
	confirmed := func(groups ...string) func() bool {
		return func() bool {
			for _, g := range groups {
				if addr, ok := sub.Placed(g); !ok || addr == "" {
					return false
				}
			}
			return true
		}
	}
	testutil.Eventually(t, 10*time.Second, "every group subscribed", confirmed(append(all, realtime.GroupControl)...))
	for i, gs := range byMaster {
		for _, g := range gs {
			if addr, _ := sub.Placed(g); addr != c.Nodes[i].Addr() {
				t.Fatalf("group %s placed on %s, its master is %s", g, addr, c.Nodes[i].Addr())
			}
		}
	}
	publishAll := func(round string, groups []string) {
		t.Helper()
		msgs := make([]realtime.Message, 0, len(groups))
		for _, g := range groups {
			m := realtime.RawMessage(g, "x", []byte(round+g))
			m.Resource, m.Version = "quote:"+g, 7
			msgs = append(msgs, m)
		}
		if err := pub.Publish(ctx, msgs...); err != nil {
			t.Fatalf("publish %s: %v", round, err)
		}
		testutil.Eventually(t, 10*time.Second, "every frame of "+round, func() bool {
			for _, g := range groups {
				if !rec.got(g, round+g) {
					return false
				}
			}
			return true
		})
	}
	publishAll("before:", all)

	control := c.NodeOf(prefix + realtime.GroupControl)
	victim := (control + 1) % 3
	others := slices.Concat(byMaster[(victim+1)%3], byMaster[(victim+2)%3])
	c.Kill(victim)
	// The other masters keep serving their groups during the outage.
	publishAll("during:", others)
	if len(rec.resetGroups()) != 0 {
		t.Fatalf("reset before the master came back: %v", rec.resetGroups())
	}
	c.Restart(victim)
	testutil.Eventually(t, 20*time.Second, "the failed master's groups reset", func() bool { return len(rec.resetGroups()) >= len(byMaster[victim]) })
	want := slices.Sorted(slices.Values(byMaster[victim]))
	if got := rec.resetGroups(); !slices.Equal(got, want) {
		t.Fatalf("reset groups %v, want exactly the failed master's %v", got, want)
	}
	testutil.Eventually(t, 10*time.Second, "resubscribed", confirmed(all...))
	publishAll("after:", all)

	// The master of the control channel: its reset names GroupControl (the
	// hub then re-checks the users) and that master's groups, nothing else.
	rec.mu.Lock()
	rec.resets = nil
	rec.mu.Unlock()
	c.Kill(control)
	c.Restart(control)
	want = slices.Sorted(slices.Values(append(slices.Clone(byMaster[control]), realtime.GroupControl)))
	testutil.Eventually(t, 20*time.Second, "the control master's groups reset", func() bool { return len(rec.resetGroups()) >= len(want) })
	if got := rec.resetGroups(); !slices.Equal(got, want) {
		t.Fatalf("reset groups %v, want %v", got, want)
	}
	testutil.Eventually(t, 10*time.Second, "resubscribed", confirmed(all...))
	publishAll("last:", all)

	// Unsubscribing stops the frames: no receiver left for that channel.
	g := byMaster[0][0]
	if err := sub.Unsubscribe(ctx, g); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "no subscriber left on "+g, func() bool {
		n, err := pubc.SPublish(ctx, pub.Channel(g), "probe").Result()
		return err == nil && n == 0
	})
}

// A slot moved to another master (CLUSTER SETSLOT … NODE): the old master
// drops the shard subscriptions of that slot (a server-side sunsubscribe),
// the subscriber places the channel on the new owner, reports its group (and
// only it) for a reset, and frames flow again from the new master.
func TestClusterSubscriberFollowsAMovedSlot(t *testing.T) {
	c := testutil.StartRedisCluster(t)
	const prefix = "hermez:"
	subc, err := realtime.OpenRedisCluster(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer subc.Close()
	sub := realtime.NewClusterSubscriber(subc, prefix, testutil.Logger())
	sub.RetryInterval, sub.PingInterval = 200*time.Millisecond, 500*time.Millisecond
	rec := &clusterRecv{msgs: map[string][]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sub.Run(ctx, rec.handle, rec.reset) }()

	byMaster := groupsPerMaster(c, prefix, 2)
	moved, stay := byMaster[0][0], byMaster[0][1]
	if err := sub.Subscribe(ctx, moved, stay); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "subscribed", func() bool {
		a, ok1 := sub.Placed(moved)
		b, ok2 := sub.Placed(stay)
		return ok1 && ok2 && a != "" && b != ""
	})

	// Move the slot of `moved` from master 0 to master 1 (no keys in it).
	slot := realtime.Slot(prefix + moved)
	if slot == realtime.Slot(prefix+stay) {
		t.Skip("both groups hash to one slot")
	}
	ids := make([]string, 3)
	for i, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
		ids[i], err = cl.ClusterMyID(ctx).Result()
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{1, 0, 2} { // the new owner first, then the old one
		cl := redis.NewClient(&redis.Options{Addr: c.Nodes[i].Addr()})
		err := cl.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", ids[1]).Err()
		cl.Close()
		if err != nil {
			t.Fatalf("setslot on node %d: %v", i, err)
		}
	}
	testutil.Eventually(t, 20*time.Second, "the moved group reset", func() bool { return len(rec.resetGroups()) > 0 })
	if got := rec.resetGroups(); !slices.Equal(got, []string{moved}) {
		t.Fatalf("reset %v, want only %s", got, moved)
	}
	testutil.Eventually(t, 10*time.Second, "placed on the new owner", func() bool {
		a, ok := sub.Placed(moved)
		return ok && a == c.Nodes[1].Addr()
	})
	pubc, err := realtime.OpenRedisCluster(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pubc.Close()
	pub := &realtime.ClusterPublisher{Client: pubc, Prefix: prefix}
	for _, g := range []string{moved, stay} {
		m := realtime.RawMessage(g, "x", []byte("after:"+g))
		m.Resource, m.Version = "quote:"+g, 7
		if err := pub.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "frames after the move", func() bool { return rec.got(moved, "after:"+moved) && rec.got(stay, "after:"+stay) })
}

// A master that fails for good is replaced by its replica (failover after the
// node timeout): the subscriber finds the new master of those slots, resets
// only the failed master's groups, and frames flow from the promoted replica.
func TestClusterSubscriberFollowsAFailover(t *testing.T) {
	c := testutil.StartRedisClusterWithReplicas(t)
	const prefix = "hermez:"
	subc, err := realtime.OpenRedisCluster(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer subc.Close()
	sub := realtime.NewClusterSubscriber(subc, prefix, testutil.Logger())
	sub.RetryInterval, sub.PingInterval = 200*time.Millisecond, 500*time.Millisecond
	rec := &clusterRecv{msgs: map[string][]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sub.Run(ctx, rec.handle, rec.reset) }()

	// Two groups per master (the masters are whichever nodes own slots).
	byNode := map[int][]string{}
	for i := 0; len(byNode) < 3 || func() bool {
		for _, gs := range byNode {
			if len(gs) < 2 {
				return true
			}
		}
		return false
	}(); i++ {
		g := fmt.Sprintf("quote_%d", i)
		k := c.NodeOf(prefix + g)
		if len(byNode[k]) < 2 {
			byNode[k] = append(byNode[k], g)
		}
	}
	var all []string
	for _, gs := range byNode {
		all = append(all, gs...)
	}
	if err := sub.Subscribe(ctx, all...); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "subscribed", func() bool {
		for _, g := range append(all, realtime.GroupControl) {
			if a, ok := sub.Placed(g); !ok || a == "" {
				return false
			}
		}
		return true
	})
	control := c.NodeOf(prefix + realtime.GroupControl)
	victim := -1
	for k := range byNode {
		if k != control {
			victim = k
			break
		}
	}
	c.Kill(victim)
	deadline := time.Now().Add(30 * time.Second)
	for c.NodeOf(prefix+byNode[victim][0]) == victim {
		if time.Now().After(deadline) {
			t.Fatalf("no replica took over from node %d", victim)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("node %d took over from node %d", c.NodeOf(prefix+byNode[victim][0]), victim)
	testutil.Eventually(t, 30*time.Second, "the failed master's groups reset after the failover", func() bool {
		return len(rec.resetGroups()) >= len(byNode[victim])
	})
	want := slices.Sorted(slices.Values(byNode[victim]))
	if got := rec.resetGroups(); !slices.Equal(got, want) {
		t.Fatalf("reset %v, want exactly the failed master's %v", got, want)
	}
	for _, g := range byNode[victim] {
		if a, _ := sub.Placed(g); a == c.Nodes[victim].Addr() {
			t.Fatalf("%s still placed on the dead master", g)
		}
	}
	pubc, err := realtime.OpenRedisCluster(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pubc.Close()
	pub := &realtime.ClusterPublisher{Client: pubc, Prefix: prefix}
	for _, g := range all {
		m := realtime.RawMessage(g, "x", []byte("after:"+g))
		m.Resource, m.Version = "quote:"+g, 7
		if err := pub.Publish(ctx, m); err != nil {
			t.Fatalf("publish %s after the failover: %v", g, err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "frames after the failover", func() bool {
		for _, g := range all {
			if !rec.got(g, "after:"+g) {
				return false
			}
		}
		return true
	})
}
