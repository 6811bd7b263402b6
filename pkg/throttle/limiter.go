package throttle

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics (exposed at /metrics with the rest of the process's collectors).
var (
	// Decisions counts throttle decisions by scope and outcome: allowed,
	// throttled, or error (the store failed and the request went through).
	Decisions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "hermez_throttle_decisions_total",
		Help: "Throttle decisions by scope and outcome (allowed, throttled, error: the limiter's store failed and the request was let through).",
	}, []string{"scope", "outcome"})
)

// Scopes of the throttles (docs/api.md "Throttling"; metric labels and key names).
const (
	ScopeUserWrites = "user_writes"
	ScopeQuotes     = "quotes"
	ScopeAnon       = "anon"
	ScopeSockets    = "sockets"
)

// Limiter is one throttle: a scope, its rate and the store its counts live in.
// A nil or disabled Limiter allows everything.
type Limiter struct {
	Scope string
	Rate  Rate
	Store Store
	Log   *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time

	lastErrLog atomic.Int64 // unix seconds of the last logged store failure
}

// Allow counts one request of ident (a user id or a client IP) and tells
// whether it may go on. A store failure allows the request, is logged (at
// most once a second per limiter) and counted.
func (l *Limiter) Allow(ctx context.Context, ident string) Decision {
	if l == nil || l.Rate.Disabled() || l.Store == nil {
		return Decision{Allowed: true}
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	d, err := l.Store.Hit(ctx, l.Scope+":"+ident, l.Rate, now)
	switch {
	case err != nil:
		Decisions.WithLabelValues(l.Scope, "error").Inc()
		l.logFailure(err)
		return Decision{Allowed: true}
	case d.Allowed:
		Decisions.WithLabelValues(l.Scope, "allowed").Inc()
	default:
		Decisions.WithLabelValues(l.Scope, "throttled").Inc()
	}
	return d
}

// storeTimeout bounds one call to the store: a slow Redis must not hold
// requests longer than this before they are let through.
const storeTimeout = 500 * time.Millisecond

func (l *Limiter) logFailure(err error) {
	now := time.Now().Unix()
	if last := l.lastErrLog.Load(); now == last || !l.lastErrLog.CompareAndSwap(last, now) {
		return
	}
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	log.Error("throttle store unavailable: request let through", "scope", l.Scope, "err", err)
}

// WaitSeconds is DRF's wait rounded up to whole seconds (at least 1): the
// Retry-After value and the number in the message.
func WaitSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// Message is DRF's throttled text in Spanish.
func Message(wait int) string {
	unit := "segundos"
	if wait == 1 {
		unit = "segundo"
	}
	return fmt.Sprintf("Solicitud fue regulada (throttled). Se espera que esté disponible en %d %s.", wait, unit)
}
