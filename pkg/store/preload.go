package store

import "gorm.io/gorm"

// Preload paths for the nested JSON of each resource (no N+1: GORM loads each
// level with one IN query). Rating figures come with the users rows.

func byName(db *gorm.DB) *gorm.DB { return db.Order("name") }

// PreloadVehicle loads a vehicle's type and the type's categories under path
// ("" for the vehicle itself).
func PreloadVehicle(tx *gorm.DB, path string) *gorm.DB {
	p := "Type"
	if path != "" {
		p = path + ".Type"
	}
	return tx.Preload(p).Preload(p+".Categories", byName)
}

// PreloadUser loads a user's current vehicle (with type and categories) under path.
func PreloadUser(tx *gorm.DB, path string) *gorm.DB {
	p := "CurrentVehicle"
	if path != "" {
		p = path + ".CurrentVehicle"
	}
	return PreloadVehicle(tx.Preload(p), p)
}

// PreloadQuote loads what NewQuote renders, under path ("" for the quote itself).
func PreloadQuote(tx *gorm.DB, path string) *gorm.DB {
	pre := ""
	if path != "" {
		pre = path + "."
	}
	return PreloadUser(tx.Preload(pre+"Client").Preload(pre+"Category").Preload(pre+"VehicleType"), pre+"Client")
}

// PreloadOffer loads what NewOffer renders, under path ("" for the offer itself).
func PreloadOffer(tx *gorm.DB, path string) *gorm.DB {
	pre := ""
	if path != "" {
		pre = path + "."
	}
	tx = PreloadUser(tx.Preload(pre+"Driver"), pre+"Driver")
	tx = PreloadVehicle(tx.Preload(pre+"Vehicle"), pre+"Vehicle")
	return PreloadQuote(tx.Preload(pre+"Quote"), pre+"Quote")
}

// PreloadDelivery loads what NewDelivery renders.
func PreloadDelivery(tx *gorm.DB) *gorm.DB {
	tx = PreloadUser(tx.Preload("Client"), "Client")
	tx = PreloadUser(tx.Preload("Driver"), "Driver")
	return tx.Preload("Category")
}
