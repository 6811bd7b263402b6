package store

import (
	"context"
	"encoding/binary"

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
			return decimalPlan{next: next, binary: format == pgtype.BinaryFormatCode}
		}
	}
	return c.NumericCodec.PlanEncode(m, oid, format, value)
}

type decimalPlan struct {
	next   pgtype.EncodePlan
	binary bool
}

func (p decimalPlan) Encode(value any, buf []byte) ([]byte, error) {
	d, ok := value.(decimal.Decimal)
	if !ok {
		d = *value.(*decimal.Decimal)
	}
	if p.binary && d.NumDigits() <= 15 {
		if out, ok := appendNumericBinary(buf, d.CoefficientInt64(), d.Exponent()); ok {
			return out, nil
		}
	}
	return p.next.Encode(pgtype.Numeric{Int: d.Coefficient(), Exp: d.Exponent(), Valid: true}, buf)
}

// appendNumericBinary appends PostgreSQL's binary numeric for coef × 10^exp,
// the bytes pgx's NumericCodec writes for pgtype.Numeric{Int: coef, Exp: exp}
// (its encodeNumericBinary, in uint64 arithmetic instead of big.Int: no
// allocation). ok is false outside what it handles (|coef| < 10^15, exp in
// −16…16); the caller then takes pgx's path.
func appendNumericBinary(buf []byte, coef int64, exp int32) ([]byte, bool) {
	if coef <= -1e15 || coef >= 1e15 || exp < -16 || exp > 16 {
		return buf, false
	}
	var sign uint16
	abs := uint64(coef)
	if coef < 0 {
		sign, abs = 0x4000, uint64(-coef)
	}
	// exp to a multiple of 4 (base 10,000 digits), toward −∞, as pgx does.
	e := exp
	for e%4 != 0 {
		e--
		abs *= 10
	}
	whole, frac, fracDigits := abs, uint64(0), 0
	if e < 0 {
		div := uint64(1)
		for range -e {
			div *= 10
		}
		whole, frac, fracDigits = abs/div, abs%div, int(-e/4)
	}
	var wd [8]uint16 // least significant first; < 10^19 has at most 5
	n := 0
	for w := whole; w != 0; w /= 10000 {
		wd[n] = uint16(w % 10000)
		n++
	}
	weight := int(e/4) - 1 + fracDigits // no whole digit: zero, or a fraction only
	if n > 0 {
		weight = n - 1
		if e > 0 {
			weight += int(e / 4)
		}
	}
	var dscale uint16
	if exp < 0 {
		dscale = uint16(-exp)
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(n+fracDigits))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, dscale)
	for i := n - 1; i >= 0; i-- {
		buf = binary.BigEndian.AppendUint16(buf, wd[i])
	}
	for i := fracDigits - 1; i >= 0; i-- {
		p := frac
		for range i {
			p /= 10000
		}
		buf = binary.BigEndian.AppendUint16(buf, uint16(p%10000))
	}
	return buf, true
}
