package store

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
)

// appendNumericBinary writes the bytes pgx's NumericCodec writes for the same
// coefficient and exponent, over its whole range and at its edges, and the
// decimal plan (with its fallback past that range) writes them for a Decimal.
func TestAppendNumericBinaryIsPgxs(t *testing.T) {
	m := pgtype.NewMap()
	pgx := func(coef int64, exp int32) []byte {
		b, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, pgtype.Numeric{Int: big.NewInt(coef), Exp: exp, Valid: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type c struct {
		coef int64
		exp  int32
	}
	cases := []c{{0, 0}, {0, -2}, {0, 5}, {1, 0}, {-1, 0}, {1200000, -2}, {12000, 0}, {35, -1}, {12, 3}, {1, -16}, {-1, -16},
		{999999999999999, -16}, {-999999999999999, 16}, {999999999999999, 0}, {10000, -4}, {100000000, 0}, {5, -3}, {123456789, -7}}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		cases = append(cases, c{r.Int64N(2e15) - 1e15, int32(r.IntN(33) - 16)})
		cases = append(cases, c{r.Int64N(2e6) - 1e6, int32(r.IntN(9) - 6)})
	}
	for _, tc := range cases {
		got, ok := appendNumericBinary([]byte{0xAA}, tc.coef, tc.exp)
		if !ok {
			t.Fatalf("%d e%d refused", tc.coef, tc.exp)
		}
		if want := pgx(tc.coef, tc.exp); !bytes.Equal(got[1:], want) || got[0] != 0xAA {
			t.Fatalf("%d e%d: % x, pgx % x", tc.coef, tc.exp, got[1:], want)
		}
	}
	for _, tc := range []c{{1e15, 0}, {-1e15, 0}, {1, 17}, {1, -17}} {
		if _, ok := appendNumericBinary(nil, tc.coef, tc.exp); ok {
			t.Errorf("%d e%d accepted", tc.coef, tc.exp)
		}
	}
	plan := numericCodec{}.PlanEncode(m, pgtype.NumericOID, pgtype.BinaryFormatCode, decimal.Decimal{})
	for _, s := range []string{"12000", "12000.00", "3.5", "-0.01", "123456789012345678901234567890.125", "1e20", "0"} {
		d := decimal.RequireFromString(s)
		got, err := plan.Encode(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, pgtype.Numeric{Int: d.Coefficient(), Exp: d.Exponent(), Valid: true}, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: % x, pgx % x %v", s, got, want, err)
		}
	}
}
