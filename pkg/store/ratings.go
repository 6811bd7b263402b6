package store

import "math"

// RatingAverage is the mean of the ratings u received, rounded to 2 decimals,
// nil without ratings. It is derived from the totals on the row, which the
// user_rating trigger keeps (migration 00002): rendering a user never queries
// ratings.
func (u User) RatingAverage() *float64 {
	if u.RatingCount <= 0 {
		return nil
	}
	avg := math.Round(float64(u.RatingSum)/float64(u.RatingCount)*100) / 100
	return &avg
}
