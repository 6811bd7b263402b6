package testutil

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/realtime"
)

// RedisCluster is a real Redis Cluster of three masters (and, on request, a
// replica of each) on free
// loopback ports, started for one test from Debian's redis-server and
// redis-cli, and torn down with it. Each master can be killed and restarted
// on the same port with the same nodes.conf, so it rejoins with its slots.
type RedisCluster struct {
	t      testing.TB
	server string
	Nodes  []*ClusterNode
}

// ClusterNode is one master.
type ClusterNode struct {
	Port int
	dir  string
	cmd  *exec.Cmd
}

// Addr is host:port of the node.
func (n *ClusterNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// StartRedisCluster starts the cluster, or skips the test (with the reason)
// where redis-server or redis-cli is not installed.
func StartRedisCluster(t testing.TB) *RedisCluster { return startCluster(t, 0) }

// StartRedisClusterWithReplicas starts three masters (Nodes[0..2]) and one
// replica of each (Nodes[3..5]): a killed master is replaced by its replica
// after the node timeout (2 s).
func StartRedisClusterWithReplicas(t testing.TB) *RedisCluster { return startCluster(t, 1) }

func startCluster(t testing.TB, replicas int) *RedisCluster {
	t.Helper()
	server := lookBin("redis-server")
	cli := lookBin("redis-cli")
	if server == "" || cli == "" {
		t.Skip("redis-server/redis-cli not installed (Debian: apt-get install redis-server): the Redis Cluster tests need them")
	}
	c := &RedisCluster{t: t, server: server}
	t.Cleanup(c.stop)
	base := t.TempDir()
	for i := range 3 * (1 + replicas) {
		n := &ClusterNode{Port: freeClusterPort(t), dir: filepath.Join(base, "node"+strconv.Itoa(i))}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
		c.start(n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK()
	return c
}

func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/" + name); err == nil {
		return "/usr/bin/" + name
	}
	return ""
}

// freeClusterPort finds a port that is free along with its cluster bus port
// (port + 10000).
func freeClusterPort(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := 20000 + rand.IntN(35000)
		a, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

func (c *RedisCluster) start(n *ClusterNode) {
	c.t.Helper()
	n.cmd = exec.Command(c.server,
		"--port", strconv.Itoa(n.Port), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "2000",
		// The other masters keep serving their slots while one is down.
		"--cluster-require-full-coverage", "no",
		// Replicas sync at once and may always take over (test data only).
		"--repl-diskless-sync-delay", "0", "--cluster-replica-validity-factor", "0",
		"--save", "", "--appendonly", "no", "--dir", n.dir, "--logfile", "redis.log")
	if err := n.cmd.Start(); err != nil {
		c.t.Fatalf("start redis-server: %v", err)
	}
	cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
	defer cl.Close()
	c.waitFor(10*time.Second, "redis-server on "+n.Addr(), func() bool { return cl.Ping(context.Background()).Err() == nil })
}

// Kill stops node i at once (SIGKILL).
func (c *RedisCluster) Kill(i int) {
	n := c.Nodes[i]
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
		n.cmd = nil
	}
}

// Restart starts node i again on its port with its nodes.conf (it rejoins
// with its slots) and waits for the cluster to be whole.
func (c *RedisCluster) Restart(i int) {
	c.t.Helper()
	c.start(c.Nodes[i])
	c.WaitOK()
}

func (c *RedisCluster) stop() {
	for i := range c.Nodes {
		c.Kill(i)
	}
}

// URL is the go-redis cluster URL of the cluster (REDIS_CLUSTER_URL).
func (c *RedisCluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr()
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr()
	}
	return u
}

// WaitOK waits until every running node reports cluster_state:ok with every
// slot assigned and every node known.
func (c *RedisCluster) WaitOK() {
	c.t.Helper()
	known := "cluster_known_nodes:" + strconv.Itoa(len(c.Nodes))
	c.waitFor(30*time.Second, "cluster_state:ok on every running node", func() bool {
		for _, n := range c.Nodes {
			if n.cmd == nil {
				continue // killed
			}
			cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
			info, err := cl.ClusterInfo(context.Background()).Result()
			cl.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_slots_assigned:16384") || !strings.Contains(info, known) {
				return false
			}
			cl = redis.NewClient(&redis.Options{Addr: n.Addr()})
			repl, err := cl.Info(context.Background(), "replication").Result()
			cl.Close()
			if err != nil || (strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up")) {
				return false // a replica still syncing could not take over
			}
		}
		return true
	})
}

// NodeOf is the index of the master that owns the slot of key (or channel),
// as the running nodes see it.
func (c *RedisCluster) NodeOf(key string) int {
	c.t.Helper()
	slot := realtime.Slot(key)
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
		//lint:ignore SA1019 CLUSTER SLOTS answers on every Redis version the tests start; its replacement needs 7.0
		slots, err := cl.ClusterSlots(context.Background()).Result()
		cl.Close()
		if err != nil {
			continue
		}
		for _, s := range slots {
			if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 {
				for i, m := range c.Nodes {
					if m.Addr() == s.Nodes[0].Addr {
						return i
					}
				}
			}
		}
	}
	c.t.Fatalf("no master owns the slot of %q", key)
	return -1
}

// Log is the log file of node i (for failure messages).
func (c *RedisCluster) Log(i int) string {
	b, _ := os.ReadFile(filepath.Join(c.Nodes[i].dir, "redis.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

func (c *RedisCluster) waitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			var logs strings.Builder
			for i := range c.Nodes {
				fmt.Fprintf(&logs, "\n--- node %d ---\n%s", i, c.Log(i))
			}
			c.t.Fatalf("timed out waiting for %s%s", what, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
