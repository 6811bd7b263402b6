package account

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/optional"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Choices of the user profile.
var (
	Genders = []string{"male", "female", "other"}
	Roles   = []string{store.RoleClient, store.RoleDelivery}
)

// MaxAge bounds the age field.
const MaxAge = 150

// Update applies a partial update of the caller's profile: the fields Set in
// p; CurrentVehicleID must name one of the caller's vehicles.
func (s *Service) Update(ctx context.Context, caller *store.User, p ProfilePatch) (*store.User, error) {
	userID := caller.UserID
	defer s.changed(userID)
	if err := p.Invalid.Err(); err != nil {
		return nil, err
	}
	changes := map[string]any{}
	for _, c := range []struct {
		col string
		f   optional.Field[string]
	}{{"username", p.Username}, {"first_name", p.FirstName}, {"last_name", p.LastName},
		{"gender", p.Gender}, {"phone", p.Phone}, {"role", p.Role}} {
		if c.f.Set {
			changes[c.col] = column(c.f)
		}
	}
	if p.Age.Set {
		changes["age"] = column(p.Age)
	}
	for col, v := range map[string]*bool{"is_online": p.IsOnline, "is_available": p.IsAvailable} {
		if v != nil {
			changes[col] = *v
		}
	}
	var out *store.User
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if vid := p.CurrentVehicleID; vid.Set {
			if vid.Null {
				changes["current_vehicle_id"] = nil
			} else {
				var n int64
				if err := tx.Model(&store.Vehicle{}).Where("vehicle_id = ? AND user_id = ?", vid.Value, userID).Count(&n).Error; err != nil {
					return apperr.Wrap(err, "check current vehicle")
				}
				if n == 0 {
					return apperr.Field("current_vehicle_id", apperr.MsgNoObject(vid.Value))
				}
				changes["current_vehicle_id"] = vid.Value
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

// ToggleAvailability flips is_available, or sets it to *set when set is not
// nil (idempotent), and returns the new value.
func (s *Service) ToggleAvailability(ctx context.Context, caller *store.User, set *bool) (bool, error) {
	userID := caller.UserID
	defer s.changed(userID)
	var out bool
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		q := tx.Model(&store.User{}).Where("userid = ?", userID)
		var v any = gorm.Expr("NOT is_available")
		if set != nil {
			v = *set
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

// SetCurrentVehicle sets the caller's current vehicle to vehicleID, or clears
// it when it already is the current one. It returns the new current vehicle
// id (nil when cleared). Unknown → 404, another user's → 403.
func (s *Service) SetCurrentVehicle(ctx context.Context, caller *store.User, vehicleID uuid.UUID) (*uuid.UUID, error) {
	userID := caller.UserID
	defer s.changed(userID)
	var current *uuid.UUID
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		var v store.Vehicle
		err := tx.Where("vehicle_id = ?", vehicleID).Take(&v).Error
		if store.IsNotFound(err) {
			return apperr.New(apperr.NotFound, MsgVehicleNotFound)
		}
		if err != nil {
			return apperr.Wrap(err, "load vehicle")
		}
		if v.UserID != userID {
			return apperr.New(apperr.Forbidden, MsgVehicleNotYours)
		}
		var u store.User
		if err := tx.Clauses(lockFor(tx)...).Where("userid = ?", userID).Take(&u).Error; err != nil {
			return apperr.Wrap(err, "load user")
		}
		var set any
		if u.CurrentVehicleID == nil || *u.CurrentVehicleID != v.VehicleID {
			set, current = v.VehicleID, &v.VehicleID
		}
		return store.MapError(tx.Model(&store.User{}).Where("userid = ?", userID).
			Updates(map[string]any{"current_vehicle_id": set, "updated_at": s.Store.Now()}).Error, "set current vehicle")
	})
	return current, err
}

// lockFor locks the selected rows on PostgreSQL (SQLite transactions are
// already exclusive: BEGIN IMMEDIATE).
func lockFor(tx *gorm.DB) []clause.Expression {
	if tx.Dialector.Name() == "postgres" {
		return []clause.Expression{clause.Locking{Strength: "UPDATE"}}
	}
	return nil
}

// DeleteProfile deletes the caller's profile (DELETE me/{id}/).
func (s *Service) DeleteProfile(ctx context.Context, caller *store.User) error {
	userID := caller.UserID
	defer s.changed(userID)
	return s.write(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		return s.deleteProfile(tx, userID)
	})
}

// deleteProfile is docs/data-model.md's profile deletion, inside tx: the row is
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

// column is the value a sent field writes to its column: the value, or nil
// (SQL NULL) when it was sent as null.
func column[T any](f optional.Field[T]) any {
	if f.Null {
		return nil
	}
	return f.Value
}
