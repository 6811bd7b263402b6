package store

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// The reads of an offer and an accept, as fixed SQL scanned straight into the
// models. Through GORM's Joins each of them rebuilt its column list (every
// joined table's columns, quoted and aliased) and matched every result column
// to a field by name: about a quarter of web's CPU in the accept flow
// (issue 23). They load what store.JoinQuotes, JoinOffersNoQuote and
// JoinVehicles load, minus what the renderings never show (a quote's category
// and vehicle type: their id and name). A joined row that may be missing (a
// user's current vehicle) is read with its NOT NULL columns coalesced to a
// filler of the same type, and kept only when present; TestFastLoads checks
// every loader against GORM's on both dialects.

// cols are the columns of a joined table, each as "alias.column", or
// COALESCE(alias.column, filler) for a NOT NULL column of a row that may be
// missing.
func cols(alias string, names []string, fill map[string]string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		if f, ok := fill[n]; ok {
			b.WriteString("COALESCE(" + alias + "." + n + ", " + f + ")")
		} else {
			b.WriteString(alias + "." + n)
		}
	}
	return b.String()
}

var userColNames = []string{"userid", "username", "first_name", "last_name", "email", "image_url", "gender", "phone",
	"age", "role", "is_online", "is_available", "current_vehicle_id", "is_staff", "deleted_at", "suspended_at",
	"suspension_reason", "clerk_updated_at", "created_at", "updated_at", "rating_count", "rating_sum", "stats_version"}

func userTargets(u *User) []any {
	return []any{&u.UserID, &u.Username, &u.FirstName, &u.LastName, &u.Email, &u.ImageURL, &u.Gender, &u.Phone,
		&u.Age, &u.Role, &u.IsOnline, &u.IsAvailable, &u.CurrentVehicleID, &u.IsStaff, &u.DeletedAt, &u.SuspendedAt,
		&u.SuspensionReason, &u.ClerkUpdatedAt, &u.CreatedAt, &u.UpdatedAt, &u.RatingCount, &u.RatingSum, &u.StatsVersion}
}

var vehicleColNames = []string{"vehicle_id", "user_id", "type_id", "brand", "model", "year", "license_plate", "vin",
	"color", "driver_license_status", "registration_card_status", "insurance_policy_status", "criminal_record_status",
	"is_verified", "verification_notes", "created_at", "updated_at"}

func vehicleTargets(v *Vehicle) []any {
	return []any{&v.VehicleID, &v.UserID, &v.TypeID, &v.Brand, &v.Model, &v.Year, &v.LicensePlate, &v.VIN,
		&v.Color, &v.DriverLicenseStatus, &v.RegistrationCardStatus, &v.InsurancePolicyStatus, &v.CriminalRecordStatus,
		&v.IsVerified, &v.VerificationNotes, &v.CreatedAt, &v.UpdatedAt}
}

const nilUUID = "'00000000-0000-0000-0000-000000000000'"

// vehicleFill and typeFill fill the NOT NULL columns of a missing row but
// its timestamps (scanned through pointers: SQLite's driver makes a
// time.Time only of a column declared as one, not of an expression).
var vehicleFill = map[string]string{"vehicle_id": nilUUID, "user_id": "''", "type_id": nilUUID, "brand": "''", "model": "''",
	"year": "0", "license_plate": "''", "vin": "''", "color": "''", "driver_license_status": "''",
	"registration_card_status": "''", "insurance_policy_status": "''", "criminal_record_status": "''",
	"is_verified": "false"}

var typeColNames = []string{"id", "name", "description", "max_weight_capacity_kg", "max_volume_capacity_liters",
	"passenger_capacity", "image", "is_active", "created_at", "updated_at"}

func typeTargets(t *VehicleType) []any {
	return []any{&t.ID, &t.Name, &t.Description, &t.MaxWeightCapacityKg, &t.MaxVolumeCapacityLiters,
		&t.PassengerCapacity, &t.Image, &t.IsActive, &t.CreatedAt, &t.UpdatedAt}
}

var typeFill = map[string]string{"id": nilUUID, "name": "''", "description": "''", "max_weight_capacity_kg": "0",
	"max_volume_capacity_liters": "0", "passenger_capacity": "0", "is_active": "false"}

// vehicleScan reads a vehicle that may be missing, with its type.
type vehicleScan struct {
	present bool
	v       Vehicle
	t       VehicleType
	// The timestamps of both (NULL when missing).
	vc, vu, tc, tu *time.Time
}

// vehicleSelect is the columns of vehicle alias va and its type ta, the
// first one telling whether the vehicle is there.
func vehicleSelect(va, ta string) string {
	return va + ".vehicle_id IS NOT NULL, " + cols(va, vehicleColNames, vehicleFill) + ", " + cols(ta, typeColNames, typeFill)
}

func (s *vehicleScan) targets() []any {
	vt, tt := vehicleTargets(&s.v), typeTargets(&s.t)
	vt[len(vt)-2], vt[len(vt)-1] = &s.vc, &s.vu // created_at, updated_at: last in both lists
	tt[len(tt)-2], tt[len(tt)-1] = &s.tc, &s.tu
	return append(append([]any{&s.present}, vt...), tt...)
}

// vehicle is the vehicle read, with its type (nil when missing).
func (s *vehicleScan) vehicle() *Vehicle {
	if !s.present {
		return nil
	}
	v, t := s.v, s.t
	if s.vc != nil && s.vu != nil {
		v.CreatedAt, v.UpdatedAt = *s.vc, *s.vu
	}
	if s.tc != nil && s.tu != nil {
		t.CreatedAt, t.UpdatedAt = *s.tc, *s.tu
	}
	v.Type = &t
	return &v
}

// userScan reads a user with their current vehicle and its type.
type userScan struct {
	u  User
	cv vehicleScan
}

func userSelect(ua, va, ta string) string {
	return cols(ua, userColNames, nil) + ", " + vehicleSelect(va, ta)
}

func userJoins(ua, va, ta string) string {
	return " LEFT JOIN vehicles " + va + " ON " + va + ".vehicle_id = " + ua + ".current_vehicle_id LEFT JOIN vehicle_types " +
		ta + " ON " + ta + ".id = " + va + ".type_id"
}

func (s *userScan) targets() []any { return append(userTargets(&s.u), s.cv.targets()...) }

func (s *userScan) user() *User {
	u := s.u
	u.CurrentVehicle = s.cv.vehicle()
	return &u
}

// LockedQuote is what LockQuote read.
type LockedQuote struct {
	// Quote has its Category and VehicleType (id and name only: what a
	// quote renders of them) and, when asked, its Client.
	Quote *Quote
	// Vehicle is the current vehicle (with its type) of the user asked
	// (nil: none, or not asked).
	Vehicle *Vehicle
}

// LockBy is what LockQuote finds the quote by.
type LockBy int

const (
	// ByQuote: the id is the quote's.
	ByQuote LockBy = iota
	// ByOffer: the id is one of the quote's offers'.
	ByOffer
)

// lockQuoteSQL is LockQuote's statement for each dialect, key, client and
// vehicleOf, built once: 16 strings.
var lockQuoteSQL = map[lockQuoteKey]string{}

type lockQuoteKey struct {
	dialect         string
	by              LockBy
	client, vehicle bool
}

func init() {
	for _, d := range []string{Postgres, SQLite} {
		for _, by := range []LockBy{ByQuote, ByOffer} {
			for _, client := range []bool{false, true} {
				for _, vehicle := range []bool{false, true} {
					lockQuoteSQL[lockQuoteKey{d, by, client, vehicle}] = buildLockQuote(d, by, client, vehicle)
				}
			}
		}
	}
}

func buildLockQuote(dialect string, by LockBy, client, vehicle bool) string {
	var b strings.Builder
	b.WriteString("SELECT " + cols("q", quoteCols, nil) + ", c.name, t.name")
	if client {
		b.WriteString(", " + userSelect("u", "uv", "uvt"))
	}
	if vehicle {
		b.WriteString(", " + vehicleSelect("dv", "dvt"))
	}
	b.WriteString(" FROM delivery_quotes q LEFT JOIN delivery_categories c ON c.id = q.category_id" +
		" LEFT JOIN vehicle_types t ON t.id = q.vehicle_type_id")
	if client {
		b.WriteString(" LEFT JOIN users u ON u.userid = q.client_id" + userJoins("u", "uv", "uvt"))
	}
	if vehicle {
		b.WriteString(" LEFT JOIN vehicles dv ON dv.vehicle_id = (SELECT current_vehicle_id FROM users WHERE userid = ?)" +
			" LEFT JOIN vehicle_types dvt ON dvt.id = dv.type_id")
	}
	if by == ByOffer {
		b.WriteString(" WHERE q.id = (SELECT quote_id FROM delivery_offers WHERE id = ?)")
	} else {
		b.WriteString(" WHERE q.id = ?")
	}
	if dialect == Postgres {
		b.WriteString(" FOR UPDATE OF q")
	}
	return placeholders(dialect, b.String())
}

// placeholders numbers query's ? placeholders on PostgreSQL ($1, $2, …;
// the fixed SQL here has no ? of its own).
func placeholders(dialect, query string) string {
	if dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// query runs one fixed statement on tx's connection and tells the observer.
func query(tx *gorm.DB, sql string, args ...any) (*sql.Rows, error) {
	rows, err := tx.Statement.ConnPool.QueryContext(tx.Statement.Context, sql, args...)
	observe(tx, sql)
	return rows, err
}

// LockQuote reads the quote whose id (or, by ByOffer, one of whose offers'
// id) is id and, on PostgreSQL, locks its row (FOR UPDATE OF q; SQLite
// serializes writers by BEGIN IMMEDIATE): one statement, as
// JoinQuotes(tx).Clauses(FOR UPDATE OF delivery_quotes) did. With client,
// the quote's client is read with their current vehicle and its type;
// vehicleOf ("": none) names a user whose current vehicle is read with its
// type in the same statement, as JoinVehicles by current_vehicle_id did.
// found is false when no quote matches.
func LockQuote(tx *gorm.DB, by LockBy, id uuid.UUID, client bool, vehicleOf string) (out LockedQuote, found bool, err error) {
	args := []any{id}
	if vehicleOf != "" {
		args = []any{vehicleOf, id}
	}
	rows, err := query(tx, lockQuoteSQL[lockQuoteKey{dialectOf(tx), by, client, vehicleOf != ""}], args...)
	if err != nil {
		return out, false, fmt.Errorf("lock quote: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return out, false, rows.Err()
	}
	q := &Quote{}
	var cat, vt *string
	var cs userScan
	var ds vehicleScan
	dest := append(quoteTargets(q), &cat, &vt)
	if client {
		dest = append(dest, cs.targets()...)
	}
	if vehicleOf != "" {
		dest = append(dest, ds.targets()...)
	}
	if err := rows.Scan(dest...); err != nil {
		return out, false, fmt.Errorf("lock quote: %w", err)
	}
	if cat != nil {
		q.Category = &Category{ID: q.CategoryID, Name: *cat}
	}
	if vt != nil && q.VehicleTypeID != nil {
		q.VehicleType = &VehicleType{ID: *q.VehicleTypeID, Name: *vt}
	}
	if client && cs.u.UserID != "" {
		q.Client = cs.user()
	}
	out.Quote, out.Vehicle = q, ds.vehicle()
	return out, true, rows.Close()
}

// quoteTargets are q's fields in quoteCols' order.
func quoteTargets(q *Quote) []any {
	return []any{&q.ID, &q.ClientID, &q.PickupAddress, &q.DeliveryAddress, &q.CategoryID, &q.Description,
		&q.Observations, &q.VehicleTypeID, &q.EstimatedWeight, &q.EstimatedSize, &q.ClientPrice, &q.PaymentMethod,
		&q.Status, &q.PickupLatitude, &q.PickupLongitude, &q.DeliveryLatitude, &q.DeliveryLongitude,
		&q.AutoAcceptLowest, &q.AutoAcceptAt, &q.Version, &q.CreatedAt, &q.ExpiresAt, &q.HistoryID}
}

// quoteOffersSQL is QuoteOffers' statement by dialect and by whether it reads one offer.
var quoteOffersSQL = func() map[string][2]string {
	base := "SELECT " + cols("o", offerCols, nil) + ", " + userSelect("u", "uv", "uvt") + ", " +
		vehicleSelect("ov", "ovt") +
		" FROM delivery_offers o JOIN users u ON u.userid = o.delivery_person_id" + userJoins("u", "uv", "uvt") +
		" LEFT JOIN vehicles ov ON ov.vehicle_id = o.vehicle_id LEFT JOIN vehicle_types ovt ON ovt.id = ov.type_id" +
		" WHERE o.quote_id = ?"
	const order = " ORDER BY o.created_at, o.id"
	out := map[string][2]string{}
	for _, d := range []string{Postgres, SQLite} {
		out[d] = [2]string{placeholders(d, base+order), placeholders(d, base+" AND o.id = ?"+order)}
	}
	return out
}()

// QuoteOffers reads the offers of quote quoteID (only offer id's, when not
// nil) in creation order, each with its driver (with their current vehicle
// and its type) and its vehicle (with its type), as
// JoinOffersNoQuote(tx).Where(…).Order("created_at").Order("id") did; their
// Quote is left nil.
func QuoteOffers(tx *gorm.DB, quoteID uuid.UUID, id *uuid.UUID) ([]Offer, error) {
	stmts := quoteOffersSQL[dialectOf(tx)]
	stmt, args := stmts[0], []any{quoteID}
	if id != nil {
		stmt, args = stmts[1], append(args, *id)
	}
	rows, err := query(tx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("load offers of quote %s: %w", quoteID, err)
	}
	defer rows.Close()
	var out []Offer
	for rows.Next() {
		var o Offer
		var us userScan
		var vs vehicleScan
		dest := append(append(offerTargets(&o), us.targets()...), vs.targets()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("load offers of quote %s: %w", quoteID, err)
		}
		o.Driver, o.Vehicle = us.user(), vs.vehicle()
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load offers of quote %s: %w", quoteID, err)
	}
	return out, rows.Close()
}

// offerTargets are o's fields in offerCols' order.
func offerTargets(o *Offer) []any {
	return []any{&o.ID, &o.DeliveryPersonID, &o.QuoteID, &o.ProposedPrice, &o.EstimatedDeliveryTime, &o.VehicleID,
		&o.Status, &o.Version, &o.CreatedAt, &o.UpdatedAt, &o.ExpiresAt}
}
