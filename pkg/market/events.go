package market

import (
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/location"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/track"
	"hermez/pkg/view"
)

// audience is one group and whom its frames are rendered for: the viewer whose
// email may show and for whom can_accept is computed ("" for many readers).
type audience struct {
	group  string
	viewer view.Viewer
}

// about is the resource a change's frames describe, its version after the
// change, and whether the change removed it (docs/realtime.md "Order"). Versions are
// bumped in the change's transaction while the row is locked (bumpVersion);
// a removal's version is one past the row's last one.
type about struct {
	resource string
	version  int64
	final    bool
}

// bumpVersion is the column update that bumps a resource's version; add it to
// the Updates of every change that publishes frames about the row.
var bumpVersion = gorm.Expr("version + 1")

// frames renders each event type for each audience, types first (docs/realtime.md:
// "events, in order → groups"). Each viewer's data is rendered and encoded
// once (a render may return json.RawMessage: used as it is), and each type's
// frame built once per viewer around those bytes: audiences with the same
// viewer (a quote's own group and its client's) share the frame's bytes.
func frames(types []string, auds []audience, ab about, render func(viewer view.Viewer) any) ([]realtime.Message, error) {
	data := make(map[view.Viewer][]byte, 2)
	out := make([]realtime.Message, 0, len(types)*len(auds))
	for _, t := range types {
		frame := make(map[view.Viewer][]byte, 2)
		for _, a := range auds {
			b, ok := frame[a.viewer]
			if !ok {
				d, ok := data[a.viewer]
				if !ok {
					var err error
					if d, err = renderJSON(render(a.viewer)); err != nil {
						return nil, fmt.Errorf("render %s for %s: %w", t, a.group, err)
					}
					data[a.viewer] = d
				}
				m, err := realtime.NewMessageData(a.group, t, d)
				if err != nil {
					return nil, err
				}
				b = m.Payload
				frame[a.viewer] = b
			}
			out = append(out, realtime.RawMessage(a.group, t, b).About(ab.resource, ab.version, ab.final))
		}
	}
	return out, nil
}

// renderJSON encodes v (a json.RawMessage is already encoded).
func renderJSON(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(v)
}

// Audiences of a quote's events, in the order docs/realtime.md lists them.
func quoteNew() audience { return audience{realtime.GroupNewQuotes, ""} }
func quoteOwn(q *store.Quote) audience {
	return audience{realtime.GroupQuote(q.ID.String()), q.ClientID}
}
func quoteUser(q *store.Quote) audience {
	return audience{realtime.GroupUserQuotes(q.ClientID), q.ClientID}
}

// quoteFrames renders q's frames at q.Version; final: the quote is gone. Its
// frames to new_quotes carry q's pickup mark (realtime.Message.Pickup).
func quoteFrames(q *store.Quote, final bool, types []string, auds ...audience) ([]realtime.Message, error) {
	return quoteFramesWith(q, final, types, func(v view.Viewer) any { return view.NewQuote(q, v) }, auds...)
}

// quoteFramesWith is quoteFrames with q's data rendered for a viewer by render.
func quoteFramesWith(q *store.Quote, final bool, types []string, render func(view.Viewer) any, auds ...audience) ([]realtime.Message, error) {
	ab := about{realtime.ResourceQuote(q.ID.String()), q.Version, final}
	msgs, err := frames(types, auds, ab, render)
	if err != nil || q.PickupLatitude == nil || q.PickupLongitude == nil {
		return msgs, err
	}
	mark := &realtime.Pickup{Lat: *q.PickupLatitude, Lng: *q.PickupLongitude}
	for i := range msgs {
		if msgs[i].Group == realtime.GroupNewQuotes {
			msgs[i].Pickup = mark
		}
	}
	return msgs, nil
}

// quoteRemovedFrames announces a quote that ended (cancelled, deleted, expired,
// the client's profile deleted): quote_expired, quote_deleted to its groups,
// then offer_expired, offer_deleted to each pending offer's driver. The rows
// are gone: their frames carry the version after their last one.
func quoteRemovedFrames(q *store.Quote, offers []store.Offer, now time.Time) ([]realtime.Message, error) {
	q.Version++
	msgs, err := quoteFrames(q, true, []string{realtime.QuoteExpired, realtime.QuoteDeleted}, quoteNew(), quoteOwn(q), quoteUser(q))
	if err != nil {
		return nil, err
	}
	for i := range offers {
		o := &offers[i]
		if o.Status != store.OfferPending {
			continue // rejected offers already got offer_deleted
		}
		o.Quote = q
		o.Version++
		more, err := offerFrames(o, now, []string{realtime.OfferExpired, realtime.OfferDeleted}, offerDriver(o))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

// Audiences of an offer's events: the quote's client sees can_accept as
// computed for them; the driver's group always reads can_accept false.
func offerQuote(o *store.Offer) audience {
	return audience{realtime.GroupQuote(o.QuoteID.String()), o.Quote.ClientID}
}
func offerUser(o *store.Offer) audience {
	return audience{realtime.GroupUserQuotes(o.Quote.ClientID), o.Quote.ClientID}
}
func offerDriver(o *store.Offer) audience {
	return audience{realtime.GroupDriverOffers(o.DeliveryPersonID), o.DeliveryPersonID}
}

func offerFrames(o *store.Offer, now time.Time, types []string, auds ...audience) ([]realtime.Message, error) {
	removed := false
	for _, t := range types {
		removed = removed || t == realtime.OfferExpired || t == realtime.OfferDeleted
	}
	// A removed offer (expired, deleted, rejected: never changed again) is final.
	ab := about{realtime.ResourceOffer(o.ID.String()), o.Version, removed}
	return frames(types, auds, ab, func(v view.Viewer) any {
		out := view.NewOffer(o, v, now)
		if v == o.DeliveryPersonID || removed {
			out.CanAccept = false // driver_offers_ groups never read true, nor does an offer that is gone
		}
		return out
	})
}

// Audiences of a delivery's events.
func deliveryOwn(d *store.Delivery) audience {
	return audience{realtime.GroupDelivery(d.ID.String()), ""}
}
func deliveryClient(d *store.Delivery) audience {
	return audience{realtime.GroupUserDeliveries(d.ClientID), d.ClientID}
}
func deliveryDriver(d *store.Delivery) []audience {
	if d.DeliveryPersonID == nil {
		return nil
	}
	return []audience{{realtime.GroupDriverDeliveries(*d.DeliveryPersonID), *d.DeliveryPersonID}}
}

// deliveryFrames renders d's frames; dl is its driver_location (place.md §6:
// every audience of a delivery's frames is its client or its driver), nil
// when not tracked.
func deliveryFrames(d *store.Delivery, dl *view.DriverLocation, types []string, auds ...audience) ([]realtime.Message, error) {
	ab := about{realtime.ResourceDelivery(d.ID.String()), d.Version, false}
	return frames(types, auds, ab, func(v view.Viewer) any {
		out := view.NewDelivery(d, v)
		out.DriverLocation = dl
		return out
	})
}

// liveLocation is d's driver_location from the driver's location loc (nil
// when none or when d is not tracked).
func liveLocation(d *store.Delivery, loc *location.Location) *view.DriverLocation {
	if loc == nil || !view.Tracked(d.Status) {
		return nil
	}
	return track.Frame(d, *loc)
}

func deliveryAll(d *store.Delivery) []audience {
	return append([]audience{deliveryOwn(d), deliveryClient(d)}, deliveryDriver(d)...)
}

// statsFrame is person_stats/stats_updated: the figures inside data and, like
// the initial message, at the top level too.
type statsFrame struct {
	Type       string            `json:"type"`
	Data       *view.PersonStats `json:"data"`
	Deliveries []*view.Delivery  `json:"deliveries"`
	Total      view.Decimal      `json:"total"`
	Count      int               `json:"count"`
}

// statsFrames renders a driver's stats at version (bumpStats).
func statsFrames(driverID string, st *view.PersonStats, version int64) ([]realtime.Message, error) {
	group := realtime.GroupPersonStats(driverID)
	out := make([]realtime.Message, 0, 2)
	for _, t := range []string{realtime.PersonStats, realtime.StatsUpdated} {
		b, err := json.Marshal(statsFrame{Type: t, Data: st, Deliveries: st.Deliveries, Total: st.Total, Count: st.Count})
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", t, err)
		}
		out = append(out, realtime.RawMessage(group, t, b).About(realtime.ResourceStats(driverID), version, false))
	}
	return out, nil
}
