package ws

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"hermez/pkg/apperr"
	"hermez/pkg/location"
)

// The socket's `location` frame (place.md §3, realtime.md): the same rules as
// POST me/location/. Nothing is answered on success; a bad frame gets
// {"type": "error", "data": {"detail": "<Spanish>"}} and the socket stays
// open; an update within a second of the last kept one is dropped and
// counted (hermez_location_updates_total{source="socket",outcome="too_soon"}),
// as is one the store could not keep while Redis is away (outcome="error").
// Any other JSON frame is ignored, as before.

// errorFrame is the answer to a bad client frame.
type errorFrame struct {
	Type string `json:"type"`
	Data struct {
		Detail string `json:"detail"`
	} `json:"data"`
}

// clientFrame handles one text frame of c's client (its reader goroutine).
func (h *Hub) clientFrame(c *Conn, msg []byte) {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(msg, &head) != nil || head.Type != "location" {
		return
	}
	now := h.Locations.Now()
	loc, err := location.ParseJSON(msg, now, h.Locations.TTL())
	if err != nil {
		location.Count("socket", location.Result{}, true, nil)
		c.sendError(detailOf(err))
		return
	}
	if !c.lastLoc.IsZero() && now.Sub(c.lastLoc) < location.MinInterval {
		// This socket's own last update was kept less than a second ago: the
		// store would refuse it too; no round trip for it.
		location.Count("socket", location.Result{Outcome: location.TooSoon}, false, nil)
		return
	}
	loc.Available = c.availHint
	ctx, cancel := context.WithTimeout(h.life, 2*time.Second)
	defer cancel()
	r, err := h.Locations.Set(ctx, c.user, loc)
	location.Count("socket", r, false, err)
	switch {
	case err != nil:
		h.logLocationFailure(err)
	case r.Outcome == location.Kept:
		c.lastLoc = now
	}
}

var lastLocationFailure atomic.Int64

// logLocationFailure logs a store failure at most once a second per process.
func (h *Hub) logLocationFailure(err error) {
	now := time.Now().Unix()
	if last := lastLocationFailure.Load(); last == now || !lastLocationFailure.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn("location frames dropped: the location store is unavailable", "err", err)
}

// detailOf renders a validation error as one Spanish sentence per field.
func detailOf(err error) string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return apperr.MsgInvalidValue
	}
	if len(ae.Fields) == 0 {
		return ae.Message
	}
	keys := make([]string, 0, len(ae.Fields))
	for k := range ae.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(ae.Fields[k], " "))
	}
	return strings.Join(parts, " ")
}

// sendError queues an error frame to this socket only.
func (c *Conn) sendError(detail string) {
	f := errorFrame{Type: "error"}
	f.Data.Detail = detail
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	c.push(frame{text: b})
}
