package faults

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/testutil"
)

// console is a staff member's browser on the web process's /admin/.
type console struct {
	t    *testing.T
	base string
	c    *http.Client
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (k *console) send(method, path string, form url.Values) (int, string) {
	k.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, k.base+path, body)
	if err != nil {
		k.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := k.c.Do(req)
	if err != nil {
		k.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (k *console) token(path string) string {
	k.t.Helper()
	_, body := k.send("GET", path, nil)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		k.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

// newConsole makes a staff account with `web createsuperuser` (a process of
// its own) and logs in to the web process's console.
func newConsole(t *testing.T, s *system, base string) *console {
	t.Helper()
	cmd := exec.Command(s.webBin, "createsuperuser", "--username", "guardia")
	cmd.Env = append(append([]string{}, s.env...), "HERMEZ_ADMIN_PASSWORD=clave-de-guardia-1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("createsuperuser: %v\n%s", err, out)
	}
	jar, _ := cookiejar.New(nil)
	k := &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	tok := k.token("/admin/login/")
	if code, body := k.send("POST", "/admin/login/", url.Values{"csrf_token": {tok}, "username": {"guardia"},
		"password": {"clave-de-guardia-1"}, "next": {"/admin/"}}); code != http.StatusSeeOther {
		t.Fatalf("console login: %d\n%s", code, body)
	}
	return k
}

func dialWS(t *testing.T, base, path, token string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{token}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return m
}

// closed reads until the socket closes and returns its close code and text.
func closed(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			t.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}

// Suspension through real processes: staff suspend a client on the web
// process's console; the client's API calls to the web answer 403 with the
// reason, their socket on a second worker (another process, told through
// Redis) closes 4403 with it and a new one there is refused the same way;
// their pending quote is cancelled and a driver watching new quotes on that
// worker is told. Reinstating restores the API and the sockets at once.
func TestSuspensionAcrossProcesses(t *testing.T) {
	t.Parallel()
	url_, prefix := testutil.Redis(t)
	s := newSystem(t, url_, prefix)
	web := s.startWeb(0)
	worker := s.startWorker("worker-2")
	a := newAPI(web.url)
	clientID := "user_susp_client"
	client, driver := s.token(clientID), s.token("user_susp_driver")
	quote := s.createQuote(a, client, 9000)
	k := newConsole(t, s, web.url)

	own := dialWS(t, worker.url, "/ws/deliveries/users/me/quotes/", client)
	frame(t, own)
	drv := dialWS(t, worker.url, "/ws/deliveries/new-quotes/", driver)
	frame(t, drv)

	reason := "Pagos rechazados repetidamente"
	tok := k.token("/admin/users/" + clientID + "/")
	began := time.Now()
	if code, body := k.send("POST", "/admin/users/"+clientID+"/suspend/", url.Values{"csrf_token": {tok}, "reason": {reason}, "confirmar": {"1"}}); code != http.StatusSeeOther {
		t.Fatalf("suspend on the console: %d\n%s", code, tail(body, 2000))
	}
	want := "Tu cuenta está suspendida: " + reason

	// HTTP on the web: 403 with the reason.
	code, body, err := a.do("GET", "/user/api/me/", client, nil)
	if err != nil || code != http.StatusForbidden || body["detail"] != want {
		t.Errorf("GET me while suspended: %d %v %v, want 403 {detail: %q}", code, body, err, want)
	}
	// The open socket on the second worker: 4403 with the reason.
	if c, text := closed(t, own); c != 4403 || text != want {
		t.Errorf("socket on the worker closed %d %q, want 4403 %q", c, text, want)
	}
	closedAfter := time.Since(began)
	// The driver on that worker: the quote is cancelled.
	var gone map[string]any
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		if m := frame(t, drv); m["type"] == "quote_deleted" {
			gone = m
			break
		}
	}
	if d, _ := gone["data"].(map[string]any); d == nil || d["id"] != quote || d["status"] != "cancelled" {
		t.Errorf("driver's frame %v, want quote_deleted of %s, cancelled", gone, quote)
	}
	// A new socket on the worker: refused 4403.
	if c, text := closed(t, dialWS(t, worker.url, "/ws/deliveries/users/me/deliveries/", client)); c != 4403 || text != want {
		t.Errorf("new socket on the worker: %d %q, want 4403", c, text)
	}
	figure(t, "suspension_to_worker_close", "%s", closedAfter.Round(time.Millisecond))

	// Reinstate: access back at once, on both processes.
	tok = k.token("/admin/users/" + clientID + "/")
	if code, body := k.send("POST", "/admin/users/"+clientID+"/reinstate/", url.Values{"csrf_token": {tok}, "reason": {"Aclarado"}, "confirmar": {"1"}}); code != http.StatusSeeOther {
		t.Fatalf("reinstate: %d\n%s", code, tail(body, 2000))
	}
	if code, _, err := a.do("GET", "/user/api/me/", client, nil); err != nil || code != http.StatusOK {
		t.Errorf("GET me after reinstatement: %d %v", code, err)
	}
	var first map[string]any
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		c := dialWS(t, worker.url, "/ws/deliveries/users/me/quotes/", client)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, b, err := c.ReadMessage(); err == nil {
			_ = json.Unmarshal(b, &first)
			break
		}
	}
	if first["type"] != "user_quotes.initial" {
		t.Errorf("socket on the worker after reinstatement: first frame %v", first)
	}
	// Nothing cancelled comes back.
	if qs := a.list(t, "/deliveries/api/quotes/", client); len(qs) != 0 {
		t.Errorf("%d quotes after reinstatement, want 0", len(qs))
	}
}
