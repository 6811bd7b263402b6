package app

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/config"
	"hermez/pkg/httpapi"
	"hermez/pkg/throttle"
)

// limits are a process's throttles and socket cap, over one store: the
// broker's Redis (shared by every instance) or, without Redis, this process.
type limits struct {
	http    httpapi.Throttles
	sockets *throttle.Sockets
	// redis and prefix also hold the staff console's login limit (nil: in process).
	redis  redis.UniversalClient
	prefix string
}

func newLimits(cfg config.Config, broker *Broker, log *slog.Logger) limits {
	var rdb redis.UniversalClient
	if broker != nil && broker.Redis != nil {
		rdb = broker.Redis
	}
	// The broker's key prefix (REDIS_PREFIX; tests give each broker its own).
	prefix := cfg.RedisPrefix
	if rdb != nil {
		prefix = brokerPrefix(cfg, broker)
	}
	var store throttle.Store = throttle.NewMemory()
	if rdb != nil {
		store = &throttle.Redis{Client: rdb, Prefix: prefix + "throttle:"}
	}
	writes, quotes, anon := cfg.Rates()
	lim := func(scope string, r throttle.Rate) *throttle.Limiter {
		if r.Disabled() {
			return nil
		}
		return &throttle.Limiter{Scope: scope, Rate: r, Store: store, Log: log}
	}
	return limits{
		http: httpapi.Throttles{
			UserWrites: lim(throttle.ScopeUserWrites, writes),
			Quotes:     lim(throttle.ScopeQuotes, quotes),
			Anon:       lim(throttle.ScopeAnon, anon),
		},
		sockets: &throttle.Sockets{Max: cfg.WSMaxSocketsPerUser, Client: rdb, Prefix: prefix, Log: log},
		redis:   rdb,
		prefix:  prefix,
	}
}
