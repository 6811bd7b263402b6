package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// The real binaries on a real three-master Redis Cluster, configured with
// REDIS_CLUSTER_URL alone: a web process (forwarding /ws/ to the first
// worker) and two workers. Quotes posted by users whose user_quotes_ groups
// hash to different masters reach their sockets on both workers; one master
// killed and restarted closes with 1012 the sockets of its group only, the
// web keeps answering /readyz meanwhile, and events flow again afterwards.
func TestClusterProcesses(t *testing.T) {
	cl := testutil.StartRedisCluster(t)
	webBin, workerBin := testutil.Binaries(t)
	dir := t.TempDir()
	c := newClerk(t)
	const prefix = "hermez:"
	env := []string{
		"CLERK_FRONTEND_API_URL=" + c.srv.URL, "CLERK_AUTHORIZED_PARTIES=http://localhost:4321",
		"REDIS_CLUSTER_URL=" + cl.URL(), "REDIS_PREFIX=" + prefix,
		"SECRET_KEY=e2e-" + strings.Repeat("s", 40), "DEBUG=false", "SHUTDOWN_TIMEOUT_SECONDS=5",
	}
	if dbURL := testutil.NewDatabaseURL(t); dbURL != "" {
		env = append(env, testutil.DatabaseEnv(dbURL)...)
	} else {
		env = append(env, "SQLITE_PATH="+filepath.Join(dir, "e2e.db"))
	}
	run(t, webBin, dir, env, "migrate")
	run(t, webBin, dir, env, "seed")
	w1 := start(t, "worker 1", workerBin, dir, env)
	w2 := start(t, "worker 2", workerBin, dir, env)
	s := &system{clerk: c, worker: w1}
	s.web = start(t, "web", webBin, dir, append(env, "WORKER_URL="+strings.TrimPrefix(w1.url, "http://")))

	// One user per master, by the slot of their user_quotes_ channel.
	users := make([]string, 3)
	for i, found := 0, 0; found < 3; i++ {
		u := fmt.Sprintf("user_e2e_cluster_%d", i)
		if k := cl.NodeOf(prefix + realtime.GroupUserQuotes(u)); users[k] == "" {
			users[k], found = u, found+1
		}
	}
	tokens := make([]string, 3)
	for k, u := range users {
		tokens[k] = c.token(t, u, "Ana", fmt.Sprint(k), u+"@example.com")
	}
	cats := decodeList(t, s.must(t, 200, "GET", "/deliveries/api/categories/", tokens[0], nil))
	type userSock struct {
		user int
		s    *socket
	}
	var socks []userSock
	open := func(k int) {
		// One socket through web (forwarded to worker 1), one on worker 2.
		for i, base := range []string{s.web.url, w2.url} {
			so := dial(t, base, "/ws/deliveries/users/me/quotes/", tokens[k], fmt.Sprintf("user %d on %d", k, i))
			so.expect(t, "", "user_quotes.initial")
			socks = append(socks, userSock{k, so})
		}
	}
	for k := range users {
		open(k)
	}
	shardSubs := func(k int, n int64) {
		t.Helper()
		ch := prefix + realtime.GroupUserQuotes(users[k])
		rc := cl.Nodes[cl.NodeOf(ch)]
		deadline := time.Now().Add(20 * time.Second)
		for {
			out := redisCLI(t, rc.Port, "PUBSUB", "SHARDNUMSUB", ch)
			if strings.HasSuffix(strings.TrimSpace(out), fmt.Sprint(n)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard subscribers of %s: %q, want %d", ch, out, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for k := range users {
		shardSubs(k, 2)
	}
	post := func(k int) string {
		t.Helper()
		q := decode(t, s.must(t, 201, "POST", "/deliveries/api/quotes/", tokens[k], obj{
			"category_id": cats[0]["id"], "client_price": 12000, "payment_method": "efectivo",
			"pickup_address": "Carrera 33 # 42-18", "delivery_address": "Calle 56 # 17A-23", "description": "Caja"}))
		return q["id"].(string)
	}
	everyone := func(list []userSock) {
		t.Helper()
		ids := make([]string, 3)
		for k := range users {
			ids[k] = post(k)
		}
		for _, us := range list {
			us.s.expect(t, ids[us.user], realtime.QuoteCreated)
		}
	}
	everyone(socks)

	control := cl.NodeOf(prefix + realtime.GroupControl)
	victim := (control + 1) % 3
	cl.Kill(victim)
	if res, err := http.Get(s.web.url + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("web /readyz with one master down: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	cl.Restart(victim)
	var kept []userSock
	for _, us := range socks {
		if us.user == victim {
			if code := us.s.waitClosed(t, 30*time.Second); code != websocket.CloseServiceRestart {
				t.Fatalf("%s: close %d, want 1012", us.s.name, code)
			}
			continue
		}
		if ce := us.s.closeErr(); ce != nil {
			t.Fatalf("%s (another master's group) closed: %v", us.s.name, ce)
		}
		kept = append(kept, us)
	}
	socks = kept
	open(victim)
	shardSubs(victim, 2)
	everyone(socks)
}

// redisCLI runs redis-cli against a local port and returns its output.
func redisCLI(t *testing.T, port int, args ...string) string {
	t.Helper()
	out, err := execOutput("redis-cli", append([]string{"-p", fmt.Sprint(port)}, args...)...)
	if err != nil {
		t.Fatalf("redis-cli %v: %v", args, err)
	}
	return out
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
