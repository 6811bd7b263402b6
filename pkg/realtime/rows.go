package realtime

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"hermez/pkg/store"
)

// How a change's frames are stored in the outbox. A change with one frame is
// one row with the frame in the row's columns (as every row was before
// migration 00005). A change with several frames (an accept causes 17) is
// still one row: Frames holds them all, a JSON array in publish order, and
// Heads lists what they are about, for the relay's superseded check:
//
//	<resource> <version> <group> <group>…\n
//
// one line per resource and version of the change. One row instead of one
// per frame is what makes the outbox cheap for PostgreSQL: fewer heap tuples,
// index entries and published-mark rewrites, and the frames of a change
// (mostly the same object for several audiences) compress together.

// storedFrame is one frame inside Frames. Payload is kept as raw JSON (every
// frame is a JSON text) so the column reads as JSON and round-trips byte for
// byte; it is always last (encodeFrames).
type storedFrame struct {
	Group    string          `json:"group"`
	Type     string          `json:"type"`
	Resource string          `json:"resource,omitempty"`
	Version  int64           `json:"version,omitempty"`
	Final    bool            `json:"final,omitempty"`
	Pickup   *Pickup         `json:"pickup,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

// outboxRow renders the frames of one change as its outbox row.
func outboxRow(msgs []Message, now time.Time) (store.OutboxEvent, error) {
	if len(msgs) == 1 && msgs[0].Pickup == nil { // a pickup mark has no column: Frames keeps it
		m := msgs[0]
		return store.OutboxEvent{GroupName: m.Group, EventType: m.Type, Payload: string(m.Payload), CreatedAt: now,
			Resource: m.Resource, Version: m.Version, Final: m.Final}, nil
	}
	encoded, err := encodeFrames(msgs)
	if err != nil {
		return store.OutboxEvent{}, err
	}
	return store.OutboxEvent{CreatedAt: now, Frames: &encoded, Heads: heads(msgs)}, nil
}

// encodeFrames renders msgs as the JSON array of storedFrame. The payloads,
// already JSON texts, are copied in as they are: re-encoding them (as
// encoding/json does with a RawMessage, to validate and compact it) cost more
// than rendering them did.
func encodeFrames(msgs []Message) (string, error) {
	size := 2
	for _, m := range msgs {
		size += len(m.Payload) + len(m.Group) + len(m.Type) + len(m.Resource) + 80
	}
	// A Builder: its String is the bytes written, not a copy of them.
	var b strings.Builder
	b.Grow(size)
	b.WriteByte('[')
	for i, m := range msgs {
		if len(m.Payload) == 0 {
			return "", fmt.Errorf("encode frames: frame %d (%s to %s) has no payload", i, m.Type, m.Group)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		if err := appendFrameHead(&b, m); err != nil {
			return "", err
		}
		b.WriteString(`,"payload":`)
		b.Write(m.Payload)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String(), nil
}

// appendFrameHead writes m's storedFrame without its payload and closing
// brace: the bytes json.Marshal writes for it, written directly when every
// string is plain and the pickup's coordinates print as strconv's 'f'
// (encoding/json's form between 1e-6 and 1e21), through json.Marshal otherwise.
func appendFrameHead(b *strings.Builder, m Message) error {
	p := m.Pickup
	if !plainJSONString(m.Group) || !plainJSONString(m.Type) || !plainJSONString(m.Resource) ||
		(p != nil && (!plainFloat(p.Lat) || !plainFloat(p.Lng))) {
		head, err := json.Marshal(storedFrame{Group: m.Group, Type: m.Type, Resource: m.Resource, Version: m.Version, Final: m.Final, Pickup: m.Pickup})
		if err != nil {
			return fmt.Errorf("encode frames: %w", err)
		}
		b.Write(head[:len(head)-1])
		return nil
	}
	var num [32]byte
	b.WriteString(`{"group":"`)
	b.WriteString(m.Group)
	b.WriteString(`","type":"`)
	b.WriteString(m.Type)
	b.WriteByte('"')
	if m.Resource != "" {
		b.WriteString(`,"resource":"`)
		b.WriteString(m.Resource)
		b.WriteByte('"')
	}
	if m.Version != 0 {
		b.WriteString(`,"version":`)
		b.Write(strconv.AppendInt(num[:0], m.Version, 10))
	}
	if m.Final {
		b.WriteString(`,"final":true`)
	}
	if p != nil {
		b.WriteString(`,"pickup":{"lat":`)
		b.Write(strconv.AppendFloat(num[:0], p.Lat, 'f', -1, 64))
		b.WriteString(`,"lng":`)
		b.Write(strconv.AppendFloat(num[:0], p.Lng, 'f', -1, 64))
		if p.Added {
			b.WriteString(`,"added":true`)
		}
		b.WriteByte('}')
	}
	return nil
}

// plainFloat: encoding/json writes f as strconv's 'f' form (finite, zero or
// 1e-6 ≤ |f| < 1e21).
func plainFloat(f float64) bool {
	a := math.Abs(f)
	return a == 0 || (a >= 1e-6 && a < 1e21)
}

// heads renders the Heads column of msgs. The resources and versions are
// found by a scan of the few already seen (a change has a handful), not a
// map, and the lines are written straight into one builder.
func heads(msgs []Message) string {
	var (
		firstsBuf [4]*Message
		firsts    = firstsBuf[:0] // the first frame of each resource and version, in order
		size      int
	)
	same := func(a, b *Message) bool { return a.Resource == b.Resource && a.Version == b.Version }
	for i := range msgs {
		m := &msgs[i]
		if m.Resource == "" {
			continue
		}
		size += len(m.Group) + 1
		if !slices.ContainsFunc(firsts, func(f *Message) bool { return same(f, m) }) {
			firsts = append(firsts, m)
			size += len(m.Resource) + 22
		}
	}
	if len(firsts) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(size)
	var num [20]byte
	for _, f := range firsts {
		b.WriteString(f.Resource)
		b.WriteByte(' ')
		b.Write(strconv.AppendInt(num[:0], f.Version, 10))
		for i := range msgs {
			if same(&msgs[i], f) {
				b.WriteByte(' ')
				b.WriteString(msgs[i].Group)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// RowFrames returns the frames an outbox row holds, in publish order.
func RowFrames(row store.OutboxEvent) ([]Message, error) {
	if row.Frames == nil {
		return []Message{{Group: row.GroupName, Type: row.EventType, Payload: []byte(row.Payload),
			Resource: row.Resource, Version: row.Version, Final: row.Final}}, nil
	}
	var frames []storedFrame
	if err := json.Unmarshal([]byte(*row.Frames), &frames); err != nil {
		return nil, fmt.Errorf("outbox row %d: decode frames: %w", row.ID, err)
	}
	msgs := make([]Message, len(frames))
	for i, f := range frames {
		msgs[i] = Message{Group: f.Group, Type: f.Type, Payload: f.Payload, Resource: f.Resource, Version: f.Version, Final: f.Final, Pickup: f.Pickup}
	}
	return msgs, nil
}

// headKey names a resource's frames to one group.
type headKey struct{ group, resource string }

// noteHeads records in newest the versions a row's frames are about (the
// highest per group and resource): from its columns, or from Heads.
func noteHeads(newest map[headKey]int64, group, resource string, version int64, rowHeads string) {
	note := func(g, r string, v int64) {
		if k := (headKey{g, r}); v > newest[k] {
			newest[k] = v
		}
	}
	if resource != "" {
		note(group, resource, version)
	}
	for line := range strings.Lines(rowHeads) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		for _, g := range f[2:] {
			note(g, f[0], v)
		}
	}
}
