// Package metrics holds the Prometheus collectors both binaries expose at /metrics.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	// HTTPRequests counts HTTP requests by route pattern, method and status.
	HTTPRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "hermez_http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "status"})
	// HTTPDuration observes HTTP latency by route and method.
	HTTPDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hermez_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route", "method"})
	// PublishFailures counts realtime events that could not be published right after commit
	// (the outbox relay retries them).
	PublishFailures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_event_publish_failures_total", Help: "Realtime events whose publish after commit failed.",
	})
	// EventsPublished counts realtime frames handed to the broker.
	EventsPublished = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_events_published_total", Help: "Realtime frames published to the broker.",
	})
	// OutboxRelayed counts frames the relay republished.
	OutboxRelayed = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_outbox_relayed_total", Help: "Realtime frames republished by the outbox relay.",
	})
	// OutboxSuperseded counts unpublished outbox rows the relay skipped because a
	// newer frame of the same resource to the same group was already published.
	OutboxSuperseded = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_outbox_superseded_total", Help: "Unpublished outbox frames skipped by the relay: a newer frame of their resource was already published.",
	})
	// FramesStale counts frames a worker did not deliver because a newer
	// version of their resource had already been delivered (or snapshotted).
	FramesStale = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_ws_stale_frames_dropped_total", Help: "Frames not delivered: older than a version of their resource already delivered to the group or read in a snapshot.",
	})
	// LocationUpdates counts location updates by source (http, socket) and
	// outcome: kept, too_soon (the once-a-second rule; a socket's are dropped),
	// not_newer, invalid, error (the store was unavailable).
	LocationUpdates = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "hermez_location_updates_total", Help: "Location updates by source (http, socket) and outcome (kept, too_soon, not_newer, invalid, error).",
	}, []string{"source", "outcome"})
	// TrackUpdates counts the tracked drivers' kept locations (place.md §6) by
	// outcome: published (driver_location frames sent), sampled (a trail point
	// queued), error (Redis away).
	TrackUpdates = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "hermez_track_updates_total", Help: "Live tracking of kept locations by outcome (published, sampled, error).",
	}, []string{"outcome"})
	// TrackPointsWritten counts trail points inserted in PostgreSQL.
	TrackPointsWritten = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_track_points_written_total", Help: "Trail points written to PostgreSQL (sampled, batched).",
	})
	// SocketsMoved counts new_quotes sockets whose area moved (place.md §4).
	SocketsMoved = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_ws_placed_moves_total", Help: "new_quotes sockets whose area moved (unplaced to placed, more than 1 km, or back to unplaced): each got a fresh initial_quotes.",
	})
	// SocketsOpen is the number of open WebSockets.
	SocketsOpen = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "hermez_ws_connections", Help: "Open WebSocket connections.",
	})
	// SocketMessagesSent counts frames written to sockets.
	// FanoutSeconds is, per event, the time from the worker receiving it to
	// the last of its writes to the sockets that were idle (the fan-out).
	FanoutSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "hermez_ws_fanout_seconds", Help: "Per event: from the worker receiving it to its last write to the sockets that had nothing queued.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	SocketMessagesSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_ws_messages_sent_total", Help: "Frames written to WebSockets.",
	})
	// SocketMessagesDropped counts frames not delivered because a socket's queue was full.
	SocketMessagesDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_ws_messages_dropped_total", Help: "Frames dropped because a socket's send queue was full.",
	})
	// SocketsClosedSlow counts sockets closed because their queue overflowed.
	SocketsClosedSlow = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_ws_slow_closed_total", Help: "Sockets closed because their send queue overflowed.",
	})
	// SocketsClosed counts close frames the server sent, by close code.
	SocketsClosed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "hermez_ws_closed_total", Help: "WebSocket close frames sent by the server, by close code.",
	}, []string{"code"})
	// SocketGroups is the number of groups with a local socket (broker subscriptions).
	SocketGroups = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "hermez_ws_groups", Help: "Groups with at least one local WebSocket (broker subscriptions).",
	})
	// RelayRuns counts outbox relay passes by outcome.
	RelayRuns = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "hermez_outbox_relay_runs_total", Help: "Outbox relay passes by outcome.",
	}, []string{"outcome"})
	// BrokerDropped counts broker messages lost before reaching the hub.
	BrokerDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_broker_messages_dropped_total", Help: "Broker messages lost before reaching the hub.",
	})
	// BrokerReconnects counts broker subscription resets (reconnects).
	BrokerReconnects = promauto.NewCounter(prometheus.CounterOpts{
		Name: "hermez_broker_reconnects_total", Help: "Times the broker subscription was reset.",
	})
	// SweeperRuns counts expiry sweeps by outcome.
	SweeperRuns = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "hermez_sweeper_runs_total", Help: "Expiry sweeps by outcome.",
	}, []string{"outcome"})
)

// Handler serves the default registry.
func Handler() http.Handler { return promhttp.Handler() }
