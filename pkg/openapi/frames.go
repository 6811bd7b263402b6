package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// frameSchemas maps a socket frame's type to the schema that describes it.
var frameSchemas = map[string]string{
	"quote_created": "QuoteEvent", "quote_updated": "QuoteEvent", "quote_expired": "QuoteEvent",
	"quote_deleted": "QuoteEvent", "quote_accepted": "QuoteEvent",
	"offer_made": "OfferEvent", "offer_updated": "OfferEvent", "offer_expired": "OfferEvent",
	"offer_deleted": "OfferEvent", "offer_rejected": "OfferEvent", "offer.accepted": "OfferEvent",
	"delivery.created": "DeliveryEvent", "delivery_created": "DeliveryEvent", "delivery_assigned": "DeliveryEvent",
	"delivery.status": "DeliveryEvent", "delivery_status_changed": "DeliveryEvent", "delivery_cancelled": "DeliveryEvent",
	"person_stats": "PersonStatsFrame", "stats_updated": "PersonStatsFrame",
	"initial_quotes":            "InitialQuotes",
	"user_quotes.initial":       "UserQuotesInitial",
	"user_deliveries.initial":   "DeliveriesInitial",
	"driver_deliveries.initial": "DeliveriesInitial",
	"driver_offers.initial":     "DriverOffersInitial",
	"error":                     "ErrorFrame",
	"driver_location":           "DriverLocationFrame",
	"nearby_drivers":            "NearbyDriversFrame",
}

// ValidateFrame checks one WebSocket text frame (an initial message or an
// event) against the schema of its type. An unknown type is an error.
func (v *Validator) ValidateFrame(frame []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(frame, &head); err != nil {
		return fmt.Errorf("openapi: frame is not a JSON object: %w", err)
	}
	name, ok := frameSchemas[head.Type]
	if !ok {
		return fmt.Errorf("openapi: unknown frame type %q", head.Type)
	}
	if err := v.ValidateSchema(name, frame); err != nil {
		return fmt.Errorf("frame %q: %w", head.Type, err)
	}
	return nil
}

// Transport wraps next (nil: http.DefaultTransport) so that every response it
// carries is validated; failures go to report (e.g. t.Errorf), and the body
// is handed on intact.
func (v *Validator) Transport(next http.RoundTripper, report func(error)) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		res, err := next.RoundTrip(req)
		if err != nil {
			return res, err
		}
		body, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(body))
		if rerr != nil {
			return res, rerr
		}
		if res.StatusCode != http.StatusSwitchingProtocols {
			if verr := v.ValidateResponse(nil, req, res.StatusCode, res.Header, body); verr != nil {
				report(verr)
			}
		}
		return res, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
