package serve

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// ClientIP is docs/config.md's client-IP rule as Echo's IPExtractor (so
// c.RealIP() follows it everywhere): with hops == 0 the connection's peer
// address; with hops == N the N-th address from the right of X-Forwarded-For
// (each proxy in front appends the address it saw: Render's one proxy makes
// it 1). X-Real-IP and addresses further left are written by the client and
// never trusted; a request with fewer addresses than hops (it did not come
// through the proxies) or a malformed one falls back to the peer address.
func ClientIP(hops int) echo.IPExtractor {
	return func(r *http.Request) string {
		if hops > 0 {
			if ip := forwardedHop(r.Header.Values(echo.HeaderXForwardedFor), hops); ip != "" {
				return ip
			}
		}
		return peerIP(r)
	}
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	// An IPv4 address netip accepts is already in the form net.IP.String
	// gives: answer it without allocating (every request logs its IP).
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return host
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.String()
	}
	return host
}

// forwardedHop returns the hops-th address from the right of the
// X-Forwarded-For headers (several headers read as one list, in order), or ""
// when there are fewer or it is not an IP address.
func forwardedHop(headers []string, hops int) string {
	var addrs []string
	for _, h := range headers {
		for _, a := range strings.Split(h, ",") {
			addrs = append(addrs, strings.TrimSpace(a))
		}
	}
	if len(addrs) < hops {
		return ""
	}
	a := addrs[len(addrs)-hops]
	if host, _, err := net.SplitHostPort(a); err == nil {
		a = host // "1.2.3.4:5678" or "[::1]:80"
	}
	ip := net.ParseIP(strings.Trim(a, "[]"))
	if ip == nil {
		return ""
	}
	return ip.String()
}
