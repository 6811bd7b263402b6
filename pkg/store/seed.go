package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/db"
)

// Seed writes the reference data of db/ (categories, vehicle types and their
// links), idempotently by name: existing rows are left as staff edited them.
func (s *Store) Seed(ctx context.Context) error {
	return s.Transaction(ctx, func(tx *gorm.DB) error {
		byName := map[string]uuid.UUID{}
		for _, c := range db.Categories {
			var row Category
			err := tx.Where("name = ?", c.Name).Take(&row).Error
			if errors.Is(err, gorm.ErrRecordNotFound) {
				now := Now()
				row = Category{ID: uuid.New(), Name: c.Name, Description: c.Description, IsActive: true, CreatedAt: now, UpdatedAt: now}
				err = tx.Create(&row).Error
			}
			if err != nil {
				return fmt.Errorf("seed category %s: %w", c.Name, err)
			}
			byName[c.Name] = row.ID
		}
		for _, vt := range db.VehicleTypes {
			var row VehicleType
			err := tx.Where("name = ?", vt.Name).Take(&row).Error
			created := false
			if errors.Is(err, gorm.ErrRecordNotFound) {
				now := Now()
				row = VehicleType{ID: uuid.New(), Name: vt.Name, Description: vt.Description,
					MaxWeightCapacityKg:     decimal.RequireFromString(vt.MaxWeightKg),
					MaxVolumeCapacityLiters: decimal.RequireFromString(vt.MaxVolumeLiters),
					PassengerCapacity:       vt.PassengerCapacity, IsActive: true, CreatedAt: now, UpdatedAt: now}
				err = tx.Omit("Categories").Create(&row).Error
				created = true
			}
			if err != nil {
				return fmt.Errorf("seed vehicle type %s: %w", vt.Name, err)
			}
			if !created {
				continue
			}
			for _, name := range vt.Categories {
				link := VehicleTypeCategory{VehicleTypeID: row.ID, CategoryID: byName[name]}
				if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&link).Error; err != nil {
					return fmt.Errorf("seed vehicle type %s category %s: %w", vt.Name, name, err)
				}
			}
		}
		return nil
	})
}
