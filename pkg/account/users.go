package account

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Choices of the user profile.
var (
	Genders = []string{"male", "female", "other"}
	Roles   = []string{"client", "delivery"}
)

// MaxAge bounds the age field.
const MaxAge = 150

// Update applies a partial update of the caller's profile. Writable: username,
// first_name, last_name, gender, phone, age, role, is_online, is_available,
// current_vehicle_id (one of the caller's vehicles). Anything else is ignored.
func (s *Service) Update(ctx context.Context, userID string, b input.Body) (*store.User, error) {
	defer s.changed(userID)
	f := apperr.Fields{}
	changes := map[string]any{}
	str := func(key string, o input.StringOpts) {
		if v, ok := b.String(key, f, o); ok {
			changes[key] = strOrNil(v)
		}
	}
	str("username", input.StringOpts{Nullable: true, MaxLen: 150})
	str("first_name", input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: 150})
	str("last_name", input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: 150})
	str("gender", input.StringOpts{Nullable: true, Choices: Genders})
	str("phone", input.StringOpts{Nullable: true, MaxLen: 10})
	str("role", input.StringOpts{Nullable: true, Choices: Roles})
	if v, ok := b.IntIn("age", f, input.IntOpts{Nullable: true, Min: 0, Max: MaxAge}); ok {
		if v == nil {
			changes["age"] = nil
		} else {
			changes["age"] = int(*v)
		}
	}
	for _, key := range []string{"is_online", "is_available"} {
		if v, ok := b.Bool(key, f, false); ok {
			changes[key] = v
		}
	}
	vehicleID, setVehicle := b.UUID("current_vehicle_id", f, false, true)
	if err := f.Err(); err != nil {
		return nil, err
	}
	var out *store.User
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if setVehicle {
			if vehicleID == nil {
				changes["current_vehicle_id"] = nil
			} else {
				var n int64
				if err := tx.Model(&store.Vehicle{}).Where("vehicle_id = ? AND user_id = ?", *vehicleID, userID).Count(&n).Error; err != nil {
					return apperr.Wrap(err, "check current vehicle")
				}
				if n == 0 {
					return apperr.Field("current_vehicle_id", msgNoObject(*vehicleID))
				}
				changes["current_vehicle_id"] = *vehicleID
			}
		}
		if len(changes) > 0 {
			changes["updated_at"] = s.Store.Now()
			if err := tx.Model(&store.User{}).Where("userid = ?", userID).Updates(changes).Error; err != nil {
				return apperr.Wrap(err, "update user "+userID)
			}
		}
		u, err := loadUser(tx, userID)
		out = u
		return err
	})
	return out, err
}

// ToggleAvailability flips is_available, or sets it when the body carries
// {"is_available": bool} (idempotent), and returns the new value.
func (s *Service) ToggleAvailability(ctx context.Context, userID string, b input.Body) (bool, error) {
	defer s.changed(userID)
	f := apperr.Fields{}
	val, set := b.Bool("is_available", f, false)
	if err := f.Err(); err != nil {
		return false, err
	}
	var out bool
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		q := tx.Model(&store.User{}).Where("userid = ?", userID)
		var v any = gorm.Expr("NOT is_available")
		if set {
			v = val
		}
		if err := q.Updates(map[string]any{"is_available": v, "updated_at": s.Store.Now()}).Error; err != nil {
			return apperr.Wrap(err, "toggle availability")
		}
		var u store.User
		if err := tx.Select("is_available").Where("userid = ?", userID).Take(&u).Error; err != nil {
			return apperr.Wrap(err, "read availability")
		}
		out = u.IsAvailable
		return nil
	})
	return out, err
}

// SetCurrentVehicle sets the caller's current vehicle from {"vehicle_id"} (or
// "vehicleId"), or clears it when it already is the current one. It returns a
// message and the new current vehicle id (nil when cleared). Missing → 400,
// unknown → 404, another user's → 403.
func (s *Service) SetCurrentVehicle(ctx context.Context, userID string, b input.Body) (string, *uuid.UUID, error) {
	defer s.changed(userID)
	key := b.First("vehicle_id", "vehicleId")
	if key == "" || b.IsNull(key) {
		return "", nil, apperr.Field("vehicle_id", apperr.MsgRequired)
	}
	f := apperr.Fields{}
	id, _ := b.UUID(key, f, true, false)
	if err := f.Err(); err != nil {
		return "", nil, err
	}
	var (
		msg     string
		current *uuid.UUID
	)
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		var v store.Vehicle
		err := tx.Where("vehicle_id = ?", *id).Take(&v).Error
		if store.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "Vehículo no encontrado.")
		}
		if err != nil {
			return apperr.Wrap(err, "load vehicle")
		}
		if v.UserID != userID {
			return apperr.New(apperr.Forbidden, "Este vehículo no te pertenece.")
		}
		var u store.User
		if err := tx.Clauses(lockFor(tx)...).Where("userid = ?", userID).Take(&u).Error; err != nil {
			return apperr.Wrap(err, "load user")
		}
		var set any
		if u.CurrentVehicleID != nil && *u.CurrentVehicleID == v.VehicleID {
			msg = "Vehículo actual removido."
		} else {
			msg, set, current = "Vehículo actual establecido.", v.VehicleID, &v.VehicleID
		}
		return store.MapError(tx.Model(&store.User{}).Where("userid = ?", userID).
			Updates(map[string]any{"current_vehicle_id": set, "updated_at": s.Store.Now()}).Error, "set current vehicle")
	})
	return msg, current, err
}

// lockFor locks the selected rows on PostgreSQL (SQLite transactions are
// already exclusive: BEGIN IMMEDIATE).
func lockFor(tx *gorm.DB) []clause.Expression {
	if tx.Dialector.Name() == "postgres" {
		return []clause.Expression{clause.Locking{Strength: "UPDATE"}}
	}
	return nil
}

// DeleteProfile deletes userID's profile (DELETE me/{id}/).
func (s *Service) DeleteProfile(ctx context.Context, userID string) error {
	defer s.changed(userID)
	return s.write(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		return s.deleteProfile(tx, userID)
	})
}

// deleteProfile is data-model.md's profile deletion, inside tx: the row is
// kept (created already deleted for an id never seen) with deleted_at set and
// personal fields cleared; the marketplace hook removes open quotes and pending
// offers; addresses and unreferenced vehicles are deleted; deliveries, ratings
// and history stay. The returned frames end with the user_deleted control frame.
func (s *Service) deleteProfile(tx *gorm.DB, userID string) ([]realtime.Message, error) {
	now := s.Store.Now()
	tomb := store.User{UserID: userID, DeletedAt: &now, CreatedAt: now, UpdatedAt: now}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&tomb).Error; err != nil {
		return nil, apperr.Wrap(err, "tombstone user "+userID)
	}
	var msgs []realtime.Message
	if s.OnDelete != nil {
		m, err := s.OnDelete(tx, userID)
		if err != nil {
			return nil, store.MapError(err, "remove the marketplace items of "+userID)
		}
		msgs = append(msgs, m...)
	}
	if err := tx.Model(&store.User{}).Where("userid = ? AND deleted_at IS NULL", userID).Update("deleted_at", now).Error; err != nil {
		return nil, apperr.Wrap(err, "mark user deleted")
	}
	clear := map[string]any{
		"username": nil, "first_name": nil, "last_name": nil, "email": nil, "image_url": nil,
		"phone": nil, "age": nil, "gender": nil, "is_online": false, "is_available": false,
		"current_vehicle_id": nil, "updated_at": now,
	}
	if err := tx.Model(&store.User{}).Where("userid = ?", userID).Updates(clear).Error; err != nil {
		return nil, apperr.Wrap(err, "clear personal fields")
	}
	if err := tx.Where("user_id = ?", userID).Delete(&store.Address{}).Error; err != nil {
		return nil, apperr.Wrap(err, "delete addresses")
	}
	err := tx.Where("user_id = ?", userID).
		Where("NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.vehicle_id = vehicles.vehicle_id)").
		Where("NOT EXISTS (SELECT 1 FROM delivery_offers o WHERE o.vehicle_id = vehicles.vehicle_id)").
		Delete(&store.Vehicle{}).Error
	if err != nil {
		return nil, apperr.Wrap(err, "delete vehicles")
	}
	payload, _ := json.Marshal(map[string]string{"type": realtime.ControlUserDeleted, "user": userID})
	msgs = append(msgs, realtime.RawMessage(realtime.GroupControl, realtime.ControlUserDeleted, payload))
	return msgs, nil
}
