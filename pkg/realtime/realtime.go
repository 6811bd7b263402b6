package realtime

import (
	"context"
	"encoding/json"
	"fmt"
)

// Group names (docs/realtime.md).
const GroupNewQuotes = "new_quotes"

func GroupQuote(id string) string            { return "quote_" + id }
func GroupDelivery(id string) string         { return "delivery_" + id }
func GroupPersonStats(id string) string      { return "person_stats_" + id }
func GroupUserQuotes(id string) string       { return "user_quotes_" + id }
func GroupUserDeliveries(id string) string   { return "user_deliveries_" + id }
func GroupDriverDeliveries(id string) string { return "driver_deliveries_" + id }
func GroupDriverOffers(id string) string     { return "driver_offers_" + id }

// GroupUserLocation carries announcements of a user's location between
// processes (place.md §4): the workers holding that user's new_quotes sockets
// subscribe to it and move the sockets' areas. Not a socket group: the hub
// reads its frames and never forwards them (pkg/ws placed.go).
func GroupUserLocation(user string) string { return locationGroupPrefix + user }

// UserOfLocationGroup is the user of a GroupUserLocation group ("" when group is not one).
func UserOfLocationGroup(group string) string {
	if len(group) <= len(locationGroupPrefix) || group[:len(locationGroupPrefix)] != locationGroupPrefix {
		return ""
	}
	return group[len(locationGroupPrefix):]
}

const locationGroupPrefix = "_location_"

// GroupControl carries control messages between processes (not a socket group):
// e.g. {"type":"user_deleted","user":"…"} makes every worker close that user's sockets with 4401.
const GroupControl = "_control"

// ControlUserDeleted is the control message type for a deleted user.
const ControlUserDeleted = "user_deleted"

// ControlUserSuspended ({"type","user","reason"}) makes every process forget
// the user's cached row and every worker close their sockets with 4403;
// ControlUserReinstated makes them forget the row (access returns at once).
const (
	ControlUserSuspended  = "user_suspended"
	ControlUserReinstated = "user_reinstated"
)

// Event types (docs/realtime.md "Events").
const (
	QuoteCreated          = "quote_created"
	QuoteUpdated          = "quote_updated"
	QuoteExpired          = "quote_expired"
	QuoteDeleted          = "quote_deleted"
	QuoteAccepted         = "quote_accepted"
	OfferMade             = "offer_made"
	OfferUpdated          = "offer_updated"
	OfferExpired          = "offer_expired"
	OfferDeleted          = "offer_deleted"
	OfferRejected         = "offer_rejected"
	OfferAcceptedDot      = "offer.accepted"
	DeliveryCreatedDot    = "delivery.created"
	DeliveryCreated       = "delivery_created"
	DeliveryAssigned      = "delivery_assigned"
	DeliveryStatusDot     = "delivery.status"
	DeliveryStatusChanged = "delivery_status_changed"
	DeliveryCancelled     = "delivery_cancelled"
	PersonStats           = "person_stats"
	StatsUpdated          = "stats_updated"
	// DriverLocation is live tracking's frame (place.md §6; pkg/track).
	DriverLocation = "driver_location"
	// NearbyDrivers ({"quote_id", "count"}) tells a pending quote's client how
	// many available drivers are around its pickup (place.md §5; pkg/nearby).
	NearbyDrivers = "nearby_drivers"
)

// Message is one rendered frame for one group. Payload is the exact text
// frame the sockets of that group receive.
//
// Resource and Version carry the order rule of docs/realtime.md: Resource names
// what the frame is about ("quote:<id>", see the Resource* functions) and
// Version is that resource's version after the change that caused the frame
// (bumped in the change's transaction under the row lock), so a worker can
// drop a frame older than one it already delivered. Frames of one change of
// a resource share its version. Final marks the frame announcing that the
// resource is gone (deleted): no newer frame of it will follow. They travel
// in the broker envelope (EncodeEnvelope), never inside Payload, which is the
// wire format of docs/realtime.md. Frames with no Resource (control frames) are
// outside the rule.
type Message struct {
	Group    string `json:"group"`
	Type     string `json:"type"`
	Payload  []byte `json:"payload"`
	Resource string `json:"resource,omitempty"`
	Version  int64  `json:"version,omitempty"`
	Final    bool   `json:"final,omitempty"`
	// Pickup marks a quote's frame to new_quotes (place.md §4): the quote's
	// pickup point after the change, so the hub sends it only to the unplaced
	// sockets and to the placed ones near it (or that were sent the quote).
	// Nil: the quote has no pickup coordinates (every socket gets it, as
	// before place existed). It travels in the broker envelope, never in Payload.
	Pickup *Pickup `json:"pickup,omitempty"`
}

// Pickup is the placement mark of a new_quotes frame (Message.Pickup).
type Pickup struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
	// Added: the change gave the quote its pickup (it had none, so every
	// placed socket may be showing it).
	Added bool `json:"added,omitempty"`
}

// Resource keys of the order rule.
func ResourceQuote(id string) string    { return "quote:" + id }
func ResourceOffer(id string) string    { return "offer:" + id }
func ResourceDelivery(id string) string { return "delivery:" + id }
func ResourceStats(userID string) string {
	return "stats:" + userID
}

// NewMessage renders {"type": eventType, "data": data} for group.
func NewMessage(group, eventType string, data any) (Message, error) {
	b, err := json.Marshal(struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}{eventType, data})
	if err != nil {
		return Message{}, fmt.Errorf("render %s for %s: %w", eventType, group, err)
	}
	return Message{Group: group, Type: eventType, Payload: b}, nil
}

// NewMessageData is NewMessage for data already rendered as JSON (a JSON
// text, as json.Marshal returns it): the same bytes, built around data
// instead of encoding it again.
func NewMessageData(group, eventType string, data []byte) (Message, error) {
	if !plainJSONString(eventType) {
		return NewMessage(group, eventType, json.RawMessage(data))
	}
	b := make([]byte, 0, len(eventType)+len(data)+20)
	b = append(b, `{"type":"`...)
	b = append(b, eventType...)
	b = append(b, `","data":`...)
	b = append(b, data...)
	b = append(b, '}')
	return Message{Group: group, Type: eventType, Payload: b}, nil
}

// plainJSONString: s encodes as JSON (HTML-escaped, as encoding/json does)
// between quotes unchanged.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// RawMessage wraps an already rendered frame.
func RawMessage(group, eventType string, payload []byte) Message {
	return Message{Group: group, Type: eventType, Payload: payload}
}

// About returns m describing version of resource (final: the resource is gone).
func (m Message) About(resource string, version int64, final bool) Message {
	m.Resource, m.Version, m.Final = resource, version, final
	return m
}

// Publisher hands frames to the broker, in order.
type Publisher interface {
	Publish(ctx context.Context, msgs ...Message) error
}

// Subscriber delivers the frames of the groups it is subscribed to.
type Subscriber interface {
	// Subscribe and Unsubscribe change the set of groups received.
	Subscribe(ctx context.Context, groups ...string) error
	Unsubscribe(ctx context.Context, groups ...string) error
	// Run delivers every received frame to handle, in order, until ctx ends.
	// onReset is called when frames may have been lost (the connection to the
	// broker dropped and was re-established): the sockets of those groups
	// should be told to resync. groups == nil means every group (one Redis);
	// on a cluster only the groups whose master failed are named, and
	// GroupControl among them means control frames may have been lost.
	Run(ctx context.Context, handle func(Message), onReset func(groups []string)) error
	// Ping reports whether the broker answers (readiness).
	Ping(ctx context.Context) error
}

// Broker is both sides.
type Broker interface {
	Publisher
	Subscriber
	Close() error
}

// Versions are the resource versions a socket's initial snapshot showed
// (resource → version). The hub drops frames older than them for that socket.
type Versions map[string]int64

// Note records that the snapshot showed resource at version (the highest wins;
// a nil Versions records nothing).
func (v Versions) Note(resource string, version int64) {
	if v != nil && version > v[resource] {
		v[resource] = version
	}
}
