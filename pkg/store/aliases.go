package store

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
)

// MaxIdentifier is the longest identifier PostgreSQL keeps (NAMEDATALEN-1
// bytes): a longer one is cut, silently, at 63.
const MaxIdentifier = 63

// ErrAliasTooLong is a joined query's column alias longer than MaxIdentifier.
//
// GORM's Joins names each joined column after its relation path and column
// ("Driver__CurrentVehicle__Type__max_volume_capacity_liters") and scans the
// result back by that name. PostgreSQL cuts a longer alias to 63 bytes, the
// cut name matches no field, and the column is dropped without an error: the
// field renders its zero value (SQLite keeps long names, so only PostgreSQL
// shows it). The relation names of the models are kept short enough
// (Offer.Driver, Delivery.Driver) and every joined query is checked before
// it is sent, on both dialects, so a chain that grows past the limit fails
// loudly in the tests instead of rendering zeros.
var ErrAliasTooLong = errors.New("joined column alias longer than PostgreSQL's 63-byte identifiers")

// checkAliases builds a joined query's SQL (as gorm:query or gorm:row would,
// which then use it as built) and refuses it when a column alias is longer
// than MaxIdentifier. A query without Joins is left alone.
func checkAliases(db *gorm.DB) {
	if db.Error != nil || len(db.Statement.Joins) == 0 {
		return
	}
	callbacks.BuildQuerySQL(db)
	if db.Error != nil {
		return
	}
	sel, _ := db.Statement.Clauses["SELECT"].Expression.(clause.Select)
	for _, c := range sel.Columns {
		if len(c.Alias) > MaxIdentifier {
			_ = db.AddError(fmt.Errorf("%w: %q is %d bytes", ErrAliasTooLong, c.Alias, len(c.Alias)))
			return
		}
	}
}

// registerAliasCheck runs checkAliases before every query and row statement.
func registerAliasCheck(db *gorm.DB) error {
	cb := db.Callback()
	if err := cb.Query().Before("gorm:query").Register("hermez:alias_length", checkAliases); err != nil {
		return fmt.Errorf("register the alias check on queries: %w", err)
	}
	if err := cb.Row().Before("gorm:row").Register("hermez:alias_length", checkAliases); err != nil {
		return fmt.Errorf("register the alias check on rows: %w", err)
	}
	return nil
}
