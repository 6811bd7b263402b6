package testutil

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server of the test's own on a free port (never the
// machine's shared one), for tests that take Redis away: Kill, then Restart
// on the same port (empty: no persistence).
type RedisServer struct {
	t    testing.TB
	Port int
	dir  string
	cmd  *exec.Cmd
}

// StartRedisServer starts one, or skips the test where redis-server is not installed.
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	if lookBin("redis-server") == "" {
		t.Skip("redis-server not installed (Debian: apt-get install redis-server)")
	}
	s := &RedisServer{t: t, Port: freeClusterPort(t), dir: t.TempDir()}
	t.Cleanup(s.Kill)
	s.Restart()
	return s
}

// URL is the server's redis:// URL.
func (s *RedisServer) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

// Kill stops the server at once (SIGKILL).
func (s *RedisServer) Kill() {
	if s.cmd != nil && s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Restart starts the server (again) on its port and waits until it answers.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.cmd = exec.Command(lookBin("redis-server"), "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %d never answered", s.Port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
