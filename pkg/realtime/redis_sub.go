package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/metrics"
)

// RedisSubscriber receives the frames of the subscribed groups from the Redis
// channels prefix+group, plus GroupControl, always.
//
// go-redis reconnects and resubscribes a PubSub by itself and says nothing;
// Redis pub/sub is at-most-once, so frames published meanwhile are lost.
// Run therefore reads the channel WITH its subscription messages: GroupControl
// is subscribed once and never dropped, so every confirmation of it after the
// first one means the connection was re-established, and onReset is called.
// go-redis also drops a frame when its Go channel stays full for the send
// timeout, logging a line only: the channel is large, Run drains it straight
// into a non-blocking hub, and that log line is counted (BrokerDropped) and
// treated as a reset too.
type RedisSubscriber struct {
	client  *redis.Client
	prefix  string
	log     *slog.Logger
	ps      *redis.PubSub
	size    int
	dropped chan struct{}

	mu        sync.Mutex
	runOnce   bool
	closeOnce sync.Once
}

// DefaultSubscriberBuffer is the size of the Go channel between go-redis and the hub.
const DefaultSubscriberBuffer = 10000

// NewRedisSubscriber prepares a subscriber; nothing connects until Run.
func NewRedisSubscriber(client *redis.Client, prefix string, log *slog.Logger) *RedisSubscriber {
	if log == nil {
		log = slog.Default()
	}
	installRedisLogger()
	s := &RedisSubscriber{client: client, prefix: prefix, log: log, size: DefaultSubscriberBuffer,
		dropped: make(chan struct{}, 1)}
	s.ps = client.Subscribe(context.Background())
	register(s)
	return s
}

// Channel is the Redis channel of a group.
func (s *RedisSubscriber) Channel(group string) string { return s.prefix + group }

func (s *RedisSubscriber) channels(groups []string) []string {
	out := make([]string, len(groups))
	for i, g := range groups {
		out[i] = s.prefix + g
	}
	return out
}

// Subscribe implements Subscriber. When Redis is unreachable the error is
// returned but the subscription is kept: go-redis subscribes it on reconnect
// (and Run then calls onReset).
func (s *RedisSubscriber) Subscribe(ctx context.Context, groups ...string) error {
	if len(groups) == 0 {
		return nil
	}
	if err := s.ps.Subscribe(ctx, s.channels(groups)...); err != nil {
		return fmt.Errorf("redis subscribe %v: %w", groups, err)
	}
	return nil
}

// Unsubscribe implements Subscriber.
func (s *RedisSubscriber) Unsubscribe(ctx context.Context, groups ...string) error {
	if len(groups) == 0 {
		return nil
	}
	if err := s.ps.Unsubscribe(ctx, s.channels(groups)...); err != nil {
		return fmt.Errorf("redis unsubscribe %v: %w", groups, err)
	}
	return nil
}

// Ping implements Subscriber: Redis answers a PING.
func (s *RedisSubscriber) Ping(ctx context.Context) error {
	return s.client.Ping(ctx).Err()
}

// Run implements Subscriber. It may be called once; it returns when ctx ends
// (closing the PubSub) or the subscriber is closed.
func (s *RedisSubscriber) Run(ctx context.Context, handle func(Message), onReset func([]string)) error {
	s.mu.Lock()
	if s.runOnce {
		s.mu.Unlock()
		return errors.New("redis subscriber: Run called twice")
	}
	s.runOnce = true
	s.mu.Unlock()
	defer s.Close()

	ch := s.ps.ChannelWithSubscriptions(
		redis.WithChannelSize(s.size),
		redis.WithChannelSendTimeout(5*time.Second),
		redis.WithChannelHealthCheckInterval(3*time.Second),
	)
	control := s.Channel(GroupControl)
	// A failed first subscribe is retried by go-redis on reconnect; its first
	// confirmation then follows an outage and is a reset too.
	pendingReset := false
	if err := s.ps.Subscribe(ctx, control); err != nil {
		s.log.Warn("redis subscription not confirmed yet; go-redis retries", "err", err)
		pendingReset = true
	}
	confirmed := 0
	reset := func(why string) {
		metrics.BrokerReconnects.Inc()
		s.log.Warn("redis subscription reset: frames may have been lost", "why", why)
		if onReset != nil {
			onReset(nil) // one connection carried every group
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.dropped:
			reset("go-redis dropped a frame")
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			switch m := m.(type) {
			case *redis.Message:
				group, ok := strings.CutPrefix(m.Channel, s.prefix)
				if !ok {
					continue
				}
				msg, err := DecodeEnvelope(group, []byte(m.Payload))
				if err != nil {
					s.log.Error("dropped a malformed broker frame", "err", err)
					continue
				}
				handle(msg)
			case *redis.Subscription:
				if m.Kind != "subscribe" || m.Channel != control {
					continue
				}
				confirmed++
				if confirmed > 1 || pendingReset {
					pendingReset = false
					reset("resubscribed after a lost connection")
				} else {
					s.log.Info("redis subscription ready", "prefix", s.prefix)
				}
			}
		}
	}
}

// Close ends the subscription (Run returns).
func (s *RedisSubscriber) Close() error {
	var err error
	s.closeOnce.Do(func() {
		unregister(s)
		err = s.ps.Close()
	})
	return err
}

// go-redis reports a frame it dropped only through its global logger: count
// those lines and tell every live subscriber that it missed a frame.
var (
	loggerOnce  sync.Once
	subsMu      sync.Mutex
	subscribers = map[*RedisSubscriber]struct{}{}
)

func register(s *RedisSubscriber) {
	subsMu.Lock()
	subscribers[s] = struct{}{}
	subsMu.Unlock()
}

func unregister(s *RedisSubscriber) {
	subsMu.Lock()
	delete(subscribers, s)
	subsMu.Unlock()
}

type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "message is dropped") {
		metrics.BrokerDropped.Inc()
		subsMu.Lock()
		for s := range subscribers {
			select {
			case s.dropped <- struct{}{}:
			default:
			}
		}
		subsMu.Unlock()
		slog.Error("redis pubsub dropped a frame", "detail", msg)
		return
	}
	slog.Debug("go-redis", "msg", msg)
}

func installRedisLogger() {
	loggerOnce.Do(func() { redis.SetLogger(redisLogger{}) })
}
