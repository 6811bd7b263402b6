package account

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/store"
)

// The staff's side of vehicles and users: document verification, the
// vehicle types drivers choose from, and the API staff flag. The console
// (pkg/admin) and `web staff` call these; none of them has a realtime event
// (realtime.md: vehicle and reference-data edits publish nothing; they show
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

// VerifyVehicle sets a vehicle's document statuses, isVerified and notes.
// A vehicle can be marked verified only with every document approved.
func (s *Service) VerifyVehicle(ctx context.Context, id uuid.UUID, b input.Body) (*store.Vehicle, error) {
	f := apperr.Fields{}
	updates := map[string]any{}
	statuses := map[string]string{}
	for _, d := range DocumentFields {
		v, ok := b.String(d.Key, f, input.StringOpts{Required: true, Choices: DocumentStatuses})
		if ok && v != nil {
			updates[d.Column] = *v
			statuses[d.Key] = *v
		}
	}
	verified, vok := b.Bool("isVerified", f, true)
	if vok {
		updates["is_verified"] = verified
	}
	notes, nok := b.String("verificationNotes", f, input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: 2000})
	if nok {
		if notes != nil && *notes == "" {
			notes = nil
		}
		updates["verification_notes"] = notes
	}
	if vok && verified && len(statuses) == len(DocumentFields) {
		for _, s := range statuses {
			if s != "approved" {
				f.Add("isVerified", "Solo se puede verificar un vehículo con todos sus documentos aprobados.")
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
		updates["updated_at"] = s.Store.Now()
		return tx.Model(&v).Updates(updates).Error
	})
	if err != nil {
		return nil, store.MapError(err, "verify vehicle")
	}
	return &v, nil
}

const msgTypeTaken = "Ya existe un tipo de vehículo con este nombre."

// nameTaken adds the uniqueness message next to the other field messages
// (DRF reports them together); the transaction checks again.
func nameTaken(ctx context.Context, st *store.Store, f apperr.Fields, model any, name *string, id *uuid.UUID, msg string) error {
	if name == nil {
		return nil
	}
	err := uniqueName(st.DB.WithContext(ctx), model, *name, id, msg)
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

// SaveVehicleType creates (id nil) or updates a vehicle type and its
// category links ("delivery_categories": a list of category ids).
func (s *Service) SaveVehicleType(ctx context.Context, id *uuid.UUID, b input.Body) (*store.VehicleType, error) {
	f := apperr.Fields{}
	name, _ := b.String("name", f, input.StringOpts{Required: true, MaxLen: 100})
	desc, _ := b.String("description", f, input.StringOpts{AllowBlank: true})
	kg, _ := b.Decimal("max_weight_capacity_kg", f, 10, 2, true, false)
	liters, _ := b.Decimal("max_volume_capacity_liters", f, 10, 2, true, false)
	pax, _ := b.IntIn("passenger_capacity", f, input.IntOpts{Required: true, Min: 0, Max: input.MaxInt32})
	image, imageSent := b.String("image", f, input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: 200})
	active, activeSent := b.Bool("is_active", f, false)
	catIDs, catsSent := b.StringList("delivery_categories", f)
	for _, p := range []struct {
		key string
		d   *decimal.Decimal
	}{{"max_weight_capacity_kg", kg}, {"max_volume_capacity_liters", liters}} {
		if p.d != nil && p.d.IsNegative() {
			f.Add(p.key, "Asegúrese de que este valor sea mayor o igual a 0.")
		}
	}
	if image != nil && *image == "" {
		image = nil
	}
	if image != nil {
		u, err := url.Parse(*image)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.Add("image", "Introduzca una URL válida.")
		}
	}
	var cats []uuid.UUID
	for _, s := range catIDs {
		cid, err := uuid.Parse(strings.TrimSpace(s))
		if err != nil {
			f.Add("delivery_categories", fmt.Sprintf("Clave primaria %q inválida - objeto no existe.", s))
			continue
		}
		cats = append(cats, cid)
	}
	if err := nameTaken(ctx, s.Store, f, &store.VehicleType{}, name, id, msgTypeTaken); err != nil {
		return nil, err
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var vt store.VehicleType
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if err := uniqueName(tx, &store.VehicleType{}, *name, id, msgTypeTaken); err != nil {
			return err
		}
		if len(cats) > 0 {
			var n int64
			if err := tx.Model(&store.Category{}).Where("id IN ?", cats).Count(&n).Error; err != nil {
				return err
			}
			if int(n) != len(uniq(cats)) {
				return apperr.Field("delivery_categories", "Alguna de las categorías elegidas no existe.")
			}
		}
		now := s.Store.Now()
		if id == nil {
			vt = store.VehicleType{ID: uuid.New(), Name: *name, MaxWeightCapacityKg: *kg, MaxVolumeCapacityLiters: *liters,
				PassengerCapacity: int(*pax), Image: image, IsActive: true, CreatedAt: now, UpdatedAt: now}
			if desc != nil {
				vt.Description = *desc
			}
			if activeSent {
				vt.IsActive = active
			}
			if err := tx.Omit("Categories").Create(&vt).Error; err != nil {
				return err
			}
		} else {
			if err := tx.Where("id = ?", *id).Take(&vt).Error; err != nil {
				return err
			}
			upd := map[string]any{"name": *name, "max_weight_capacity_kg": *kg, "max_volume_capacity_liters": *liters,
				"passenger_capacity": int(*pax), "updated_at": now}
			if desc != nil {
				upd["description"] = *desc
			}
			if imageSent {
				upd["image"] = image
			}
			if activeSent {
				upd["is_active"] = active
			}
			if err := tx.Model(&vt).Omit("Categories").Updates(upd).Error; err != nil {
				return err
			}
		}
		if catsSent || id == nil {
			if err := tx.Where("vehicle_type_id = ?", vt.ID).Delete(&store.VehicleTypeCategory{}).Error; err != nil {
				return err
			}
			for _, cid := range uniq(cats) {
				if err := tx.Create(&store.VehicleTypeCategory{VehicleTypeID: vt.ID, CategoryID: cid}).Error; err != nil {
					return err
				}
			}
		}
		return nil
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
	// flag before the user's first sign-in (api.md); the first authenticated
	// request or Clerk webhook fills in the profile.
	UnknownCreate
)

// SetStaff sets a user's staff flag (their JWT then has staff powers in the
// API). What happens for an unknown id is the caller's explicit choice.
func (s *Service) SetStaff(ctx context.Context, userID string, staff bool, unknown IfUnknown) error {
	defer s.changed(userID)
	return s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		now := s.Store.Now()
		if unknown == UnknownCreate {
			u := store.User{UserID: userID, CreatedAt: now, UpdatedAt: now}
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
				return apperr.Wrap(err, "create user "+userID)
			}
		}
		res := tx.Model(&store.User{}).Where("userid = ?", userID).Updates(map[string]any{"is_staff": staff, "updated_at": now})
		if res.Error != nil {
			return apperr.Wrap(res.Error, "set staff on "+userID)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFoundErr()
		}
		return nil
	})
}
