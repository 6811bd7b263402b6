package app

import (
	"context"
	"log/slog"
	"time"

	"hermez/pkg/config"
	"hermez/pkg/location"
	"hermez/pkg/nearby"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// NearbyCounter counts nearby_drivers (place.md §5) on the broker's location
// store within QUOTE_RADIUS_KM.
func NearbyCounter(cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker) *nearby.Counter {
	return &nearby.Counter{Locations: broker.Locations(cfg, func() time.Time { return st.Now() }), RadiusKm: cfg.QuoteRadiusKm, Log: log}
}

// NearbyJob is the runner's nearby_drivers pass (every
// NEARBY_INTERVAL_SECONDS, under the runner's lease: one across processes).
func NearbyJob(counter *nearby.Counter, st *store.Store, pub realtime.Publisher) func(context.Context) error {
	loop := &nearby.Loop{Store: st, Counter: counter, Publisher: pub}
	return func(ctx context.Context) error {
		_, err := loop.Tick(ctx)
		return err
	}
}

// markTimeout bounds the marks made after a user's write.
const markTimeout = time.Second

// markAvailability is the account service's UserChanged hook beside the
// authenticator's: after any write to users' rows it reads their
// availability (is_available and a current vehicle) once and marks it in the
// location store, so counting nearby drivers never reads PostgreSQL per
// location update; a suspended or deleted user's location is forgotten
// (place.md §3). Failures are logged: a mark also rides on each location
// update (the authenticated row's), and a location expires by itself.
func markAvailability(st *store.Store, locs *location.Store, log *slog.Logger) func(userIDs ...string) {
	return func(userIDs ...string) {
		if locs == nil || len(userIDs) == 0 {
			return
		}
		// Bounded: a user's write never waits long on a slow location store.
		ctx, cancel := context.WithTimeout(context.Background(), markTimeout)
		defer cancel()
		var us []store.User
		err := st.DB.WithContext(ctx).Select("userid", "is_available", "current_vehicle_id", "suspended_at", "deleted_at").
			Where("userid IN ?", userIDs).Find(&us).Error
		if err != nil {
			log.Warn("availability not marked in the location store", "users", len(userIDs), "err", err)
			return
		}
		for i := range us {
			u := &us[i]
			if u.SuspendedAt != nil || u.DeletedAt != nil {
				forget(locs, u.UserID, log)
				continue
			}
			if err := locs.SetAvailable(ctx, u.UserID, u.AvailableDriver()); err != nil {
				log.Warn("availability not marked in the location store", "user", u.UserID, "err", err)
			}
		}
	}
}
