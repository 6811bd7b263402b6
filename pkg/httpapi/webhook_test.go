package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// clerkCreated is examples.md §8's user.created body.
const clerkCreated = `{
  "data": {
    "created_at": 1795708688931,
    "email_addresses": [
      {
        "email_address": "jhonfredy.pinzon@hotmail.com",
        "id": "idn_2pR3kQw7Ty2NcV5bX9mL4sH8dFe",
        "object": "email_address"
      },
      {
        "email_address": "jfpinzon.moto@gmail.com",
        "id": "idn_2pR3kRz1Pq6WdJ3nB8vK5tG2hYc",
        "object": "email_address"
      }
    ],
    "first_name": "Jhon Fredy",
    "id": "user_2pR3kT9wXy7ZbM1nQ5vL8sH2dGa",
    "image_url": "https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOiJodHRwczovL2ltYWdlcy5jbGVyay5kZXYvdXBsb2FkZWQvaW1nXzJwUjNrVDl3WHk3WmJNMW5RNXZMOHNIMmRHYSJ9",
    "last_name": "Pinzón Gómez",
    "object": "user",
    "primary_email_address_id": "idn_2pR3kRz1Pq6WdJ3nB8vK5tG2hYc",
    "public_metadata": {"role": "delivery"},
    "updated_at": 1795708688987,
    "username": "jhonfredy.pinzon"
  },
  "object": "event",
  "timestamp": 1795708689104,
  "type": "user.created"
}`

const webhookPath = "/user/webhooks/clerk/"

func webhookWeb(t *testing.T) *testutil.Web {
	t.Helper()
	return testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ClerkWebhookSecret = testutil.WebhookSecret }})
}

// deliver signs body now with the test secret under msgID and posts it.
func deliver(t *testing.T, w *testutil.Web, msgID string, body []byte) *testutil.Response {
	t.Helper()
	return post(t, w, webhookPath, testutil.SvixHeaders(t, testutil.WebhookSecret, msgID, time.Now(), body), body)
}

func clerkEvent(typ, id string, updatedAt int64, first string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": typ, "object": "event",
		"data": map[string]any{
			"id": id, "first_name": first, "last_name": "Apellido", "username": strings.ToLower(first),
			"image_url": "https://img.clerk.com/" + id, "updated_at": updatedAt,
			"email_addresses":          []map[string]string{{"id": "idn_1", "email_address": first + "@mail.test"}},
			"primary_email_address_id": "idn_1",
			"public_metadata":          map[string]any{},
		},
	})
	return b
}

func loadUser(t *testing.T, st *store.Store, id string) store.User {
	t.Helper()
	var u store.User
	if err := st.DB.Where("userid = ?", id).Take(&u).Error; err != nil {
		t.Fatalf("load %s: %v", id, err)
	}
	return u
}

func TestWebhookUserCreatedFromExample(t *testing.T) {
	w := webhookWeb(t)
	res := deliver(t, w, "msg_2pR3kVb4Xe9TqL6nW8yH1sZ5cJf", []byte(clerkCreated))
	wantStatus(t, res, 200)
	if string(res.Body) != `{"status":"ok"}`+"\n" && string(res.Body) != `{"status":"ok"}` {
		t.Fatalf("body %q", res.Body)
	}
	u := loadUser(t, w.Store, "user_2pR3kT9wXy7ZbM1nQ5vL8sH2dGa")
	if u.Email == nil || *u.Email != "jfpinzon.moto@gmail.com" {
		t.Fatalf("primary email not chosen: %v", u.Email)
	}
	if *u.FirstName != "Jhon Fredy" || *u.LastName != "Pinzón Gómez" || *u.Username != "jhonfredy.pinzon" ||
		u.Role == nil || *u.Role != "delivery" || u.ImageURL == nil || u.ClerkUpdatedAt == nil ||
		u.ClerkUpdatedAt.UnixMilli() != 1795708688987 {
		t.Fatalf("user not synced: %+v", u)
	}
	var n int64
	w.Store.DB.Model(&store.WebhookEvent{}).Where("svix_id = ?", "msg_2pR3kVb4Xe9TqL6nW8yH1sZ5cJf").Count(&n)
	if n != 1 {
		t.Fatalf("webhook_events rows %d", n)
	}
}

func TestWebhookRefusals(t *testing.T) {
	w := webhookWeb(t)
	body := []byte(clerkCreated)
	now := time.Now()
	sign := func(ts time.Time, secret string) http.Header {
		return testutil.SvixHeaders(t, secret, "msg_refused", ts, body)
	}
	tampered := []byte(strings.Replace(clerkCreated, "delivery", "client", 1))
	cases := map[string]struct {
		h    http.Header
		body []byte
	}{
		"tampered body":   {sign(now, testutil.WebhookSecret), tampered},
		"6 minutes old":   {sign(now.Add(-6*time.Minute), testutil.WebhookSecret), body},
		"6 minutes ahead": {sign(now.Add(6*time.Minute), testutil.WebhookSecret), body},
		"wrong secret":    {sign(now, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), body},
		"no signature":    {http.Header{}, body},
		"spec example replayed": {http.Header{
			"Svix-Id": {"msg_2pR3kVb4Xe9TqL6nW8yH1sZ5cJf"}, "Svix-Timestamp": {"1795708689"},
			"Svix-Signature": {"v1,AbAqQpFVoNNMbGOACV9zrIex/LgMslcbqEo3m0jgfkQ="}}, body},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			wantDetail(t, post(t, w, webhookPath, c.h, c.body), 400)
		})
	}
	var n int64
	w.Store.DB.Model(&store.User{}).Where("userid = ?", "user_2pR3kT9wXy7ZbM1nQ5vL8sH2dGa").Count(&n)
	if n != 0 {
		t.Fatal("a refused delivery created the user")
	}
	// Several signatures, one valid (key rotation): accepted.
	h := sign(now, testutil.WebhookSecret)
	old := sign(now, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").Get("svix-signature")
	h.Set("svix-signature", old+" v1,Zm9vYmFy "+h.Get("svix-signature"))
	wantStatus(t, post(t, w, webhookPath, h, body), 200)

	// Signed but without type or data: 400.
	for i, b := range []string{`{"data":{"id":"user_x"}}`, `{"type":"user.created"}`, `{"type":"user.created","data":null}`, `[1,2]`, `{"type":"user.updated","data":{}}`} {
		res := deliver(t, w, fmt.Sprintf("msg_shape_%d", i), []byte(b))
		wantDetail(t, res, 400)
	}
	// Other event types: 200 and ignored.
	wantStatus(t, deliver(t, w, "msg_session", []byte(`{"type":"session.created","data":{"id":"sess_1"}}`)), 200)
}

func TestWebhookWithoutSecretIs503(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	res := post(t, w, webhookPath, testutil.SvixHeaders(t, testutil.WebhookSecret, "msg_1", time.Now(), []byte(clerkCreated)), []byte(clerkCreated))
	wantDetail(t, res, 503)
	// No JWT needed, no Host check, and the slashless path answers the same.
	res = post(t, w, "/user/webhooks/clerk", nil, []byte(clerkCreated))
	wantDetail(t, res, 503)
}

func TestWebhookIdempotentAndOrdered(t *testing.T) {
	w := webhookWeb(t)
	const id = "user_order"
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	wantStatus(t, deliver(t, w, "msg_a", clerkEvent("user.created", id, t0, "Ana")), 200)
	// A newer update applies.
	wantStatus(t, deliver(t, w, "msg_b", clerkEvent("user.updated", id, t0+2000, "Beatriz")), 200)
	if u := loadUser(t, w.Store, id); *u.FirstName != "Beatriz" {
		t.Fatalf("newer update not applied: %s", *u.FirstName)
	}
	// An older one arriving late is acknowledged and ignored.
	wantStatus(t, deliver(t, w, "msg_c", clerkEvent("user.updated", id, t0+1000, "Carla")), 200)
	if u := loadUser(t, w.Store, id); *u.FirstName != "Beatriz" || u.ClerkUpdatedAt.UnixMilli() != t0+2000 {
		t.Fatalf("older update applied: %s", *u.FirstName)
	}
	// The same svix-id twice is applied once: change the row in between and
	// redeliver msg_b; the row must not be overwritten again.
	w.Store.DB.Model(&store.User{}).Where("userid = ?", id).Updates(map[string]any{"first_name": "Local", "clerk_updated_at": nil})
	wantStatus(t, deliver(t, w, "msg_b", clerkEvent("user.updated", id, t0+2000, "Beatriz")), 200)
	if u := loadUser(t, w.Store, id); *u.FirstName != "Local" {
		t.Fatalf("redelivery applied twice: %s", *u.FirstName)
	}
	var n int64
	w.Store.DB.Model(&store.WebhookEvent{}).Count(&n)
	if n != 3 {
		t.Fatalf("webhook_events %d, want 3", n)
	}
}

func TestWebhookUserDeleted(t *testing.T) {
	w := webhookWeb(t)
	const id = "user_wh_deleted"
	tok := w.Token(t, id)
	wantStatus(t, w.Do(t, "GET", "/user/api/me/", tok, nil), 200)
	wantStatus(t, w.Do(t, "POST", "/user/api/me/addresses/", tok, map[string]any{
		"name": "Casa", "type": "casa", "address": "Calle 6 # 9-54", "city": "Barichara"}), 201)
	var hookCalls int
	w.App.Account.OnDelete = func(tx *gorm.DB, userID string) ([]realtime.Message, error) {
		hookCalls++
		if userID != id {
			t.Errorf("hook for %s", userID)
		}
		var n int64
		tx.Model(&store.User{}).Where("userid = ?", userID).Count(&n) // runs inside the transaction
		m, err := realtime.NewMessage(realtime.GroupNewQuotes, realtime.QuoteDeleted, map[string]string{"id": "q1"})
		return []realtime.Message{m}, err
	}
	w.Recorder.Take()
	del := []byte(`{"data":{"deleted":true,"id":"` + id + `","object":"user"},"object":"event","type":"user.deleted"}`)
	wantStatus(t, deliver(t, w, "msg_del", del), 200)
	if hookCalls != 1 {
		t.Fatalf("hook calls %d", hookCalls)
	}
	w.App.Account.OnDelete = nil
	res := w.Do(t, "GET", "/user/api/me/", tok, nil)
	wantDetail(t, res, 401)
	if res.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("no WWW-Authenticate")
	}
	u := loadUser(t, w.Store, id)
	if u.DeletedAt == nil || u.Email != nil || u.FirstName != nil || u.Username != nil {
		t.Fatalf("not deleted: %+v", u)
	}
	var n int64
	w.Store.DB.Model(&store.Address{}).Where("user_id = ?", id).Count(&n)
	if n != 0 {
		t.Fatal("addresses kept")
	}
	msgs := w.Recorder.Take()
	if len(msgs) != 2 || msgs[0].Type != realtime.QuoteDeleted || msgs[1].Group != realtime.GroupControl ||
		string(msgs[1].Payload) != `{"type":"user_deleted","user":"`+id+`"}` {
		t.Fatalf("frames %+v", msgs)
	}
	// A late user.created cannot bring the user back.
	wantStatus(t, deliver(t, w, "msg_late", clerkEvent("user.created", id, time.Now().UnixMilli(), "Zombie")), 200)
	if u := loadUser(t, w.Store, id); u.FirstName != nil || u.DeletedAt == nil {
		t.Fatalf("resurrected: %+v", u)
	}
	// user.deleted for an id never seen records a tombstone.
	wantStatus(t, deliver(t, w, "msg_del2", []byte(`{"data":{"deleted":true,"id":"user_never","object":"user"},"type":"user.deleted"}`)), 200)
	if u := loadUser(t, w.Store, "user_never"); u.DeletedAt == nil {
		t.Fatal("no tombstone")
	}
	wantStatus(t, deliver(t, w, "msg_late2", clerkEvent("user.created", "user_never", time.Now().UnixMilli(), "Late")), 200)
	if u := loadUser(t, w.Store, "user_never"); u.DeletedAt == nil || u.FirstName != nil {
		t.Fatal("tombstone overwritten")
	}
	wantDetail(t, w.Do(t, "GET", "/user/api/me/", w.Token(t, "user_never"), nil), 401)
}

func TestWebhookConcurrentRedelivery(t *testing.T) {
	w := webhookWeb(t)
	body := clerkEvent("user.created", "user_race", time.Now().UnixMilli(), "Rosa")
	h := testutil.SvixHeaders(t, testutil.WebhookSecret, "msg_race", time.Now(), body)
	statuses := make(chan int, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- post(t, w, webhookPath, h, body).Status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Fatalf("status %d", s)
		}
	}
	var n int64
	w.Store.DB.Model(&store.WebhookEvent{}).Where("svix_id = ?", "msg_race").Count(&n)
	if n != 1 || *loadUser(t, w.Store, "user_race").FirstName != "Rosa" {
		t.Fatalf("events %d", n)
	}
}
