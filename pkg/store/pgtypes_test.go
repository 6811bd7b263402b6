package store_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The uuid and numeric parameters the models send reach PostgreSQL as the
// same values whichever way pgx encodes them: directly (prepared statements,
// store's registered codecs) or as text (the pooler's exec mode).
func TestUUIDAndDecimalParameters(t *testing.T) {
	if testutil.PostgresURL() == "" {
		t.Skip("PostgreSQL: TEST_DATABASE_URL not set")
	}
	u := uuid.MustParse("0191e4f5-7a3b-7c2d-8e9f-a0b1c2d3e4f5")
	decimals := []string{"12000", "3.5", "0", "-0.001", "123456789012345678901234567890.123456789", "1e-20", "-7E+3"}
	for _, pooler := range []bool{false, true} {
		st, err := store.OpenWith(emptyPostgresURL(t), "", store.Options{TransactionPooler: pooler})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for _, s := range decimals {
			d := decimal.RequireFromString(s)
			var got struct{ U, PU, D, PD, NU, ND *string }
			err := st.DB.Raw("SELECT CAST(? AS uuid)::text AS u, CAST(? AS uuid)::text AS pu, CAST(? AS numeric)::text AS d, "+
				"CAST(? AS numeric)::text AS pd, CAST(? AS uuid)::text AS nu, CAST(? AS numeric)::text AS nd",
				u, &u, d, &d, (*uuid.UUID)(nil), (*decimal.Decimal)(nil)).Scan(&got).Error
			if err != nil {
				t.Fatalf("pooler=%v %s: %v", pooler, s, err)
			}
			for _, v := range []*string{got.U, got.PU} {
				if v == nil || *v != u.String() {
					t.Errorf("pooler=%v: uuid %s arrived as %s", pooler, u, text(v))
				}
			}
			for _, v := range []*string{got.D, got.PD} {
				if v == nil || !decimal.RequireFromString(*v).Equal(d) {
					t.Errorf("pooler=%v: decimal %s arrived as %s", pooler, s, text(v))
				}
			}
			if got.NU != nil || got.ND != nil {
				t.Errorf("pooler=%v: nil pointers arrived as %v / %v, want NULL", pooler, got.NU, got.ND)
			}
		}
	}
}

func text(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}
