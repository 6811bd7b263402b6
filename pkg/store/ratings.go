package store

import (
	"math"

	"gorm.io/gorm"
)

// LoadRatings fills RatingAverage (2 decimals, nil without ratings) of the
// given users from the totals on their rows (kept by the user_rating trigger):
// no query. tx is unused; it stays so that callers read like other loaders.
// Nil entries are fine.
func LoadRatings(_ *gorm.DB, users ...*User) error {
	for _, u := range users {
		if u == nil {
			continue
		}
		u.RatingAverage = nil
		if u.RatingCount > 0 {
			avg := math.Round(float64(u.RatingSum)/float64(u.RatingCount)*100) / 100
			u.RatingAverage = &avg
		}
	}
	return nil
}
