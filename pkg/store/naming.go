package store

import (
	"sync"

	"gorm.io/gorm/schema"
)

// namingCacheMax bounds the remembered column names (the names are the
// code's own columns and join aliases: a few hundred).
const namingCacheMax = 4096

// cachedNaming is GORM's default naming strategy with its column names
// remembered. GORM's scan looks every result column of a joined query up by
// its alias ("Client__CurrentVehicle__type_id"), misses, and converts the
// alias with NamingStrategy.ColumnName (a rune-by-rune rewrite) on every
// query: 4–6 % of web's CPU under the accept flow (issue 23). The names it
// answers are the same; only the work is done once.
type cachedNaming struct {
	schema.NamingStrategy
	mu    sync.RWMutex
	names map[string]string
}

func newCachedNaming() *cachedNaming {
	// IdentifierMaxLength as gorm.Open's default strategy.
	return &cachedNaming{NamingStrategy: schema.NamingStrategy{IdentifierMaxLength: 64}, names: map[string]string{}}
}

// ColumnName implements schema.Namer (the default strategy ignores table).
func (n *cachedNaming) ColumnName(table, column string) string {
	n.mu.RLock()
	name, ok := n.names[column]
	n.mu.RUnlock()
	if ok {
		return name
	}
	name = n.NamingStrategy.ColumnName(table, column)
	n.mu.Lock()
	if len(n.names) < namingCacheMax {
		n.names[column] = name
	}
	n.mu.Unlock()
	return name
}
