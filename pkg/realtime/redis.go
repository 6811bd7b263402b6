package realtime

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RedisPublisher publishes each frame on the Redis channel prefix+group.
// Frames of one Publish call go through one pipeline, so their order holds.
// Each goes in the broker envelope (EncodeEnvelope).
type RedisPublisher struct {
	Client *redis.Client
	Prefix string
}

// Channel is the Redis channel of a group.
func (p *RedisPublisher) Channel(group string) string { return p.Prefix + group }

// Publish implements Publisher.
func (p *RedisPublisher) Publish(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if len(msgs) == 1 {
		if err := p.Client.Publish(ctx, p.Channel(msgs[0].Group), EncodeEnvelope(msgs[0])).Err(); err != nil {
			return fmt.Errorf("redis publish %s: %w", msgs[0].Group, err)
		}
		return nil
	}
	_, err := p.Client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, m := range msgs {
			pipe.Publish(ctx, p.Channel(m.Group), EncodeEnvelope(m))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis publish %d frames: %w", len(msgs), err)
	}
	return nil
}

// OpenRedis parses url and checks nothing yet (the first command connects).
func OpenRedis(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse REDIS_URL: %w", err)
	}
	return redis.NewClient(opts), nil
}
