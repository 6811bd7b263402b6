// Package realtime names the socket groups and event types, renders event
// frames, and carries them between processes (docs/realtime.md).
//
// It holds three things, kept apart by file so a reader can take one at a
// time:
//
//   - The vocabulary: realtime.go (group names, event types, Message and the
//     resource keys of the order rule, the Publisher/Subscriber interfaces,
//     Versions of a snapshot).
//   - The transports: envelope.go (what a broker puts on the wire for one
//     Message: the order rule's resource and version, the placement mark),
//     memory.go (the in-process broker of single-process mode), redis.go and
//     redis_sub.go (one Redis: PUBLISH / SUBSCRIBE), cluster.go (a Redis
//     Cluster: SPUBLISH / SSUBSCRIBE per shard).
//   - The outbox: outbox.go (frames written in the transaction of the change
//     that caused them, published after commit, relayed after a crash),
//     rows.go (how a change's frames are stored in outbox_events), marks.go
//     (the published marks, written in rounds).
//
// One package and not three: the outbox stores and relays Messages in the
// envelope's terms, and the transports encode the same Message; split into
// packages, each would export what today is an internal detail of the other
// (the stored frame and envelope formats) for a single caller.
package realtime
