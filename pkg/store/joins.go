package store

import (
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Loading what a resource's JSON needs in two statements, whatever the number
// of rows: one SELECT that LEFT JOINs every belongs-to association (users →
// current vehicle → vehicle type, quote → category, …; GORM's Joins, aliased
// "Client", "Client__CurrentVehicle", …), then FillTypeCategories for the one
// many-to-many (vehicle type ↔ categories) of every vehicle type reached.
//
// Conditions and orders on a joined query must name the table
// ("delivery_quotes.id = ?"): joined tables share column names. Lock a joined
// query with LockOf (FOR UPDATE OF the main table).
//
// Every alias GORM builds from a relation path and a column
// ("Quote__Client__CurrentVehicle__Type__max_volume_capacity_liters", 63
// bytes) must fit PostgreSQL's 63-byte identifiers, or the column is silently
// dropped: the store refuses a longer one (ErrAliasTooLong), and
// TestJoinAliasesFit runs every Join* below.

func joinUser(tx *gorm.DB, path string) *gorm.DB {
	return tx.Joins(path).Joins(path + ".CurrentVehicle").Joins(path + ".CurrentVehicle.Type")
}

// JoinUsers joins a user's current vehicle and its type (querying users).
func JoinUsers(tx *gorm.DB) *gorm.DB {
	return tx.Joins("CurrentVehicle").Joins("CurrentVehicle.Type")
}

// JoinVehicles joins a vehicle's type (querying vehicles).
func JoinVehicles(tx *gorm.DB) *gorm.DB { return tx.Joins("Type") }

// JoinQuotes joins what NewQuote renders (querying delivery_quotes).
func JoinQuotes(tx *gorm.DB) *gorm.DB {
	return joinUser(tx, "Client").Joins("Category").Joins("VehicleType")
}

// JoinOffers joins what NewOffer renders, the quote included (querying delivery_offers).
func JoinOffers(tx *gorm.DB) *gorm.DB {
	tx = joinUser(tx, "Driver").Joins("Vehicle").Joins("Vehicle.Type")
	return joinUser(tx, "Quote.Client").Joins("Quote.Category").Joins("Quote.VehicleType")
}

// JoinOffersNoQuote joins what NewOffer renders except the quote, for offers
// whose quote the caller already holds (querying delivery_offers).
func JoinOffersNoQuote(tx *gorm.DB) *gorm.DB {
	return joinUser(tx, "Driver").Joins("Vehicle").Joins("Vehicle.Type")
}

// JoinDeliveries joins what NewDelivery renders (querying deliveries).
func JoinDeliveries(tx *gorm.DB) *gorm.DB {
	return joinUser(joinUser(tx, "Client"), "Driver").Joins("Category")
}

// JoinHistory joins who made each history entry (querying delivery_history).
func JoinHistory(tx *gorm.DB) *gorm.DB { return joinUser(tx, "ChangedBy") }

// TypeSet collects the vehicle types of loaded rows whose categories a
// rendering shows; Fill loads them all with one statement.
type TypeSet struct{ types []*VehicleType }

// Vehicle adds v's type.
func (s *TypeSet) Vehicle(v *Vehicle) {
	if v != nil && v.Type != nil {
		s.types = append(s.types, v.Type)
	}
}

// User adds the type of u's current vehicle.
func (s *TypeSet) User(u *User) {
	if u != nil {
		s.Vehicle(u.CurrentVehicle)
	}
}

// Quote adds the types its client's vehicle.
func (s *TypeSet) Quote(q *Quote) {
	if q != nil {
		s.User(q.Client)
	}
}

// Offer adds the types of its driver's and its own vehicle, and its quote's.
func (s *TypeSet) Offer(o *Offer) {
	s.User(o.Driver)
	s.Vehicle(o.Vehicle)
	s.Quote(o.Quote)
}

// Delivery adds the types of its client's and driver's vehicles.
func (s *TypeSet) Delivery(d *Delivery) {
	s.User(d.Client)
	s.User(d.Driver)
}

// TypeIDs are the distinct ids of the collected types.
func (s *TypeSet) TypeIDs() []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(s.types))
	seen := map[uuid.UUID]bool{}
	for _, t := range s.types {
		if !seen[t.ID] {
			seen[t.ID] = true
			ids = append(ids, t.ID)
		}
	}
	return ids
}

// Set gives every collected type its categories from byType (none when
// absent), for callers that loaded them with another statement; the set is
// emptied.
func (s *TypeSet) Set(byType map[uuid.UUID][]Category) {
	for _, t := range s.types {
		t.Categories = byType[t.ID]
		if t.Categories == nil {
			t.Categories = []Category{}
		}
	}
	s.types = nil
}

// FillFromCatalog sets Categories of every collected type from the store's
// Catalog, without a statement, when it holds them all (held); otherwise it
// leaves the set as it was.
func (s *TypeSet) FillFromCatalog(tx *gorm.DB) (held bool, err error) {
	if len(s.types) == 0 {
		return true, nil
	}
	byType, held, err := typeCategories(tx, s.TypeIDs())
	if err != nil || !held {
		return false, err
	}
	s.Set(byType)
	return true, nil
}

// Fill sets Categories (in name order) of every collected type: from the
// store's Catalog when it holds them all, otherwise with one statement (none
// when there is no type).
func (s *TypeSet) Fill(tx *gorm.DB) error {
	if len(s.types) == 0 {
		return nil
	}
	if held, err := s.FillFromCatalog(tx); err != nil || held {
		return err
	}
	ids := s.TypeIDs()
	var rows []struct {
		VehicleTypeID uuid.UUID `gorm:"column:vehicle_type_id"`
		Category      `gorm:"embedded"`
	}
	err := tx.Table("delivery_categories").
		Select("vehicle_type_categories.vehicle_type_id, delivery_categories.*").
		Joins("JOIN vehicle_type_categories ON vehicle_type_categories.category_id = delivery_categories.id").
		Where("vehicle_type_categories.vehicle_type_id IN ?", ids).
		Order("delivery_categories.name").Order("delivery_categories.id").Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("load vehicle type categories: %w", err)
	}
	byType := make(map[uuid.UUID][]Category, len(ids))
	for _, r := range rows {
		byType[r.VehicleTypeID] = append(byType[r.VehicleTypeID], r.Category)
	}
	s.Set(byType)
	return nil
}
