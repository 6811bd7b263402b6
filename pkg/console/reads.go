package console

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/store"
	"hermez/pkg/track"
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
	Q     string // search in plate, brand, model, VIN, owner (as users are searched)
	Page  int
}

// VehicleRow is a vehicle with its owner (nil when the row is gone).
type VehicleRow struct {
	V     store.Vehicle
	Owner *store.User
}

// Vehicles lists one page of vehicles.
func (s *Service) Vehicles(ctx context.Context, f VehicleFilter) (rows []VehicleRow, l Listed, err error) {
	q := s.db(ctx).Model(&store.Vehicle{})
	var ord func(*gorm.DB) *gorm.DB
	switch f.State {
	case VehiclesVerified:
		q = q.Where("is_verified = ?", true)
		ord = func(q *gorm.DB) *gorm.DB { return q.Order("updated_at DESC").Order("vehicle_id") }
	case VehiclesAll:
		ord = func(q *gorm.DB) *gorm.DB { return q.Order("created_at DESC").Order("vehicle_id") }
	default:
		q = q.Where("is_verified = ?", false)
		ord = func(q *gorm.DB) *gorm.DB { return q.Order("created_at ASC").Order("vehicle_id") }
	}
	if text := strings.TrimSpace(f.Q); text != "" {
		um, uargs := s.userMatch(text)
		pat := "%" + strings.ToLower(likeEscaper.Replace(text)) + "%"
		var conds []string
		var args []any
		for _, col := range []string{"license_plate", "brand", "model", "vin"} {
			conds = append(conds, "LOWER("+col+`) LIKE ? ESCAPE '\'`)
			args = append(args, pat)
		}
		conds = append(conds, "user_id IN (SELECT userid FROM users WHERE "+um+")")
		args = append(args, uargs...)
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	var vs []store.Vehicle
	if l, err = pageOf(q, f.Page, &vs, func(q *gorm.DB) *gorm.DB { return ord(q.Preload("Type")) }); err != nil {
		return nil, l, store.MapError(err, "list vehicles")
	}
	ids := make([]string, len(vs))
	for i := range vs {
		ids[i] = vs[i].UserID
	}
	own, err := s.owners(ctx, ids)
	if err != nil {
		return nil, l, err
	}
	rows = make([]VehicleRow, len(vs))
	for i := range vs {
		rows[i] = VehicleRow{V: vs[i], Owner: own[vs[i].UserID]}
	}
	return rows, l, nil
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

// User list account states (?estado=).
const (
	UsersCurrent   = "vigentes"    // not deleted (suspended included): what the dashboard counts
	UsersSuspended = "suspendidos" // suspended, not deleted
	UsersDeleted   = "eliminados"
)

// UserFilter selects one page of the user list.
type UserFilter struct {
	Q                 string // see userMatch
	Role              string // "client", "delivery" or "" (any)
	State             string // UsersCurrent, UsersSuspended, UsersDeleted or "" (any)
	StaffOnly         bool
	Available, Online bool  // only drivers available / online
	Joined            Range // created_at
	Sort              Sort  // UserSorts; default newest first
	Page              int
}

// UserSorts are the user list's sortable columns.
var UserSorts = []string{"nombre", "usuario", "correo", "rol", "alta"}

// Users lists one page of users.
func (s *Service) Users(ctx context.Context, f UserFilter) ([]store.User, Listed, error) {
	q := s.db(ctx).Model(&store.User{})
	if m, args := s.userMatch(f.Q); m != "" {
		q = q.Where(m, args...)
	}
	if f.Role != "" {
		q = q.Where("role = ?", f.Role)
	}
	switch f.State {
	case UsersCurrent:
		q = q.Where("deleted_at IS NULL")
	case UsersSuspended:
		q = q.Where("deleted_at IS NULL AND suspended_at IS NOT NULL")
	case UsersDeleted:
		q = q.Where("deleted_at IS NOT NULL")
	}
	if f.StaffOnly {
		q = q.Where("is_staff = ?", true)
	}
	if f.Available {
		q = q.Where("is_available = ?", true)
	}
	if f.Online {
		q = q.Where("is_online = ?", true)
	}
	q = f.Joined.apply(q, "created_at")
	cols := map[string]string{
		"nombre":  s.foldSQL("COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')"),
		"usuario": s.foldSQL("COALESCE(username, '')"), "correo": s.foldSQL("COALESCE(email, '')"),
		"rol": "COALESCE(role, '')", "alta": "created_at"}
	var us []store.User
	l, err := pageOf(q, f.Page, &us, func(q *gorm.DB) *gorm.DB { return order(q, f.Sort, cols, Sort{Key: "alta"}, "userid") })
	return us, l, store.MapError(err, "list users")
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

// Quote and offer list states (?estado=): a quote row is always pending
// (accepted and cancelled quotes are deleted), an offer row pending or
// rejected (accepted offers go with their quote); pending rows are current
// until they expire.
const (
	Current = "vigentes"
	Expired = "vencidas"
)

// Filter selects one page of quotes, offers or deliveries.
type Filter struct {
	Status string // quotes: Current, Expired; offers: those and rejected; deliveries: a status; "" any
	Q      string
	Dates  Range // created_at (deliveries: the DeliveryFilter's DateField)
	Sort   Sort
	Page   int
}

func (s *Service) expiry(q *gorm.DB, status string) *gorm.DB {
	switch status {
	case Current:
		return q.Where("status = ? AND expires_at > ?", store.QuotePending, s.Store.Now())
	case Expired:
		return q.Where("status = ? AND expires_at <= ?", store.QuotePending, s.Store.Now())
	}
	return q
}

// QuoteSorts, OfferSorts and DeliverySorts are the lists' sortable columns.
var (
	QuoteSorts    = []string{"creada", "precio", "vence"}
	OfferSorts    = []string{"creada", "precio", "vence"}
	DeliverySorts = []string{"creada", "precio", "estado", "pago", "cambio"}
)

// Quotes lists one page of quotes with client, category and offers.
func (s *Service) Quotes(ctx context.Context, f Filter) ([]store.Quote, Listed, error) {
	q := s.expiry(s.db(ctx).Model(&store.Quote{}), f.Status)
	q = s.peopleMatch(q, f.Q, []string{"id"}, []string{"client_id"}, "pickup_address", "delivery_address")
	q = f.Dates.apply(q, "created_at")
	cols := map[string]string{"creada": "created_at", "precio": s.money("client_price"), "vence": "expires_at"}
	var qs []store.Quote
	l, err := pageOf(q, f.Page, &qs, func(q *gorm.DB) *gorm.DB {
		return order(q.Preload("Client").Preload("Category").Preload("Offers"), f.Sort, cols, Sort{Key: "creada"}, "id")
	})
	return qs, l, store.MapError(err, "list quotes")
}

// Quote is one quote with its offers (oldest first), their drivers and
// vehicles; unknown → 404.
func (s *Service) Quote(ctx context.Context, id uuid.UUID) (*store.Quote, error) {
	var q store.Quote
	err := s.db(ctx).Preload("Client").Preload("Category").Preload("VehicleType").
		Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("created_at") }).Preload("Offers.Driver").
		Preload("Offers.Vehicle").Where("id = ?", id).Take(&q).Error
	if err != nil {
		return nil, store.MapError(err, "load quote")
	}
	return &q, nil
}

// Offers lists one page of offers.
func (s *Service) Offers(ctx context.Context, f Filter) ([]store.Offer, Listed, error) {
	q := s.db(ctx).Model(&store.Offer{})
	if f.Status == store.OfferRejected {
		q = q.Where("status = ?", store.OfferRejected)
	} else {
		q = s.expiry(q, f.Status)
	}
	// a quote's short id finds its offers too
	q = s.peopleMatch(q, f.Q, []string{"id", "quote_id"}, []string{"delivery_person_id"})
	q = f.Dates.apply(q, "created_at")
	cols := map[string]string{"creada": "created_at", "precio": s.money("proposed_price"), "vence": "expires_at"}
	var os []store.Offer
	l, err := pageOf(q, f.Page, &os, func(q *gorm.DB) *gorm.DB {
		return order(q.Preload("Driver").Preload("Quote").Preload("Vehicle"), f.Sort, cols, Sort{Key: "creada"}, "id")
	})
	return os, l, store.MapError(err, "list offers")
}

// Delivery date fields (?fecha=): which instant the date range filters.
const (
	DateCreated   = "creada"
	DateCompleted = "completada"
	DateCancelled = "cancelada"
)

// DeliveryFilter selects one page of deliveries.
type DeliveryFilter struct {
	Filter
	Payment   string // "efectivo", "nequi" or "" (any)
	DateField string // DateCreated (default), DateCompleted, DateCancelled
	Active    bool   // assigned, picked_up or in_transit
	Stuck     bool   // active past its state's threshold (StuckAssigned, StuckMoving) at the store's clock
}

// ActiveStatuses are the statuses of a delivery under way.
var ActiveStatuses = []string{store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit}

// Deliveries lists one page of deliveries.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]store.Delivery, Listed, error) {
	q := s.db(ctx).Model(&store.Delivery{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Active {
		q = q.Where("status IN ?", ActiveStatuses)
	}
	if f.Stuck {
		q = stuckWhere(q, s.Store.Now())
	}
	if f.Payment != "" {
		q = q.Where("payment_method = ?", f.Payment)
	}
	q = s.peopleMatch(q, f.Q, []string{"id"}, []string{"client_id", "delivery_person_id"}, "pickup_address", "delivery_address")
	switch f.DateField {
	case DateCompleted:
		q = f.Dates.apply(q, "completed_at")
	case DateCancelled:
		q = f.Dates.apply(q, "cancelled_at")
	default:
		q = f.Dates.apply(q, "created_at")
	}
	cols := map[string]string{"creada": "created_at", "precio": s.money("final_price"), "estado": "status",
		"pago": "payment_method", "cambio": "updated_at"}
	var ds []store.Delivery
	l, err := pageOf(q, f.Page, &ds, func(q *gorm.DB) *gorm.DB {
		return order(q.Preload("Client").Preload("Driver").Preload("Category"), f.Sort, cols, Sort{Key: "creada"}, "id")
	})
	return ds, l, store.MapError(err, "list deliveries")
}

// DeliveryDetail is what a delivery's page shows.
type DeliveryDetail struct {
	D       store.Delivery
	History []store.HistoryEvent
	Vehicle *store.Vehicle // nil: none, or deleted since
	Trail   *track.Picture // its sampled trail drawn (place.md §6); nil: no point
}

// Delivery is one delivery with its history and vehicle; unknown → 404.
func (s *Service) Delivery(ctx context.Context, id uuid.UUID) (*DeliveryDetail, error) {
	db := s.db(ctx)
	var d DeliveryDetail
	if err := db.Preload("Client").Preload("Driver").Preload("Category").Where("id = ?", id).Take(&d.D).Error; err != nil {
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
	ps, err := track.Points(ctx, s.Store, id)
	if err != nil {
		return nil, err
	}
	d.Trail = track.NewPicture(ps)
	return &d, nil
}
