package realtime

import (
	"context"
	"sync"
)

// Memory is the in-process broker of single-process mode: Publish hands frames
// to the subscriber of the same process, in order. Frames of groups that are
// not subscribed are dropped, as Redis pub/sub would.
type Memory struct {
	mu     sync.Mutex
	groups map[string]int
	queue  chan Message
	closed chan struct{}
	once   sync.Once
}

// NewMemory makes an in-process broker with a generous queue.
func NewMemory() *Memory {
	return &Memory{groups: map[string]int{}, queue: make(chan Message, 65536), closed: make(chan struct{})}
}

// Publish implements Publisher.
func (m *Memory) Publish(ctx context.Context, msgs ...Message) error {
	for _, msg := range msgs {
		m.mu.Lock()
		subscribed := m.groups[msg.Group] > 0 || msg.Group == GroupControl
		m.mu.Unlock()
		if !subscribed {
			continue
		}
		select {
		case m.queue <- msg:
		case <-m.closed:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Subscribe implements Subscriber.
func (m *Memory) Subscribe(_ context.Context, groups ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range groups {
		m.groups[g]++
	}
	return nil
}

// Unsubscribe implements Subscriber.
func (m *Memory) Unsubscribe(_ context.Context, groups ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range groups {
		if m.groups[g] > 1 {
			m.groups[g]--
		} else {
			delete(m.groups, g)
		}
	}
	return nil
}

// Run implements Subscriber.
func (m *Memory) Run(ctx context.Context, handle func(Message), _ func([]string)) error {
	for {
		select {
		case msg := <-m.queue:
			handle(msg)
		case <-ctx.Done():
			return ctx.Err()
		case <-m.closed:
			return nil
		}
	}
}

// Ping implements Subscriber: always ready.
func (m *Memory) Ping(context.Context) error { return nil }

// Close stops Run.
func (m *Memory) Close() error {
	m.once.Do(func() { close(m.closed) })
	return nil
}
