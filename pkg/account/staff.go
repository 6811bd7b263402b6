package account

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/store"
)

// The staff's side of vehicles and users: document verification, the
// vehicle types drivers choose from, and the API staff flag. The console
// (pkg/consoleweb) and `web staff` call these; none of them has a realtime event
// (docs/realtime.md: vehicle and reference-data edits publish nothing; they show
// in the next snapshot).

// DocumentStatuses are the values of a vehicle's four document statuses.
var DocumentStatuses = []string{"pending", "approved", "rejected"}

// DocumentFields are a vehicle's four document statuses: API key, column and
// label, in display order.
var DocumentFields = []struct{ Key, Column, Label string }{
	{"driverLicenseStatus", "driver_license_status", "Licencia de conducción"},
	{"registrationCardStatus", "registration_card_status", "Tarjeta de propiedad"},
	{"insurancePolicyStatus", "insurance_policy_status", "Póliza de seguro (SOAT)"},
	{"criminalRecordStatus", "criminal_record_status", "Antecedentes judiciales"},
}

// DocApproved is the status every document needs before a vehicle is verified.
const DocApproved = "approved"

// MsgNotAllApproved refuses to verify a vehicle with a document not approved.
const MsgNotAllApproved = "Solo se puede verificar un vehículo con todos sus documentos aprobados."

// VerifyVehicle sets a vehicle's document statuses, isVerified and notes
// (blank notes are none). A vehicle can be marked verified only with every
// document approved. The console's alone: by is its staff member (nil → 403).
func (s *Service) VerifyVehicle(ctx context.Context, by *audit.Staff, id uuid.UUID, in VehicleVerification) (*store.Vehicle, error) {
	if err := audit.RequireStaff(by); err != nil {
		return nil, err
	}
	f := in.Invalid.Clone()
	updates := map[string]any{}
	for _, d := range DocumentFields {
		if st, ok := in.Statuses[d.Key]; ok {
			updates[d.Column] = st
		}
	}
	if in.Verified != nil {
		updates["is_verified"] = *in.Verified
	}
	if in.Notes.Set {
		notes := in.Notes.Ptr()
		if notes != nil && *notes == "" {
			notes = nil
		}
		updates["verification_notes"] = notes
	}
	if in.Verified != nil && *in.Verified && len(in.Statuses) == len(DocumentFields) {
		for _, d := range DocumentFields {
			if in.Statuses[d.Key] != DocApproved {
				f.Add("isVerified", MsgNotAllApproved)
				break
			}
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var v store.Vehicle
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("vehicle_id = ?", id).Take(&v).Error; err != nil {
			return err
		}
		before, err := audit.Before(tx, by, "vehicles", "vehicle_id = ?", id)
		if err != nil {
			return err
		}
		now := s.Store.Now()
		updates["updated_at"] = now
		if err := tx.Model(&v).Updates(updates).Error; err != nil {
			return err
		}
		return audit.RecordRow(tx, now, by, before, "vehicles", "vehicle_id = ?", []any{id},
			audit.Entry{Kind: audit.KindVehicle, ObjectID: id.String(), Action: audit.ActionVerify})
	})
	if err != nil {
		return nil, store.MapError(err, "verify vehicle")
	}
	return &v, nil
}

const msgTypeTaken = "Ya existe un tipo de vehículo con este nombre."

// nameTaken adds the uniqueness message next to the other field messages
// (DRF reports them together); the transaction checks again.
func nameTaken(ctx context.Context, st *store.Store, f apperr.Fields, model any, name string, id *uuid.UUID, msg string) error {
	err := uniqueName(st.DB.WithContext(ctx), model, name, id, msg)
	if e, ok := apperr.As(err); ok {
		for k, v := range e.Fields {
			f[k] = append(f[k], v...)
		}
		return nil
	}
	if err != nil {
		return apperr.Wrap(err, "check name")
	}
	return nil
}

func uniqueName(tx *gorm.DB, model any, name string, id *uuid.UUID, msg string) error {
	q := tx.Model(model).Where("name = ?", name)
	if id != nil {
		q = q.Where("id <> ?", *id)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return apperr.Field("name", msg)
	}
	return nil
}

// MsgNoCategory refuses a vehicle type linked to a category that does not exist.
const MsgNoCategory = "Alguna de las categorías elegidas no existe."

// SaveVehicleType creates (id nil) or updates a vehicle type and, when
// in.SetCategories (always on create), replaces its category links. A blank
// image is none. The console's alone: by is its staff member (nil → 403).
func (s *Service) SaveVehicleType(ctx context.Context, by *audit.Staff, id *uuid.UUID, in VehicleTypeInput) (*store.VehicleType, error) {
	if err := audit.RequireStaff(by); err != nil {
		return nil, err
	}
	defer s.Store.CatalogChanged()
	f := in.Invalid.Clone()
	if !f.Has("name") {
		if err := nameTaken(ctx, s.Store, f, &store.VehicleType{}, in.Name, id, msgTypeTaken); err != nil {
			return nil, err
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	image := in.Image.Ptr()
	if image != nil && *image == "" {
		image = nil
	}
	cats := uniq(in.Categories)
	var vt store.VehicleType
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if err := uniqueName(tx, &store.VehicleType{}, in.Name, id, msgTypeTaken); err != nil {
			return err
		}
		if len(cats) > 0 {
			var n int64
			if err := tx.Model(&store.Category{}).Where("id IN ?", cats).Count(&n).Error; err != nil {
				return err
			}
			if int(n) != len(cats) {
				return apperr.Field("delivery_categories", MsgNoCategory)
			}
		}
		now := s.Store.Now()
		var before map[string]any
		if id == nil {
			vt = store.VehicleType{ID: uuid.New(), Name: in.Name, MaxWeightCapacityKg: in.MaxWeightKg, MaxVolumeCapacityLiters: in.MaxVolumeLiters,
				PassengerCapacity: in.PassengerCapacity, Image: image, IsActive: true, CreatedAt: now, UpdatedAt: now}
			if in.Description != nil {
				vt.Description = *in.Description
			}
			if in.IsActive != nil {
				vt.IsActive = *in.IsActive
			}
			if err := tx.Omit("Categories").Create(&vt).Error; err != nil {
				return err
			}
		} else {
			if err := tx.Where("id = ?", *id).Take(&vt).Error; err != nil {
				return err
			}
			var err error
			if before, err = audit.Before(tx, by, "vehicle_types", "id = ?", vt.ID); err != nil {
				return err
			}
			upd := map[string]any{"name": in.Name, "max_weight_capacity_kg": in.MaxWeightKg, "max_volume_capacity_liters": in.MaxVolumeLiters,
				"passenger_capacity": in.PassengerCapacity, "updated_at": now}
			if in.Description != nil {
				upd["description"] = *in.Description
			}
			if in.Image.Set {
				upd["image"] = image
			}
			if in.IsActive != nil {
				upd["is_active"] = *in.IsActive
			}
			if err := tx.Model(&vt).Omit("Categories").Updates(upd).Error; err != nil {
				return err
			}
		}
		if in.SetCategories || id == nil {
			if err := tx.Where("vehicle_type_id = ?", vt.ID).Delete(&store.VehicleTypeCategory{}).Error; err != nil {
				return err
			}
			for _, cid := range cats {
				if err := tx.Create(&store.VehicleTypeCategory{VehicleTypeID: vt.ID, CategoryID: cid}).Error; err != nil {
					return err
				}
			}
		}
		action := audit.ActionUpdate
		if id == nil {
			action = audit.ActionCreate
		}
		return audit.RecordRow(tx, now, by, before, "vehicle_types", "id = ?", []any{vt.ID},
			audit.Entry{Kind: audit.KindVehicleType, ObjectID: vt.ID.String(), Action: action})
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			return nil, apperr.Field("name", msgTypeTaken)
		}
		return nil, store.MapError(err, "save vehicle type")
	}
	return &vt, nil
}

func uniq(ids []uuid.UUID) []uuid.UUID {
	seen := map[uuid.UUID]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// IfUnknown says what SetStaff does for a user id with no row.
type IfUnknown int

const (
	// UnknownNotFound answers 404: the console changes users the app has seen.
	UnknownNotFound IfUnknown = iota
	// UnknownCreate creates the row, so `web staff <userid>` can grant the
	// flag before the user's first sign-in (docs/api.md); the first authenticated
	// request or Clerk webhook fills in the profile.
	UnknownCreate
)

// SetStaff sets a user's staff flag (their JWT then has staff powers in the
// API). What happens for an unknown id is the caller's explicit choice. by is
// the console's staff member (its audit entry), or nil for the operator's
// `web staff` command, which has no staff account (no entry).
func (s *Service) SetStaff(ctx context.Context, by *audit.Staff, userID string, staff bool, unknown IfUnknown) error {
	defer s.changed(userID)
	return s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		now := s.Store.Now()
		if unknown == UnknownCreate {
			u := store.User{UserID: userID, CreatedAt: now, UpdatedAt: now}
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
				return apperr.Wrap(err, "create user "+userID)
			}
		}
		before, _ := audit.Before(tx, by, "users", "userid = ?", userID) // none: a 404 below
		res := tx.Model(&store.User{}).Where("userid = ?", userID).Updates(map[string]any{"is_staff": staff, "updated_at": now})
		if res.Error != nil {
			return apperr.Wrap(res.Error, "set staff on "+userID)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFoundErr()
		}
		return audit.RecordRow(tx, now, by, before, "users", "userid = ?", []any{userID},
			audit.Entry{Kind: audit.KindUser, ObjectID: userID, Action: audit.ActionStaffFlag})
	})
}
