package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
)

// registerTypes teaches a connection's pgx type map to send the models'
// uuid.UUID and decimal.Decimal parameters directly: 16 bytes for a uuid,
// the coefficient and exponent for a numeric. Without it pgx takes them as
// driver.Valuer: it renders each as a string (Value) and parses that string
// back into the parameter's binary form — 18 % of web's allocations under
// POST quote (issue 23). The values sent are the same; parameters of other
// types, and these types sent where PostgreSQL did not say the parameter is
// a uuid or a numeric (the pooler's exec mode), take pgx's usual path.
func registerTypes(_ context.Context, c *pgx.Conn) error {
	m := c.TypeMap()
	m.RegisterType(&pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}})
	m.RegisterType(&pgtype.Type{Name: "numeric", OID: pgtype.NumericOID, Codec: numericCodec{}})
	return nil
}

// uuidCodec is pgx's UUIDCodec that also encodes uuid.UUID (and *uuid.UUID).
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	switch value.(type) {
	case uuid.UUID, *uuid.UUID:
		if format == pgtype.BinaryFormatCode {
			return uuidBinary{}
		}
		return uuidText{}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

// uuidOf is the uuid a plan encodes (nil pointers never reach a plan: pgx
// sends NULL for them first).
func uuidOf(value any) uuid.UUID {
	if p, ok := value.(*uuid.UUID); ok {
		return *p
	}
	return value.(uuid.UUID)
}

type uuidBinary struct{}

func (uuidBinary) Encode(value any, buf []byte) ([]byte, error) {
	u := uuidOf(value)
	return append(buf, u[:]...), nil
}

type uuidText struct{}

func (uuidText) Encode(value any, buf []byte) ([]byte, error) {
	return append(buf, uuidOf(value).String()...), nil
}

// numericCodec is pgx's NumericCodec that also encodes decimal.Decimal (and
// *decimal.Decimal), as the pgtype.Numeric of the same value.
type numericCodec struct{ pgtype.NumericCodec }

func (c numericCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	switch value.(type) {
	case decimal.Decimal, *decimal.Decimal:
		if next := c.NumericCodec.PlanEncode(m, oid, format, pgtype.Numeric{}); next != nil {
			return decimalPlan{next: next}
		}
	}
	return c.NumericCodec.PlanEncode(m, oid, format, value)
}

type decimalPlan struct{ next pgtype.EncodePlan }

func (p decimalPlan) Encode(value any, buf []byte) ([]byte, error) {
	d, ok := value.(decimal.Decimal)
	if !ok {
		d = *value.(*decimal.Decimal)
	}
	return p.next.Encode(pgtype.Numeric{Int: d.Coefficient(), Exp: d.Exponent(), Valid: true}, buf)
}
