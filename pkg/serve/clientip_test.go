package serve_test

import (
	"net/http/httptest"
	"testing"

	"hermez/pkg/serve"
)

// Issue 12 §3: one client-IP rule; X-Real-IP and addresses the client wrote
// are never trusted.
func TestClientIP(t *testing.T) {
	for _, c := range []struct {
		hops         int
		remote       string
		xff          []string
		realIP, want string
	}{
		{0, "10.0.0.9:5000", []string{"1.1.1.1"}, "2.2.2.2", "10.0.0.9"},
		{0, "[::1]:5000", nil, "", "::1"},
		{0, "[2001:DB8::1]:5000", nil, "", "2001:db8::1"}, // the canonical form
		{0, "10.0.0.9", nil, "", "10.0.0.9"},              // a peer without a port
		{1, "10.0.0.9:5000", []string{"6.6.6.6, 203.0.113.7"}, "2.2.2.2", "203.0.113.7"},
		{1, "10.0.0.9:5000", []string{"6.6.6.6", "203.0.113.7"}, "", "203.0.113.7"}, // several headers are one list
		{2, "10.0.0.9:5000", []string{"6.6.6.6, 203.0.113.7, 10.1.1.1"}, "", "203.0.113.7"},
		{1, "10.0.0.9:5000", nil, "2.2.2.2", "10.0.0.9"},                   // not through the proxy
		{2, "10.0.0.9:5000", []string{"203.0.113.7"}, "", "10.0.0.9"},      // fewer hops than configured
		{1, "10.0.0.9:5000", []string{"1.1.1.1, garbage"}, "", "10.0.0.9"}, // malformed: the peer
		{1, "10.0.0.9:5000", []string{"203.0.113.7:4431"}, "", "203.0.113.7"},
		{1, "10.0.0.9:5000", []string{"[2001:db8::1]:443"}, "", "2001:db8::1"},
		{1, "10.0.0.9:5000", []string{" 2001:DB8::2 "}, "", "2001:db8::2"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if c.realIP != "" {
			r.Header.Set("X-Real-IP", c.realIP)
		}
		if got := serve.ClientIP(c.hops)(r); got != c.want {
			t.Errorf("hops %d, peer %s, X-Forwarded-For %q: %q, want %q", c.hops, c.remote, c.xff, got, c.want)
		}
	}
}
