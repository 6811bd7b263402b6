package ws_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

const wait = 5 * time.Second

func list(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	l, ok := m[key].([]any)
	if !ok {
		t.Fatalf("%s is %T in %v", key, m[key], m)
	}
	return l
}

func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%T is not an object", v)
	}
	return m
}

func TestInitialMessagesAndPermissions(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	m := realtime.NewMemory()
	w := startWorker(t, st, &app.Broker{Publisher: m, Memory: m}, app.WorkerOptions{})
	client, driver, stranger := w.token(t, f.Client), w.token(t, f.Driver), w.token(t, f.Stranger)
	q, d := f.Quote.ID.String(), f.Active.ID.String()

	t.Run("new quotes: any user, pending quotes without offers, no emails", func(t *testing.T) {
		c := mustDial(t, w.URL, "/ws/deliveries/new-quotes/", stranger)
		msg := read(t, c, wait)
		if msg["type"] != "initial_quotes" {
			t.Fatalf("type %v", msg["type"])
		}
		qs := list(t, msg, "quotes")
		if len(qs) != 1 {
			t.Fatalf("quotes %v", qs)
		}
		got := obj(t, qs[0])
		if got["id"] != q || got["client_price"] != "12000.00" || got["status"] != "pending" {
			t.Fatalf("quote %v", got)
		}
		if _, has := got["offers"]; has {
			t.Fatal("new_quotes snapshot carries offers")
		}
		if obj(t, got["client"])["email"] != nil {
			t.Fatal("client email shown to every driver")
		}
	})

	t.Run("quote: its client sees it with pending offers", func(t *testing.T) {
		c := mustDial(t, w.URL, "/ws/deliveries/quotes/"+q+"/", client)
		msg := read(t, c, wait)
		qs := list(t, msg, "quotes")
		if msg["type"] != "initial_quotes" || len(qs) != 1 {
			t.Fatalf("msg %v", msg)
		}
		offers := list(t, obj(t, qs[0]), "offers")
		if len(offers) != 1 {
			t.Fatalf("offers %v", offers)
		}
		o := obj(t, offers[0])
		if o["id"] != f.Offer.ID.String() || o["can_accept"] != true || o["estimated_delivery_time"] != "00:15:00" {
			t.Fatalf("offer %v", o)
		}
		if obj(t, obj(t, qs[0])["client"])["email"] != f.Client+"@example.com" {
			t.Fatal("the client should see their own email")
		}
	})

	t.Run("user quotes: newest first with offers, me allowed", func(t *testing.T) {
		newer := addQuote(t, st, f.Client, f.Quote.CreatedAt.Add(time.Minute))
		c := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", client)
		msg := read(t, c, wait)
		qs := list(t, msg, "quotes")
		if msg["type"] != "user_quotes.initial" || len(qs) != 2 {
			t.Fatalf("msg %v", msg)
		}
		if obj(t, qs[0])["id"] != newer.ID.String() || obj(t, qs[1])["id"] != q {
			t.Fatal("not newest first")
		}
		if len(list(t, obj(t, qs[0]), "offers")) != 0 || len(list(t, obj(t, qs[1]), "offers")) != 1 {
			t.Fatal("offers per quote wrong")
		}
		// The same by explicit id.
		c2 := mustDial(t, w.URL, "/ws/deliveries/users/"+f.Client+"/quotes/", client)
		if read(t, c2, wait)["type"] != "user_quotes.initial" {
			t.Fatal("explicit id refused")
		}
	})

	t.Run("user and driver deliveries in progress", func(t *testing.T) {
		for _, tc := range []struct{ path, token, typ string }{
			{"/ws/deliveries/users/me/deliveries/", client, "user_deliveries.initial"},
			{"/ws/deliveries/drivers/me/deliveries/", driver, "driver_deliveries.initial"},
			{"/ws/deliveries/drivers/" + f.Driver + "/deliveries/", driver, "driver_deliveries.initial"},
		} {
			msg := read(t, mustDial(t, w.URL, tc.path, tc.token), wait)
			ds := list(t, msg, "deliveries")
			if msg["type"] != tc.typ || len(ds) != 1 || obj(t, ds[0])["id"] != d || obj(t, ds[0])["status"] != "in_transit" {
				t.Fatalf("%s: %v", tc.path, msg)
			}
		}
		// The client has none as driver.
		msg := read(t, mustDial(t, w.URL, "/ws/deliveries/drivers/me/deliveries/", client), wait)
		if len(list(t, msg, "deliveries")) != 0 {
			t.Fatalf("client as driver: %v", msg)
		}
	})

	t.Run("driver offers: pending, can_accept false", func(t *testing.T) {
		msg := read(t, mustDial(t, w.URL, "/ws/deliveries/drivers/me/offers/", driver), wait)
		os := list(t, msg, "offers")
		if msg["type"] != "driver_offers.initial" || len(os) != 1 {
			t.Fatalf("msg %v", msg)
		}
		if o := obj(t, os[0]); o["id"] != f.Offer.ID.String() || o["can_accept"] != false {
			t.Fatalf("offer %v", o)
		}
	})

	t.Run("person stats: delivered or paid, total and count", func(t *testing.T) {
		msg := read(t, mustDial(t, w.URL, "/ws/deliveries/person/"+f.Driver+"/stats/", driver), wait)
		ds := list(t, msg, "deliveries")
		if msg["type"] != "person_stats" || msg["total"] != "9000.00" || msg["count"] != float64(1) || len(ds) != 1 ||
			obj(t, ds[0])["id"] != f.Paid.ID.String() {
			t.Fatalf("msg %v", msg)
		}
		msg = read(t, mustDial(t, w.URL, "/ws/deliveries/person/"+f.Stranger+"/stats/", stranger), wait)
		if msg["total"] != "0.00" || msg["count"] != float64(0) || len(list(t, msg, "deliveries")) != 0 {
			t.Fatalf("empty stats %v", msg)
		}
	})

	t.Run("delivery: client and driver join, no initial message, events arrive", func(t *testing.T) {
		cc := mustDial(t, w.URL, "/ws/deliveries/"+d+"/", client)
		cd := mustDial(t, w.URL, "/ws/deliveries/"+d+"/", driver)
		joined(t, w, realtime.GroupDelivery(d), 2)
		// No initial message: the first frame each gets is the event.
		publish(t, m, realtime.GroupDelivery(d), realtime.DeliveryStatusDot, map[string]string{"id": d, "status": "delivered"})
		for _, c := range []*websocket.Conn{cc, cd} {
			msg := read(t, c, wait)
			if msg["type"] != "delivery.status" || obj(t, msg["data"])["status"] != "delivered" {
				t.Fatalf("event %v", msg)
			}
		}
	})

	t.Run("others' groups: accepted then closed 4403", func(t *testing.T) {
		for _, tc := range []struct{ path, token string }{
			{"/ws/deliveries/quotes/" + q + "/", stranger},
			{"/ws/deliveries/quotes/" + q + "/", driver},
			{"/ws/deliveries/" + d + "/", stranger},
			{"/ws/deliveries/person/" + f.Driver + "/stats/", client},
			{"/ws/deliveries/person/me/stats/", driver}, // `me` is not offered on this route
			{"/ws/deliveries/users/" + f.Client + "/quotes/", stranger},
			{"/ws/deliveries/users/" + f.Client + "/deliveries/", driver},
			{"/ws/deliveries/drivers/" + f.Driver + "/deliveries/", client},
			{"/ws/deliveries/drivers/" + f.Driver + "/offers/", stranger},
		} {
			c := mustDial(t, w.URL, tc.path, tc.token)
			if code, reason := closeCode(t, c, wait); code != 4403 || reason == "" {
				t.Errorf("%s: close %d %q, want 4403 with a reason", tc.path, code, reason)
			}
		}
	})

	t.Run("missing quote or delivery: 4404", func(t *testing.T) {
		for _, p := range []string{"/ws/deliveries/quotes/" + uuid.NewString() + "/", "/ws/deliveries/" + uuid.NewString() + "/"} {
			c := mustDial(t, w.URL, p, client)
			if code, _ := closeCode(t, c, wait); code != 4404 {
				t.Errorf("%s: close %d, want 4404", p, code)
			}
		}
	})

	t.Run("no token, bad token: 401 JSON, no upgrade", func(t *testing.T) {
		for _, tok := range []string{"", "not.a.jwt", client[:len(client)-4] + "AAAA"} {
			_, res, err := dial(t, w.URL, "/ws/deliveries/new-quotes/", tok)
			if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("token %q: err %v res %v", tok, err, res)
			}
			b, _ := io.ReadAll(res.Body)
			testutil.DetailText(t, b)
		}
	})

	t.Run("unknown path or non-UUID id: 404 JSON", func(t *testing.T) {
		for _, p := range []string{"/ws/deliveries/quotes/123/", "/ws/deliveries/not-a-uuid/", "/ws/deliveries/nothing/here/", "/ws/other/"} {
			_, res, err := dial(t, w.URL, p, client)
			if err == nil || res == nil || res.StatusCode != http.StatusNotFound {
				t.Fatalf("%s: err %v res %v", p, err, res)
			}
			b, _ := io.ReadAll(res.Body)
			if !strings.Contains(string(b), `"detail"`) {
				t.Fatalf("%s: body %s", p, b)
			}
		}
	})

	t.Run("token forms and subprotocol echo", func(t *testing.T) {
		for _, tc := range []struct {
			protos []string
			query  string
			echo   string
		}{
			{protos: []string{client}, echo: client},
			{protos: []string{"Bearer_" + client}, echo: "Bearer_" + client},
			{protos: []string{"Bearer:" + client}, echo: "Bearer:" + client},
			{protos: []string{"Bearer-" + client}, echo: "Bearer-" + client},
			{protos: []string{"Bearer", client}, echo: "Bearer"},
			{query: "?token=" + url.QueryEscape(client)},
			{query: "?access_token=" + url.QueryEscape(client)},
		} {
			dl := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: tc.protos}
			c, res, err := dl.Dial(wsURL(w.URL, "/ws/deliveries/users/me/quotes"+"/"+tc.query), nil)
			if err != nil {
				t.Fatalf("%v %s: %v", tc.protos, tc.query, err)
			}
			if got := res.Header.Get("Sec-Websocket-Protocol"); got != tc.echo || c.Subprotocol() != tc.echo {
				t.Fatalf("echo %q, want %q", got, tc.echo)
			}
			if read(t, c, wait)["type"] != "user_quotes.initial" {
				t.Fatal("no initial message")
			}
			c.Close()
		}
		// Slashless path (the common rewrite) and any Origin.
		dl := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{client}}
		c, _, err := dl.Dial(wsURL(w.URL, "/ws/deliveries/new-quotes"), http.Header{"Origin": {"https://elsewhere.example"}})
		if err != nil {
			t.Fatalf("slashless with foreign origin: %v", err)
		}
		c.Close()
	})

	t.Run("text ping gets pong, other messages ignored", func(t *testing.T) {
		c := mustDial(t, w.URL, "/ws/deliveries/users/me/deliveries/", client)
		read(t, c, wait)
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"hello":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		kind, b, err := c.ReadMessage()
		if err != nil || kind != websocket.TextMessage || string(b) != "pong" {
			t.Fatalf("got %d %q %v", kind, b, err)
		}
	})

	t.Run("a deleted user's sockets close with 4401, others stay", func(t *testing.T) {
		victim := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", stranger)
		read(t, victim, wait)
		other := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", client)
		read(t, other, wait)
		// The deletion commits (as account.DeleteProfile does), then its control frame goes out.
		if err := st.DB.Model(&store.User{}).Where("userid = ?", f.Stranger).Update("deleted_at", store.Now()).Error; err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]string{"type": realtime.ControlUserDeleted, "user": f.Stranger})
		if err := m.Publish(t.Context(), realtime.RawMessage(realtime.GroupControl, realtime.ControlUserDeleted, b)); err != nil {
			t.Fatal(err)
		}
		if code, _ := closeCode(t, victim, wait); code != 4401 {
			t.Fatalf("close %d, want 4401", code)
		}
		// The worker had the user's row cached from the handshake above; the
		// control frame made it forget, so a new handshake is refused.
		if _, res, err := dial(t, w.URL, "/ws/deliveries/users/me/quotes/", stranger); err == nil || res == nil || res.StatusCode != 401 {
			t.Fatalf("a deleted user's new socket: %v %v", res, err)
		}
		publish(t, m, realtime.GroupUserQuotes(f.Client), realtime.QuoteUpdated, map[string]string{"id": q})
		if read(t, other, wait)["type"] != realtime.QuoteUpdated {
			t.Fatal("other user's socket lost")
		}
	})
}

func TestShutdownClosesWith1001AndRefusesNewSockets(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	w := startWorker(t, st, nil, app.WorkerOptions{})
	tok := w.token(t, f.Client)
	var conns []*websocket.Conn
	for range 5 {
		c := mustDial(t, w.URL, "/ws/deliveries/new-quotes/", tok)
		read(t, c, wait)
		conns = append(conns, c)
	}
	done := make(chan struct{})
	go func() {
		ctx, cancel := testContext(t, 5*time.Second)
		defer cancel()
		w.W.Hub.Shutdown(ctx)
		close(done)
	}()
	for _, c := range conns {
		if code, _ := closeCode(t, c, wait); code != websocket.CloseGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
	}
	<-done
	if n := w.W.Hub.Len(); n != 0 {
		t.Fatalf("%d sockets left", n)
	}
	_, res, err := dial(t, w.URL, "/ws/deliveries/new-quotes/", tok)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("new socket during shutdown: %v %v", err, res)
	}
}
