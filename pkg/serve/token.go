package serve

import (
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

// The ways a request carries the caller's token: the Authorization header on
// the API, several more on a socket handshake (browsers cannot set headers
// there).

// BearerToken extracts the token of "Authorization: Bearer <jwt>".
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// SocketToken finds a socket handshake's token: the bare JWT as a subprotocol (what the
// frontend sends), `Bearer <jwt>` / `Bearer_`, `Bearer:`, `Bearer-` (or
// "Bearer" then the token as the next subprotocol), the `token` or
// `access_token` query parameter, or an Authorization header. proto is the
// subprotocol to echo in the handshake ("" when the token came another way).
func SocketToken(r *http.Request) (token, proto string) {
	protos := websocket.Subprotocols(r)
	for i, p := range protos {
		if t, ok := cutBearer(p); ok {
			if t != "" {
				return t, p
			}
			if i+1 < len(protos) {
				return protos[i+1], p
			}
		}
	}
	for _, p := range protos {
		if strings.Count(p, ".") == 2 {
			return p, p
		}
	}
	if len(protos) == 1 {
		return protos[0], protos[0]
	}
	q := r.URL.Query()
	for _, k := range []string{"token", "access_token"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			if t, ok := cutBearer(v); ok && t != "" {
				return t, ""
			}
			return v, ""
		}
	}
	if t, ok := cutBearer(strings.TrimSpace(r.Header.Get("Authorization"))); ok && t != "" {
		return t, ""
	}
	return "", ""
}

// cutBearer reads "Bearer", "Bearer <t>", "Bearer_<t>", "Bearer:<t>", "Bearer-<t>".
func cutBearer(p string) (string, bool) {
	if len(p) < 6 || !strings.EqualFold(p[:6], "bearer") {
		return "", false
	}
	rest := p[6:]
	if rest == "" {
		return "", true
	}
	switch rest[0] {
	case ' ', '_', ':', '-':
		return strings.TrimSpace(rest[1:]), true
	}
	return "", false
}
