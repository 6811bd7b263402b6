package backoffice

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/store"
)

// StatusCount is how many deliveries have one status.
type StatusCount struct {
	Status string
	Count  int64
}

// DeliveryStatuses are the delivery statuses in the order the console shows them.
var DeliveryStatuses = []string{store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit,
	store.DeliveryDelivered, store.DeliveryPaid, store.DeliveryCancelled}

// Dashboard is the console's front page.
type Dashboard struct {
	PendingQuotes, OpenOffers, DriversAvailable, DriversOnline, VehiclesAwaiting, Users int64
	Deliveries                                                                          []StatusCount
	DeliveriesTotal                                                                     int64
}

// Dashboard counts what the front page shows.
func (s *Service) Dashboard(ctx context.Context) (*Dashboard, error) {
	db := s.db(ctx)
	var d Dashboard
	now := s.Store.Now()
	counts := []struct {
		q   *gorm.DB
		out *int64
	}{
		{db.Model(&store.Quote{}).Where("status = ? AND expires_at > ?", store.QuotePending, now), &d.PendingQuotes},
		{db.Model(&store.Offer{}).Where("status = ? AND expires_at > ?", store.OfferPending, now), &d.OpenOffers},
		{db.Model(&store.User{}).Where("role = ? AND is_available = ? AND deleted_at IS NULL", "delivery", true), &d.DriversAvailable},
		{db.Model(&store.User{}).Where("role = ? AND is_online = ? AND deleted_at IS NULL", "delivery", true), &d.DriversOnline},
		{db.Model(&store.Vehicle{}).Where("is_verified = ?", false), &d.VehiclesAwaiting},
		{db.Model(&store.User{}).Where("deleted_at IS NULL"), &d.Users},
	}
	for _, q := range counts {
		if err := q.q.Count(q.out).Error; err != nil {
			return nil, store.MapError(err, "dashboard counts")
		}
	}
	var rows []StatusCount
	if err := db.Model(&store.Delivery{}).Select("status, COUNT(*) AS count").Group("status").Scan(&rows).Error; err != nil {
		return nil, store.MapError(err, "dashboard deliveries")
	}
	by := map[string]int64{}
	for _, r := range rows {
		by[r.Status] = r.Count
		d.DeliveriesTotal += r.Count
	}
	for _, st := range DeliveryStatuses {
		d.Deliveries = append(d.Deliveries, StatusCount{Status: st, Count: by[st]})
	}
	return &d, nil
}

// --- vehicles ---

// Vehicle list states (?estado=).
const (
	VehiclesPending  = "pendientes" // not verified, oldest first (a queue)
	VehiclesVerified = "verificados"
	VehiclesAll      = "todos"
)

// VehicleFilter selects one page of the vehicle list.
type VehicleFilter struct {
	State string // VehiclesPending (default), VehiclesVerified or VehiclesAll
	Q     string // search in plate, brand, model, VIN, owner id
	Page  int
}

// VehicleRow is a vehicle with its owner (nil when the row is gone).
type VehicleRow struct {
	V     store.Vehicle
	Owner *store.User
}

// Vehicles lists one page of vehicles; more reports whether another follows.
func (s *Service) Vehicles(ctx context.Context, f VehicleFilter) (rows []VehicleRow, more bool, err error) {
	q := s.db(ctx).Model(&store.Vehicle{}).Preload("Type")
	switch f.State {
	case VehiclesVerified:
		q = q.Where("is_verified = ?", true).Order("updated_at DESC")
	case VehiclesAll:
		q = q.Order("created_at DESC")
	default:
		q = q.Where("is_verified = ?", false).Order("created_at ASC")
	}
	q = search(q, f.Q, "license_plate", "brand", "model", "vin", "user_id")
	var vs []store.Vehicle
	if more, err = pageOf(q, f.Page, &vs); err != nil {
		return nil, false, store.MapError(err, "list vehicles")
	}
	ids := make([]string, len(vs))
	for i := range vs {
		ids[i] = vs[i].UserID
	}
	own, err := s.owners(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	rows = make([]VehicleRow, len(vs))
	for i := range vs {
		rows[i] = VehicleRow{V: vs[i], Owner: own[vs[i].UserID]}
	}
	return rows, more, nil
}

func (s *Service) owners(ctx context.Context, ids []string) (map[string]*store.User, error) {
	out := map[string]*store.User{}
	if len(ids) == 0 {
		return out, nil
	}
	var us []store.User
	if err := s.db(ctx).Where("userid IN ?", ids).Find(&us).Error; err != nil {
		return nil, store.MapError(err, "vehicle owners")
	}
	for i := range us {
		out[us[i].UserID] = &us[i]
	}
	return out, nil
}

// Vehicle is one vehicle (with its type) and its owner; unknown → 404.
func (s *Service) Vehicle(ctx context.Context, id uuid.UUID) (*store.Vehicle, *store.User, error) {
	db := s.db(ctx)
	var v store.Vehicle
	if err := db.Preload("Type").Where("vehicle_id = ?", id).Take(&v).Error; err != nil {
		return nil, nil, store.MapError(err, "load vehicle")
	}
	var owner store.User
	if err := db.Where("userid = ?", v.UserID).Take(&owner).Error; err != nil {
		return nil, nil, store.MapError(err, "load vehicle owner")
	}
	return &v, &owner, nil
}

// --- reference data ---

// Categories lists every category by name.
func (s *Service) Categories(ctx context.Context) ([]store.Category, error) {
	var cs []store.Category
	err := s.db(ctx).Order("name").Find(&cs).Error
	return cs, store.MapError(err, "list categories")
}

// Category is one category; unknown → 404.
func (s *Service) Category(ctx context.Context, id uuid.UUID) (*store.Category, error) {
	var c store.Category
	if err := s.db(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, store.MapError(err, "load category")
	}
	return &c, nil
}

// VehicleTypes lists every vehicle type by name with its categories (by name).
func (s *Service) VehicleTypes(ctx context.Context) ([]store.VehicleType, error) {
	var ts []store.VehicleType
	err := s.db(ctx).Preload("Categories", func(db *gorm.DB) *gorm.DB { return db.Order("name") }).
		Order("name").Find(&ts).Error
	return ts, store.MapError(err, "list vehicle types")
}

// VehicleType is one vehicle type with its categories; unknown → 404.
func (s *Service) VehicleType(ctx context.Context, id uuid.UUID) (*store.VehicleType, error) {
	var vt store.VehicleType
	if err := s.db(ctx).Preload("Categories").Where("id = ?", id).Take(&vt).Error; err != nil {
		return nil, store.MapError(err, "load vehicle type")
	}
	return &vt, nil
}

// --- users ---

// UserFilter selects one page of the user list.
type UserFilter struct {
	Q         string // search in id, username, email, names, phone
	Role      string // "client", "delivery" or "" (any)
	StaffOnly bool
	Page      int
}

// Users lists one page of users, newest first.
func (s *Service) Users(ctx context.Context, f UserFilter) ([]store.User, bool, error) {
	q := s.db(ctx).Model(&store.User{}).Order("created_at DESC")
	q = search(q, f.Q, "userid", "username", "email", "first_name", "last_name", "phone")
	if f.Role != "" {
		q = q.Where("role = ?", f.Role)
	}
	if f.StaffOnly {
		q = q.Where("is_staff = ?", true)
	}
	var us []store.User
	more, err := pageOf(q, f.Page, &us)
	return us, more, store.MapError(err, "list users")
}

// UserDetail is what a user's page shows.
type UserDetail struct {
	U                  store.User
	Vehicles           []store.Vehicle
	AsClient, AsDriver int64 // deliveries
}

// User is one user with their vehicles and delivery counts; unknown → 404.
func (s *Service) User(ctx context.Context, userID string) (*UserDetail, error) {
	db := s.db(ctx)
	var d UserDetail
	if err := db.Where("userid = ?", userID).Take(&d.U).Error; err != nil {
		return nil, store.MapError(err, "load user")
	}
	if err := db.Preload("Type").Where("user_id = ?", userID).Order("created_at").Find(&d.Vehicles).Error; err != nil {
		return nil, store.MapError(err, "user vehicles")
	}
	if err := db.Model(&store.Delivery{}).Where("client_id = ?", userID).Count(&d.AsClient).Error; err != nil {
		return nil, store.MapError(err, "user deliveries")
	}
	if err := db.Model(&store.Delivery{}).Where("delivery_person_id = ?", userID).Count(&d.AsDriver).Error; err != nil {
		return nil, store.MapError(err, "user deliveries")
	}
	return &d, nil
}

// --- quotes, offers, deliveries ---

// Filter selects one page of quotes, offers or deliveries.
type Filter struct {
	Status string // "" any
	Q      string
	Page   int
}

// Quotes lists one page of quotes, newest first, with client, category and offers.
func (s *Service) Quotes(ctx context.Context, f Filter) ([]store.Quote, bool, error) {
	q := s.db(ctx).Model(&store.Quote{}).Preload("Client").Preload("Category").Preload("Offers").Order("created_at DESC")
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	q = search(q, f.Q, "client_id", "pickup_address", "delivery_address")
	var qs []store.Quote
	more, err := pageOf(q, f.Page, &qs)
	return qs, more, store.MapError(err, "list quotes")
}

// Quote is one quote with its offers (oldest first), their drivers and
// vehicles; unknown → 404.
func (s *Service) Quote(ctx context.Context, id uuid.UUID) (*store.Quote, error) {
	var q store.Quote
	err := s.db(ctx).Preload("Client").Preload("Category").Preload("VehicleType").
		Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("created_at") }).Preload("Offers.DeliveryPerson").
		Preload("Offers.Vehicle").Where("id = ?", id).Take(&q).Error
	if err != nil {
		return nil, store.MapError(err, "load quote")
	}
	return &q, nil
}

// Offers lists one page of offers, newest first.
func (s *Service) Offers(ctx context.Context, f Filter) ([]store.Offer, bool, error) {
	q := s.db(ctx).Model(&store.Offer{}).Preload("DeliveryPerson").Preload("Quote").Preload("Vehicle").Order("created_at DESC")
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	// quote_id is a uuid column on PostgreSQL, which has no LOWER(uuid).
	q = search(q, f.Q, "delivery_person_id", "CAST(quote_id AS TEXT)")
	var os []store.Offer
	more, err := pageOf(q, f.Page, &os)
	return os, more, store.MapError(err, "list offers")
}

// DeliveryFilter selects one page of deliveries.
type DeliveryFilter struct {
	Filter
	Payment string // "efectivo", "nequi" or "" (any)
}

// Deliveries lists one page of deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]store.Delivery, bool, error) {
	q := s.db(ctx).Model(&store.Delivery{}).Preload("Client").Preload("DeliveryPerson").Preload("Category").Order("created_at DESC")
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Payment != "" {
		q = q.Where("payment_method = ?", f.Payment)
	}
	q = search(q, f.Q, "client_id", "delivery_person_id", "pickup_address", "delivery_address")
	var ds []store.Delivery
	more, err := pageOf(q, f.Page, &ds)
	return ds, more, store.MapError(err, "list deliveries")
}

// DeliveryDetail is what a delivery's page shows.
type DeliveryDetail struct {
	D       store.Delivery
	History []store.HistoryEvent
	Vehicle *store.Vehicle // nil: none, or deleted since
}

// Delivery is one delivery with its history and vehicle; unknown → 404.
func (s *Service) Delivery(ctx context.Context, id uuid.UUID) (*DeliveryDetail, error) {
	db := s.db(ctx)
	var d DeliveryDetail
	if err := db.Preload("Client").Preload("DeliveryPerson").Preload("Category").Where("id = ?", id).Take(&d.D).Error; err != nil {
		return nil, store.MapError(err, "load delivery")
	}
	if err := db.Preload("ChangedBy").Where("history_id = ?", d.D.HistoryID).Order("created_at, id").Find(&d.History).Error; err != nil {
		return nil, store.MapError(err, "delivery history")
	}
	if d.D.VehicleID != nil {
		var v store.Vehicle
		err := db.Preload("Type").Where("vehicle_id = ?", *d.D.VehicleID).Take(&v).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, store.MapError(err, "delivery vehicle")
		}
		if err == nil {
			d.Vehicle = &v
		}
	}
	return &d, nil
}
