package store

import "gorm.io/gorm"

// MaxPageLimit caps an opt-in page (?limit=).
const MaxPageLimit = 500

// Page is opt-in list paging (?limit=&offset=). The zero Page is "everything",
// so lists keep their plain-array default shape.
type Page struct {
	Limit  int // 0: no limit
	Offset int
}

// Apply adds LIMIT/OFFSET to tx when the page asks for them.
func (p Page) Apply(tx *gorm.DB) *gorm.DB {
	if p.Limit > 0 {
		l := p.Limit
		if l > MaxPageLimit {
			l = MaxPageLimit
		}
		tx = tx.Limit(l)
	}
	if p.Offset > 0 {
		tx = tx.Offset(p.Offset)
	}
	return tx
}
