package store_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/store"
)

// aliasOwner reaches a vehicle type through a relation name long enough to
// push its columns' aliases past PostgreSQL's 63 bytes.
type aliasOwner struct {
	ID                                                uuid.UUID          `gorm:"column:id;primaryKey"`
	TypeID                                            uuid.UUID          `gorm:"column:type_id"`
	TheVehicleTypeOfThisRowUnderAVeryLongRelationName *store.VehicleType `gorm:"foreignKey:TypeID"`
}

func (aliasOwner) TableName() string { return "alias_owners" }

// aliasRE finds the column aliases of a built SELECT (PostgreSQL quotes
// with ", SQLite with `).
var aliasRE = regexp.MustCompile("AS [\"`]([^\"`]+)[\"`]")

// Every Join* of the store builds column aliases that fit PostgreSQL's
// 63-byte identifiers (PostgreSQL cuts a longer one and GORM then drops the
// column without an error: the driver's vehicle type read
// max_volume_capacity_liters 0 through the 64-byte
// DeliveryPerson__CurrentVehicle__Type__max_volume_capacity_liters); and the
// store refuses a joined query with a longer alias before sending it, on
// both dialects, so such a chain fails in any test that runs it.
func TestJoinAliasesFit(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := openEmpty(t, dialect)
		dry := st.DB.Session(&gorm.Session{DryRun: true})
		for _, c := range []struct {
			name string
			join func(*gorm.DB) *gorm.DB
			dest any
		}{
			{"JoinUsers", store.JoinUsers, &[]store.User{}},
			{"JoinVehicles", store.JoinVehicles, &[]store.Vehicle{}},
			{"JoinQuotes", store.JoinQuotes, &[]store.Quote{}},
			{"JoinOffers", store.JoinOffers, &[]store.Offer{}},
			{"JoinOffersNoQuote", store.JoinOffersNoQuote, &[]store.Offer{}},
			{"JoinDeliveries", store.JoinDeliveries, &[]store.Delivery{}},
			{"JoinHistory", store.JoinHistory, &[]store.HistoryEvent{}},
		} {
			tx := c.join(dry).Find(c.dest)
			if tx.Error != nil {
				t.Errorf("%s: %v", c.name, tx.Error)
				continue
			}
			aliases := aliasRE.FindAllStringSubmatch(tx.Statement.SQL.String(), -1)
			longest := ""
			for _, m := range aliases {
				if len(m[1]) > len(longest) {
					longest = m[1]
				}
			}
			if longest == "" {
				t.Errorf("%s: no column alias in %s", c.name, tx.Statement.SQL.String())
			}
			if len(longest) > store.MaxIdentifier {
				t.Errorf("%s: alias %q is %d bytes (the store's check let it through)", c.name, longest, len(longest))
			}
			t.Logf("%s: %d aliased columns, longest %q (%d bytes)", c.name, len(aliases), longest, len(longest))
		}

		long := "TheVehicleTypeOfThisRowUnderAVeryLongRelationName"
		if err := dry.Joins(long).Find(&[]aliasOwner{}).Error; !errors.Is(err, store.ErrAliasTooLong) {
			t.Errorf("dry run with a %d-byte alias: %v, want ErrAliasTooLong", len(long+"__max_volume_capacity_liters"), err)
		}
		// Refused before it is sent: alias_owners does not exist, so a sent
		// statement would fail otherwise.
		if err := st.DB.Joins(long).Find(&[]aliasOwner{}).Error; !errors.Is(err, store.ErrAliasTooLong) {
			t.Errorf("query with a long alias: %v, want ErrAliasTooLong", err)
		}
		// The same through Rows (GORM's row callbacks, as Scan).
		rows, err := st.DB.Model(&aliasOwner{}).Joins(long).Rows()
		if err == nil {
			rows.Close()
		}
		if !errors.Is(err, store.ErrAliasTooLong) {
			t.Errorf("rows with a long alias: %v, want ErrAliasTooLong", err)
		}
	})
}
