package serve_test

import (
	"net/http/httptest"
	"testing"

	"hermez/pkg/serve"
)

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer a.b.c": "a.b.c", "bearer a.b.c": "a.b.c", "BEARER a.b.c": "a.b.c", "  Bearer   a.b.c  ": "a.b.c",
		"Bearer": "", "Bearer ": "", "Basic dXNlcjpwdw==": "", "Token a.b.c": "", "": "", "Bearera.b.c": "",
	} {
		if got := serve.BearerToken(header); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", header, got, want)
		}
	}
}

// Every way a socket handshake carries its token, in the order they are
// tried, and the subprotocol the handshake echoes.
func TestSocketToken(t *testing.T) {
	for _, c := range []struct {
		name, protocols, query, auth string
		token, proto                 string
	}{
		{"bare JWT subprotocol", "a.b.c", "", "", "a.b.c", "a.b.c"},
		{"Bearer <jwt>", "Bearer a.b.c", "", "", "a.b.c", "Bearer a.b.c"},
		{"Bearer_<jwt>", "Bearer_a.b.c", "", "", "a.b.c", "Bearer_a.b.c"},
		{"bearer:<jwt>", "bearer:a.b.c", "", "", "a.b.c", "bearer:a.b.c"},
		{"Bearer-<jwt>", "Bearer-a.b.c", "", "", "a.b.c", "Bearer-a.b.c"},
		{"Bearer then the token", "Bearer, a.b.c", "", "", "a.b.c", "Bearer"},
		{"a JWT among other subprotocols", "chat, a.b.c", "", "", "a.b.c", "a.b.c"},
		{"one opaque subprotocol", "opaque", "", "", "opaque", "opaque"},
		{"subprotocols win over the query", "a.b.c", "token=q.q.q", "", "a.b.c", "a.b.c"},
		{"two opaque subprotocols fall through to the query", "chat, json", "token=q.q.q", "", "q.q.q", ""},
		{"query token", "", "token=q.q.q", "", "q.q.q", ""},
		{"query access_token", "", "access_token=q.q.q", "", "q.q.q", ""},
		{"query Bearer <jwt>", "", "token=Bearer%20q.q.q", "", "q.q.q", ""},
		{"blank token, then access_token", "", "token=%20&access_token=q.q.q", "", "q.q.q", ""},
		{"query wins over the header", "", "token=q.q.q", "Bearer h.h.h", "q.q.q", ""},
		{"Authorization header", "", "", "Bearer h.h.h", "h.h.h", ""},
		{"Authorization not Bearer", "", "", "Basic h.h.h", "", ""},
		{"nothing", "", "", "", "", ""},
	} {
		r := httptest.NewRequest("GET", "/ws/deliveries/quotes/1/?"+c.query, nil)
		if c.protocols != "" {
			r.Header.Set("Sec-WebSocket-Protocol", c.protocols)
		}
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if tok, proto := serve.SocketToken(r); tok != c.token || proto != c.proto {
			t.Errorf("%s: (%q, %q), want (%q, %q)", c.name, tok, proto, c.token, c.proto)
		}
	}
}

// RequestToken reads a socket's ways under /ws/ and the Authorization
// header elsewhere.
func TestRequestToken(t *testing.T) {
	for _, c := range []struct{ path, protocol, auth, want string }{
		{"/ws/x/", "a.b.c", "", "a.b.c"},
		{"/ws/x/", "", "Bearer h.h.h", "h.h.h"},
		{"/user/api/me/", "", "Bearer h.h.h", "h.h.h"},
		{"/user/api/me/", "a.b.c", "", ""}, // a subprotocol is no token on the API
	} {
		r := httptest.NewRequest("GET", c.path, nil)
		if c.protocol != "" {
			r.Header.Set("Sec-WebSocket-Protocol", c.protocol)
		}
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := serve.RequestToken(r); got != c.want {
			t.Errorf("%s (protocol %q, auth %q): %q, want %q", c.path, c.protocol, c.auth, got, c.want)
		}
	}
}
