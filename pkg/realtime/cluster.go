package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/metrics"
)

// OpenRedisCluster parses a go-redis cluster URL
// (redis://[user:pass@]host1:port?addr=host2:port&addr=host3:port) and checks
// nothing yet (the first command connects).
func OpenRedisCluster(url string) (*redis.ClusterClient, error) {
	opts, err := redis.ParseClusterURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse REDIS_CLUSTER_URL: %w", err)
	}
	return redis.NewClusterClient(opts), nil
}

// PingRedis is the readiness of a Redis: one Redis answers PING; a cluster is
// ready while at least one master answers (the process still serves most of
// its work when one master is down, and every replica of this process shares
// the same cluster, so taking them out of the balancer would only turn a
// partial outage into a full one). Masters that do not answer are logged.
func PingRedis(ctx context.Context, c redis.UniversalClient) error {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Ping(ctx).Err()
	}
	var total, failed atomic.Int32
	var mu sync.Mutex
	var down []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		total.Add(1)
		if err := node.Ping(ctx).Err(); err != nil {
			failed.Add(1)
			mu.Lock()
			down = append(down, node.Options().Addr)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis cluster: %w", err)
	}
	switch f := failed.Load(); {
	case total.Load() == 0:
		return errors.New("redis cluster: no master known")
	case f == total.Load():
		return fmt.Errorf("redis cluster: no master answers (%s)", strings.Join(down, ", "))
	case f > 0:
		slog.Warn("redis cluster: some masters do not answer", "down", down, "masters", total.Load())
	}
	return nil
}

// ClusterPublisher publishes each frame with SPUBLISH on the shard channel
// prefix+group of a Redis Cluster (Redis ≥ 7). Frames of one Publish call go
// through one pipeline: go-redis splits it per master and keeps the order of
// the frames sent to each master, so the frames of one group (one channel,
// one slot, one master) keep their order. Each frame goes in the broker
// envelope (EncodeEnvelope), as on one Redis.
type ClusterPublisher struct {
	Client *redis.ClusterClient
	Prefix string
}

// Channel is the shard channel of a group.
func (p *ClusterPublisher) Channel(group string) string { return p.Prefix + group }

// Publish implements Publisher.
func (p *ClusterPublisher) Publish(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if len(msgs) == 1 {
		if err := p.Client.SPublish(ctx, p.Channel(msgs[0].Group), EncodeEnvelope(msgs[0])).Err(); err != nil {
			return fmt.Errorf("redis spublish %s: %w", msgs[0].Group, err)
		}
		return nil
	}
	_, err := p.Client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, m := range msgs {
			pipe.SPublish(ctx, p.Channel(m.Group), EncodeEnvelope(m))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis spublish %d frames: %w", len(msgs), err)
	}
	return nil
}

// ClusterSubscriber receives the frames of the subscribed groups from the
// shard channels prefix+group of a Redis Cluster, plus GroupControl, always.
//
// Group channels carry no shared hash tag, so they spread over the slots and
// the masters. Redis refuses an SSUBSCRIBE whose channels span slots, and a
// go-redis PubSub resubscribes all its channels in one command after a
// reconnect, so the subscriptions are planned here instead of by go-redis:
//
//   - one connection (a go-redis PubSub on that node's client) per master
//     that owns the slot of at least one wanted channel, and one SSUBSCRIBE
//     per slot on it;
//   - a connection that breaks, stops answering pings, or gets an error
//     reply is closed as a whole (go-redis's own resubscription on it is
//     never relied on) and its channels are planned again from the cluster's
//     current slot map, retried every RetryInterval until a master takes them;
//   - a MOVED reply or a server-side sunsubscribe (the slot moved to another
//     master) plans those channels again;
//   - a channel whose subscription was lost (or whose first attempt failed) is
//     reported to onReset when it is confirmed again, with the groups of the
//     other masters untouched. Frames published meanwhile are lost (pub/sub
//     is at-most-once), which is why its sockets must resync.
type ClusterSubscriber struct {
	client *redis.ClusterClient
	prefix string
	log    *slog.Logger
	// RetryInterval is how often unplaced channels are tried again (1 s).
	RetryInterval time.Duration
	// PingInterval: a connection silent this long is pinged, and dropped when
	// the next interval passes without any answer (3 s).
	PingInterval time.Duration

	out   chan clusterItem
	kick  chan struct{}
	done  chan struct{}
	loops sync.WaitGroup // the planner and the connection readers (Run waits for them)

	mu      sync.Mutex
	want    map[string]*shardChannel // channel → state
	nodes   map[string]*shardConn    // master address → its connection
	runOnce bool
	closed  bool
}

type shardChannel struct {
	group     string
	node      string // address of the master it is subscribed on; "" = not placed
	confirmed bool
	lost      bool // frames may have been lost: report on the next confirmation
}

type clusterItem struct {
	msg   Message
	reset []string
}

// shardConn is one subscription connection to one master.
type shardConn struct {
	addr   string
	ps     *redis.PubSub
	unsubs map[string]int // our own SUNSUBSCRIBEs not yet confirmed
	once   sync.Once
	live   atomic.Bool // a subscription was confirmed on it (it worked once)
}

// NewClusterSubscriber prepares a subscriber; nothing connects until Run.
func NewClusterSubscriber(client *redis.ClusterClient, prefix string, log *slog.Logger) *ClusterSubscriber {
	if log == nil {
		log = slog.Default()
	}
	installRedisLogger() // go-redis's own lines (dial retries while a master is down) go to slog
	return &ClusterSubscriber{client: client, prefix: prefix, log: log,
		RetryInterval: time.Second, PingInterval: 3 * time.Second,
		out: make(chan clusterItem, DefaultSubscriberBuffer), kick: make(chan struct{}, 1), done: make(chan struct{}),
		want: map[string]*shardChannel{}, nodes: map[string]*shardConn{}}
}

// Channel is the shard channel of a group.
func (s *ClusterSubscriber) Channel(group string) string { return s.prefix + group }

// Subscribe implements Subscriber. A channel that cannot be subscribed now
// (its master is down) stays wanted: it is retried, and its group reset once
// it is subscribed.
func (s *ClusterSubscriber) Subscribe(ctx context.Context, groups ...string) error {
	var chans []string
	s.mu.Lock()
	for _, g := range groups {
		ch := s.Channel(g)
		if _, ok := s.want[ch]; !ok {
			s.want[ch] = &shardChannel{group: g}
			chans = append(chans, ch)
		}
	}
	s.mu.Unlock()
	return s.place(ctx, chans)
}

// Unsubscribe implements Subscriber.
func (s *ClusterSubscriber) Unsubscribe(ctx context.Context, groups ...string) error {
	byNode := map[*shardConn][]string{}
	s.mu.Lock()
	for _, g := range groups {
		ch := s.Channel(g)
		st, ok := s.want[ch]
		if !ok || g == GroupControl {
			continue
		}
		delete(s.want, ch)
		if n := s.nodes[st.node]; n != nil {
			n.unsubs[ch]++
			byNode[n] = append(byNode[n], ch)
		}
	}
	s.mu.Unlock()
	var errs []error
	for n, chans := range byNode {
		for _, batch := range bySlot(chans) {
			if err := n.ps.SUnsubscribe(ctx, batch...); err != nil {
				errs = append(errs, fmt.Errorf("redis sunsubscribe on %s: %w", n.addr, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Ping implements Subscriber (readiness, see PingRedis).
func (s *ClusterSubscriber) Ping(ctx context.Context) error { return PingRedis(ctx, s.client) }

// Run implements Subscriber. It may be called once; it returns when ctx ends
// or the subscriber is closed.
func (s *ClusterSubscriber) Run(ctx context.Context, handle func(Message), onReset func([]string)) error {
	s.mu.Lock()
	if s.runOnce {
		s.mu.Unlock()
		return errors.New("redis cluster subscriber: Run called twice")
	}
	s.runOnce = true
	s.mu.Unlock()
	defer s.loops.Wait() // the planner and the connection readers, after Close
	defer s.Close()

	if err := s.Subscribe(ctx, GroupControl); err != nil {
		s.log.Warn("redis cluster: control channel not subscribed yet; retrying", "err", err)
	}
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		s.planner(ctx)
	}()
	s.log.Info("redis cluster subscriber running", "prefix", s.prefix)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return nil
		case it := <-s.out:
			if it.reset != nil {
				metrics.BrokerReconnects.Inc()
				s.log.Warn("redis cluster: subscriptions restored after a loss; frames may have been lost",
					"groups", len(it.reset))
				if onReset != nil {
					onReset(it.reset)
				}
				continue
			}
			handle(it.msg)
		}
	}
}

// Close ends every subscription connection (Run returns).
func (s *ClusterSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	nodes := s.nodes
	s.nodes = map[string]*shardConn{}
	close(s.done)
	s.mu.Unlock()
	for _, n := range nodes {
		n.close()
	}
	return nil
}

// Placed reports, for tests and logs, the master address each wanted group
// is subscribed on ("" while not placed) and whether it is confirmed.
func (s *ClusterSubscriber) Placed(group string) (addr string, confirmed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.want[s.Channel(group)]; st != nil {
		return st.node, st.confirmed
	}
	return "", false
}

// place subscribes chans (wanted, not placed) on their masters, one
// SSUBSCRIBE per slot. A master that cannot be reached is dropped as a whole.
func (s *ClusterSubscriber) place(ctx context.Context, chans []string) error {
	if len(chans) == 0 {
		return nil
	}
	type target struct {
		client *redis.Client
		chans  []string
	}
	targets := map[string]*target{}
	var errs []error
	for _, ch := range chans {
		c, err := s.client.MasterForKey(ctx, ch)
		if err != nil {
			errs = append(errs, fmt.Errorf("master of %s: %w", ch, err))
			continue
		}
		addr := c.Options().Addr
		if targets[addr] == nil {
			targets[addr] = &target{client: c}
		}
		targets[addr].chans = append(targets[addr].chans, ch)
	}
	for addr, tg := range targets {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil
		}
		n := s.nodes[addr]
		if n == nil {
			n = &shardConn{addr: addr, ps: tg.client.SSubscribe(context.Background()), unsubs: map[string]int{}}
			s.nodes[addr] = n
			s.loops.Add(1)
			go func() {
				defer s.loops.Done()
				s.read(n)
			}()
		}
		var mine []string
		for _, ch := range tg.chans {
			if st := s.want[ch]; st != nil && st.node == "" {
				st.node = addr
				mine = append(mine, ch)
			}
		}
		s.mu.Unlock()
		for _, batch := range bySlot(mine) {
			if err := n.ps.SSubscribe(ctx, batch...); err != nil {
				err = fmt.Errorf("redis ssubscribe on %s: %w", addr, err)
				s.fail(n, err)
				errs = append(errs, err)
				break
			}
		}
	}
	if len(errs) > 0 {
		s.wake()
	}
	return errors.Join(errs...)
}

// planner places the channels left unplaced (their master failed, or a slot
// moved) every RetryInterval, or at once when woken.
func (s *ClusterSubscriber) planner(ctx context.Context) {
	t := time.NewTicker(s.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		case <-s.kick:
			// Let a burst of failures (a whole master) gather first.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		}
		s.mu.Lock()
		var chans []string
		for ch, st := range s.want {
			if st.node == "" {
				chans = append(chans, ch)
			}
		}
		s.mu.Unlock()
		if len(chans) == 0 {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.place(pctx, chans); err != nil {
			s.log.Debug("redis cluster: channels still unplaced", "channels", len(chans), "err", err)
		}
		cancel()
	}
}

func (s *ClusterSubscriber) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// fail drops the connection n: its channels are marked lost and planned
// again from a fresh slot map.
func (s *ClusterSubscriber) fail(n *shardConn, why error) {
	s.mu.Lock()
	if s.nodes[n.addr] != n {
		s.mu.Unlock()
		n.close()
		return
	}
	delete(s.nodes, n.addr)
	groups := 0
	for _, st := range s.want {
		if st.node == n.addr {
			st.node, st.confirmed, st.lost = "", false, true
			groups++
		}
	}
	closed := s.closed
	s.mu.Unlock()
	n.close()
	if closed {
		return
	}
	if n.live.Load() {
		s.log.Warn("redis cluster: lost the subscriptions on a master; resubscribing, its groups will be reset",
			"node", n.addr, "groups", groups, "err", why)
	} else {
		// Retrying a master that is still down: once per RetryInterval, quietly.
		s.log.Debug("redis cluster: master not reachable yet", "node", n.addr, "groups", groups, "err", why)
	}
	s.client.ReloadState(context.Background())
	s.wake()
}

// replan drops the channels of the slot (or the channels) from n and plans
// them again: the slot moved to another master.
func (s *ClusterSubscriber) replan(n *shardConn, match func(ch string) bool, why string) {
	var chans []string
	s.mu.Lock()
	for ch, st := range s.want {
		if st.node == n.addr && match(ch) {
			st.node, st.confirmed, st.lost = "", false, true
			chans = append(chans, ch)
		}
	}
	s.mu.Unlock()
	if len(chans) == 0 {
		return
	}
	for _, batch := range bySlot(chans) {
		_ = n.ps.SUnsubscribe(context.Background(), batch...) // forget them on this connection
	}
	s.log.Warn("redis cluster: a slot moved; resubscribing its channels", "node", n.addr, "channels", len(chans), "why", why)
	s.client.ReloadState(context.Background())
	s.wake()
}

// read receives from one master until its connection fails or is closed.
func (s *ClusterSubscriber) read(n *shardConn) {
	ctx := context.Background()
	var pending []string // groups confirmed again after a loss, reported in one batch
	flush := func() {
		if len(pending) > 0 {
			s.emit(clusterItem{reset: pending})
			pending = nil
		}
	}
	pinged := false
	for {
		timeout := s.PingInterval
		if len(pending) > 0 {
			timeout = 20 * time.Millisecond
		}
		m, err := n.ps.ReceiveTimeout(ctx, timeout)
		if s.isClosed(n) {
			return
		}
		if err != nil {
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				if len(pending) > 0 {
					flush()
					continue
				}
				if pinged {
					s.fail(n, errors.New("no answer to ping"))
					return
				}
				pinged = true
				_ = n.ps.Ping(ctx)
				continue
			}
			flush()
			var rerr redis.Error
			if errors.As(err, &rerr) {
				if slot, ok := movedSlot(err.Error()); ok {
					s.replan(n, func(ch string) bool { return Slot(ch) == slot }, err.Error())
					continue
				}
			}
			s.fail(n, err)
			return
		}
		pinged = false
		switch m := m.(type) {
		case *redis.Message:
			flush()
			group, ok := strings.CutPrefix(m.Channel, s.prefix)
			if !ok {
				continue
			}
			msg, err := DecodeEnvelope(group, []byte(m.Payload))
			if err != nil {
				s.log.Error("dropped a malformed broker frame", "err", err)
				continue
			}
			s.emit(clusterItem{msg: msg})
		case *redis.Subscription:
			switch m.Kind {
			case "ssubscribe":
				n.live.Store(true)
				if g, reset := s.confirm(n, m.Channel); reset {
					pending = append(pending, g)
					if len(pending) >= 1000 {
						flush()
					}
				}
			case "sunsubscribe":
				flush()
				if s.ownUnsubscribe(n, m.Channel) {
					continue
				}
				// The server dropped it: its slot moved to another master.
				ch := m.Channel
				s.replan(n, func(c string) bool { return c == ch }, "server-side sunsubscribe")
			}
		}
	}
}

func (s *ClusterSubscriber) emit(it clusterItem) {
	select {
	case s.out <- it:
	case <-s.done:
	}
}

func (s *ClusterSubscriber) isClosed(n *shardConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.nodes[n.addr] != n
}

// confirm records the confirmation of ch on n; reset tells whether its group
// had lost its subscription before (its sockets must resync).
func (s *ClusterSubscriber) confirm(n *shardConn, ch string) (group string, reset bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.want[ch]
	if st == nil || st.node != n.addr {
		return "", false
	}
	st.confirmed = true
	if st.lost {
		st.lost = false
		s.log.Info("redis cluster: channel subscribed again", "node", n.addr, "group", st.group)
		return st.group, true
	}
	return st.group, false
}

func (s *ClusterSubscriber) ownUnsubscribe(n *shardConn, ch string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n.unsubs[ch] > 0 {
		n.unsubs[ch]--
		if n.unsubs[ch] == 0 {
			delete(n.unsubs, ch)
		}
		return true
	}
	st := s.want[ch]
	return st == nil || st.node != n.addr // not (or no longer) ours on this node
}

func (n *shardConn) close() {
	n.once.Do(func() { _ = n.ps.Close() })
}

// movedSlot reads the slot of a "MOVED <slot> <addr>" error.
func movedSlot(msg string) (int, bool) {
	f := strings.Fields(msg)
	if len(f) < 3 || f[0] != "MOVED" {
		return 0, false
	}
	slot, err := strconv.Atoi(f[1])
	return slot, err == nil
}

// bySlot splits channels into one batch per hash slot (an SSUBSCRIBE or
// SUNSUBSCRIBE must not span slots).
func bySlot(chans []string) [][]string {
	if len(chans) <= 1 {
		if len(chans) == 0 {
			return nil
		}
		return [][]string{chans}
	}
	idx := map[int]int{}
	var out [][]string
	for _, ch := range chans {
		sl := Slot(ch)
		i, ok := idx[sl]
		if !ok {
			i = len(out)
			idx[sl] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], ch)
	}
	return out
}

// Slot is the Redis Cluster hash slot of a key or channel: CRC16 (XMODEM) of
// the key, or of its hash tag (the part between the first "{" and the next
// "}", when not empty), modulo 16384.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % 16384)
}

func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
