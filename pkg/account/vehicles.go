package account

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

// DocPending is the initial status of every vehicle document.
const DocPending = "pending"

// VehicleTypes lists every vehicle type by name, with its categories.
func (s *Service) VehicleTypes(ctx context.Context, p store.Page) ([]store.VehicleType, error) {
	var out []store.VehicleType
	err := p.Apply(s.Store.DB.WithContext(ctx).Preload("Categories", func(db *gorm.DB) *gorm.DB { return db.Order("name") }).
		Order("name")).Find(&out).Error
	return out, store.MapError(err, "list vehicle types")
}

// Vehicles lists the caller's vehicles, oldest first.
func (s *Service) Vehicles(ctx context.Context, caller *store.User, p store.Page) ([]store.Vehicle, error) {
	userID := caller.UserID
	var out []store.Vehicle
	err := p.Apply(store.PreloadVehicle(s.Store.DB.WithContext(ctx), "").Where("user_id = ?", userID).
		Order("created_at").Order("vehicle_id")).Find(&out).Error
	return out, store.MapError(err, "list vehicles")
}

// Vehicle is one of the caller's vehicles (another's → 404).
func (s *Service) Vehicle(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Vehicle, error) {
	return ownVehicle(s.Store.DB.WithContext(ctx), caller.UserID, id)
}

func ownVehicle(tx *gorm.DB, userID string, id uuid.UUID) (*store.Vehicle, error) {
	var v store.Vehicle
	err := store.PreloadVehicle(tx, "").Where("vehicle_id = ? AND user_id = ?", id, userID).Take(&v).Error
	if store.IsNotFound(err) {
		return nil, apperr.NotFoundErr()
	}
	if err != nil {
		return nil, apperr.Wrap(err, "load vehicle")
	}
	return &v, nil
}

// Bounds of a vehicle's year: from MinVehicleYear to next year.
const MinVehicleYear = 1900

// MaxVehicleYear is the latest year a vehicle may have at now: next year's
// models are sold already.
func MaxVehicleYear(now time.Time) int { return now.UTC().Year() + 1 }

// applyVehicle applies the fields sent onto v, plate and VIN in upper case,
// after checking inside tx that a new type exists and is active (its error
// joins the decoding errors, as DRF reports them together), then that the
// plate and VIN are nobody else's. It reports whether an identifying field
// (type, plate, VIN) changed.
func applyVehicle(tx *gorm.DB, in VehicleInput, v *store.Vehicle) (identityChanged bool, err error) {
	f := in.Invalid.Clone()
	if id := in.TypeID; id != nil {
		var t store.VehicleType
		err := tx.Where("id = ?", *id).Take(&t).Error
		switch {
		case store.IsNotFound(err), err == nil && !t.IsActive:
			f.Add("type_id", apperr.MsgNoObject(*id))
		case err != nil:
			return false, apperr.Wrap(err, "load vehicle type")
		case t.ID != v.TypeID:
			v.TypeID, v.Type, identityChanged = t.ID, nil, true
		}
	}
	set := func(src *string, dst *string, upper bool) bool {
		if src == nil {
			return false
		}
		s := *src
		if upper {
			s = strings.ToUpper(s)
		}
		changed := s != *dst
		*dst = s
		return changed
	}
	set(in.Brand, &v.Brand, false)
	set(in.Model, &v.Model, false)
	set(in.Color, &v.Color, false)
	if set(in.LicensePlate, &v.LicensePlate, true) {
		identityChanged = true
	}
	if set(in.VIN, &v.VIN, true) {
		identityChanged = true
	}
	if in.Year != nil {
		v.Year = *in.Year
	}
	if err := f.Err(); err != nil {
		return false, err
	}
	return identityChanged, checkUnique(tx, v)
}

// checkUnique refuses a licensePlate or vin another vehicle already has.
func checkUnique(tx *gorm.DB, v *store.Vehicle) error {
	f := apperr.Fields{}
	for _, c := range []struct{ col, field, val, msg string }{
		{"license_plate", "licensePlate", v.LicensePlate, MsgPlateTaken},
		{"vin", "vin", v.VIN, MsgVINTaken},
	} {
		var n int64
		if err := tx.Model(&store.Vehicle{}).Where(c.col+" = ? AND vehicle_id <> ?", c.val, v.VehicleID).Count(&n).Error; err != nil {
			return apperr.Wrap(err, "check unique "+c.col)
		}
		if n > 0 {
			f.Add(c.field, c.msg)
		}
	}
	return f.Err()
}

// uniqueErr turns a unique violation that raced past checkUnique into the field error.
func uniqueErr(err error, what string) error {
	if store.IsUniqueViolation(err) {
		return apperr.Field(apperr.NonField, "Ya existe un vehículo con esta placa o VIN.")
	}
	return store.MapError(err, what)
}

// CreateVehicle registers a vehicle for the caller; its documents start pending.
func (s *Service) CreateVehicle(ctx context.Context, caller *store.User, in VehicleInput) (*store.Vehicle, error) {
	userID := caller.UserID
	var out *store.Vehicle
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		now := s.Store.Now()
		v := store.Vehicle{VehicleID: uuid.New(), UserID: userID, DriverLicenseStatus: DocPending,
			RegistrationCardStatus: DocPending, InsurancePolicyStatus: DocPending, CriminalRecordStatus: DocPending,
			CreatedAt: now, UpdatedAt: now}
		if _, err := applyVehicle(tx, in, &v); err != nil {
			return err
		}
		if err := tx.Omit("Type").Create(&v).Error; err != nil {
			return uniqueErr(err, "create vehicle")
		}
		got, err := ownVehicle(tx, userID, v.VehicleID)
		out = got
		return err
	})
	return out, err
}

// UpdateVehicle updates one of the caller's vehicles with the fields sent.
// Changing the type, plate or VIN withdraws the staff verification.
func (s *Service) UpdateVehicle(ctx context.Context, caller *store.User, id uuid.UUID, in VehicleInput) (*store.Vehicle, error) {
	userID := caller.UserID
	defer s.changed(userID)
	var out *store.Vehicle
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		v, err := ownVehicle(tx, userID, id)
		if err != nil {
			return err
		}
		changed, err := applyVehicle(tx, in, v)
		if err != nil {
			return err
		}
		if changed {
			v.IsVerified = false
		}
		v.UpdatedAt = s.Store.Now()
		if err := tx.Omit("Type").Select("*").Save(v).Error; err != nil {
			return uniqueErr(err, "update vehicle")
		}
		got, err := ownVehicle(tx, userID, id)
		out = got
		return err
	})
	return out, err
}

// DeleteVehicle deletes one of the caller's vehicles; one used by a delivery
// or an offer is kept (400).
func (s *Service) DeleteVehicle(ctx context.Context, caller *store.User, id uuid.UUID) error {
	userID := caller.UserID
	defer s.changed(userID)
	return s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if _, err := ownVehicle(tx, userID, id); err != nil {
			return err
		}
		var used int64
		err := tx.Raw(`SELECT (SELECT COUNT(*) FROM deliveries WHERE vehicle_id = ?) + (SELECT COUNT(*) FROM delivery_offers WHERE vehicle_id = ?)`, id, id).
			Scan(&used).Error
		if err != nil {
			return apperr.Wrap(err, "check vehicle use")
		}
		if used > 0 {
			return apperr.New(apperr.Invalid, MsgVehicleInUse)
		}
		return store.MapError(tx.Where("vehicle_id = ?", id).Delete(&store.Vehicle{}).Error, "delete vehicle")
	})
}
