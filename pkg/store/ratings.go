package store

import (
	"fmt"
	"math"

	"gorm.io/gorm"
)

// LoadRatings fills RatingAverage and RatingCount of the given users with one
// grouped query (no N+1). Nil entries and duplicates are fine.
func LoadRatings(tx *gorm.DB, users ...*User) error {
	ids := make([]string, 0, len(users))
	seen := map[string]bool{}
	for _, u := range users {
		if u != nil && !seen[u.UserID] {
			seen[u.UserID] = true
			ids = append(ids, u.UserID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []struct {
		RateeID string
		Avg     float64
		Cnt     int
	}
	err := tx.Model(&Rating{}).Select("ratee_id, AVG(rating) AS avg, COUNT(*) AS cnt").
		Where("ratee_id IN ?", ids).Group("ratee_id").Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("load ratings: %w", err)
	}
	byID := make(map[string]int, len(rows))
	for i, r := range rows {
		byID[r.RateeID] = i
	}
	for _, u := range users {
		if u == nil {
			continue
		}
		u.RatingAverage, u.RatingCount = nil, 0
		if i, ok := byID[u.UserID]; ok && rows[i].Cnt > 0 {
			avg := math.Round(rows[i].Avg*100) / 100
			u.RatingAverage, u.RatingCount = &avg, rows[i].Cnt
		}
	}
	return nil
}
