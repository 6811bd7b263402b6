package app

import (
	"context"
	"log/slog"
	"time"

	"hermez/pkg/account"
	"hermez/pkg/config"
	"hermez/pkg/market"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/track"
)

// Expire is the `expire` subcommand: one sweep of expired quotes and offers
// (their events go through the outbox to the configured broker), plus the
// purge of old webhook ids and published outbox rows.
func Expire(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	st, err := OpenStore(ctx, cfg, log, cfg.LocalMode())
	if err != nil {
		return err
	}
	defer st.Close()
	broker, err := OpenBroker(cfg)
	if err != nil {
		return err
	}
	if broker.Redis != nil {
		defer broker.Redis.Close()
	}
	outbox := broker.Outbox(st, log)
	quotes, offers, err := NewMarket(cfg, log, st, outbox).Expire(ctx)
	if err != nil {
		return err
	}
	log.Info("expired quotes and offers removed", "quotes", quotes, "offers", offers)
	return PurgeWith(account.New(st, nil, log), outbox, log, cfg.TrackRetention())(ctx)
}

// Purge is the retention job: each bookkeeping table's owner deletes the rows
// its retention has passed (account.WebhookRetention for applied svix-ids,
// realtime.OutboxRetention for published outbox rows, TRACK_RETENTION_DAYS at
// its default for the trails of ended deliveries: PurgeWith sets it).
func Purge(acct *account.Service, outbox *realtime.Outbox, log *slog.Logger) func(context.Context) error {
	return PurgeWith(acct, outbox, log, track.DefaultRetention)
}

// PurgeWith is Purge with the trails kept trackRetention after their delivery ended.
func PurgeWith(acct *account.Service, outbox *realtime.Outbox, log *slog.Logger, trackRetention time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		hooks, err := acct.PurgeWebhookEvents(ctx)
		if err != nil {
			return err
		}
		frames, err := outbox.Purge(ctx)
		if err != nil {
			return err
		}
		points, err := track.Purge(ctx, outbox.Store, trackRetention)
		if err != nil {
			return err
		}
		if hooks+frames+points > 0 {
			log.Info("retention purge", "webhook_events", hooks, "outbox_events", frames, "track_points", points)
		}
		return nil
	}
}

// MarketConfig are the marketplace's settings from the process configuration.
func MarketConfig(c config.Config) market.Config {
	return market.Config{QuoteTTL: c.QuoteTTL(), OfferTTL: c.OfferTTL(), QuoteMaxLifetime: c.QuoteMaxLifetime(),
		RequireVerifiedVehicle: c.RequireVerifiedVehicle, AutoAcceptDelay: c.AutoAcceptDelay()}
}

// NewMarket builds a process's marketplace service: its changes write their
// frames to outbox (nil: none, for a process that publishes nothing).
func NewMarket(cfg config.Config, log *slog.Logger, st *store.Store, outbox *realtime.Outbox) *market.Service {
	return market.New(st, outbox, MarketConfig(cfg), log)
}

// ExpirySweep is the worker's expiry sweep: the marketplace's, its events
// written to st's outbox and published to broker.
func ExpirySweep(cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker) func(context.Context) error {
	outbox := broker.Outbox(st, log)
	return Sweep(NewMarket(cfg, log, st, outbox), log)
}

// AutoAcceptJob is the worker's automatic accept of the lowest offer: the
// marketplace's, its events written to st's outbox and published to broker.
func AutoAcceptJob(cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker) func(context.Context) error {
	outbox := broker.Outbox(st, log)
	mkt := NewMarket(cfg, log, st, outbox)
	mkt.Tracking = broker.Tracker(cfg, st, log)
	mkt.Nearby = NearbyCounter(cfg, log, st, broker) // the client's quote_updated frames
	return AutoAccept(mkt)
}

// AutoAccept adapts the market's due automatic accepts for the runner.
func AutoAccept(mkt *market.Service) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := mkt.AutoAcceptDue(ctx)
		return err
	}
}

// Sweep adapts the market's expiry sweep for the periodic runner.
func Sweep(mkt *market.Service, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		quotes, offers, err := mkt.Expire(ctx)
		if quotes+offers > 0 {
			log.Info("sweeper removed expired quotes and offers", "quotes", quotes, "offers", offers)
		}
		return err
	}
}
