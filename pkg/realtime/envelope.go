package realtime

import (
	"bytes"
	"fmt"
	"strconv"
)

// The broker envelope: what a broker puts on the wire for one Message, so the
// order fields (Resource, Version, Final) travel with the frame without
// touching the frame text the browsers receive. Every broker that crosses a
// process boundary encodes with EncodeEnvelope and decodes with DecodeEnvelope.
//
// Format: a frame outside the order rule (no Resource) is its payload alone,
// as before the envelope existed (payloads are JSON objects or, for control
// frames, JSON too, so they never start with the marker). A frame with a
// Resource is
//
//	0x1E <version> ' ' <final: 0|1>['@' <lat> ',' <lng> [',+']] ' ' <resource> '\n' <payload>
//
// the optional part after '@' being the pickup mark of a new_quotes frame
// (Message.Pickup; ",+" when Added). 0x1E (ASCII record separator) cannot
// start a JSON text.
const envelopeMarker = 0x1E

// EncodeEnvelope renders m for the broker.
func EncodeEnvelope(m Message) []byte {
	if m.Resource == "" {
		return m.Payload
	}
	b := make([]byte, 0, len(m.Payload)+len(m.Resource)+24)
	b = append(b, envelopeMarker)
	b = strconv.AppendInt(b, m.Version, 10)
	if m.Final {
		b = append(b, " 1"...)
	} else {
		b = append(b, " 0"...)
	}
	if p := m.Pickup; p != nil {
		b = append(b, '@')
		b = strconv.AppendFloat(b, p.Lat, 'f', -1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, p.Lng, 'f', -1, 64)
		if p.Added {
			b = append(b, ",+"...)
		}
	}
	b = append(b, ' ')
	b = append(b, m.Resource...)
	b = append(b, '\n')
	return append(b, m.Payload...)
}

// DecodeEnvelope reads what EncodeEnvelope wrote for a frame received on group's channel.
func DecodeEnvelope(group string, data []byte) (Message, error) {
	if len(data) == 0 || data[0] != envelopeMarker {
		return Message{Group: group, Payload: data}, nil
	}
	head, payload, ok := bytes.Cut(data[1:], []byte{'\n'})
	if !ok {
		return Message{}, fmt.Errorf("broker envelope on %s: no end of header", group)
	}
	ver, rest, ok1 := bytes.Cut(head, []byte{' '})
	final, resource, ok2 := bytes.Cut(rest, []byte{' '})
	final, mark, marked := bytes.Cut(final, []byte{'@'})
	if !ok1 || !ok2 || len(resource) == 0 || (string(final) != "0" && string(final) != "1") {
		return Message{}, fmt.Errorf("broker envelope on %s: bad header %q", group, head)
	}
	v, err := strconv.ParseInt(string(ver), 10, 64)
	if err != nil {
		return Message{}, fmt.Errorf("broker envelope on %s: bad version %q", group, ver)
	}
	var pickup *Pickup
	if marked {
		if pickup, err = parsePickup(mark); err != nil {
			return Message{}, fmt.Errorf("broker envelope on %s: bad pickup mark %q", group, head)
		}
	}
	return Message{Group: group, Payload: payload, Resource: string(resource), Version: v, Final: string(final) == "1", Pickup: pickup}, nil
}

// parsePickup reads "<lat>,<lng>[,+]".
func parsePickup(mark []byte) (*Pickup, error) {
	lat, rest, ok := bytes.Cut(mark, []byte{','})
	if !ok {
		return nil, fmt.Errorf("no longitude")
	}
	lng, added, hasAdded := bytes.Cut(rest, []byte{','})
	if hasAdded && string(added) != "+" {
		return nil, fmt.Errorf("bad flag")
	}
	la, err1 := strconv.ParseFloat(string(lat), 64)
	ln, err2 := strconv.ParseFloat(string(lng), 64)
	if err1 != nil || err2 != nil || la < -90 || la > 90 || ln < -180 || ln > 180 {
		return nil, fmt.Errorf("bad coordinates")
	}
	return &Pickup{Lat: la, Lng: ln, Added: hasAdded}, nil
}
