package load

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CheckLoopback refuses any target whose host is not a loopback address
// (127.0.0.0/8, ::1) or "localhost": the tool only ever loads this machine.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("target %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "ws":
	default:
		return fmt.Errorf("target %q: scheme must be http or ws", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("target %q: no host", raw)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("target %q: host must be a loopback IP or localhost (names are not resolved)", raw)
	}
	if !ip.IsLoopback() {
		return fmt.Errorf("target %q: %s is not a loopback address; this tool only loads the local machine", raw, ip)
	}
	return nil
}

// WSURL turns an http(s) base into the ws base of the same host.
func WSURL(base string) string {
	switch {
	case strings.HasPrefix(base, "http://"):
		return "ws://" + strings.TrimPrefix(base, "http://")
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimPrefix(base, "https://")
	}
	return base
}
