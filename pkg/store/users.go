package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SetStaff sets users.is_staff, creating the row for an id never seen.
func SetStaff(ctx context.Context, s *Store, userid string, staff bool) error {
	return s.Transaction(ctx, func(tx *gorm.DB) error {
		now := Now()
		u := User{UserID: userid, CreatedAt: now, UpdatedAt: now}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
			return fmt.Errorf("create user %s: %w", userid, err)
		}
		res := tx.Model(&User{}).Where("userid = ?", userid).Updates(map[string]any{"is_staff": staff, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("set staff on %s: %w", userid, res.Error)
		}
		return nil
	})
}
