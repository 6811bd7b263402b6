package account

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/geo"
	"hermez/pkg/store"
)

// AddressTypes are the allowed address types.
var AddressTypes = []string{"casa", "trabajo", "edificio"}

// Addresses lists the caller's addresses (favorites first, then by name).
func (s *Service) Addresses(ctx context.Context, caller *store.User, p store.Page) ([]store.Address, error) {
	userID := caller.UserID
	var out []store.Address
	err := p.Apply(s.Store.DB.WithContext(ctx).Where("user_id = ?", userID).
		Order("is_favorite DESC").Order("name").Order("address_id")).Find(&out).Error
	return out, store.MapError(err, "list addresses")
}

// Address is one of the caller's addresses (another's → 404).
func (s *Service) Address(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Address, error) {
	return ownAddress(s.Store.DB.WithContext(ctx), caller.UserID, id)
}

func ownAddress(tx *gorm.DB, userID string, id uuid.UUID) (*store.Address, error) {
	var a store.Address
	err := tx.Where("address_id = ? AND user_id = ?", id, userID).Take(&a).Error
	if store.IsNotFound(err) {
		return nil, apperr.NotFoundErr()
	}
	if err != nil {
		return nil, apperr.Wrap(err, "load address")
	}
	return &a, nil
}

// applyAddress copies the fields sent onto a and answers the decoder's field
// errors with the pair rule's (place.md §1) as one 400.
func applyAddress(in AddressInput, a *store.Address) error {
	for _, p := range []struct{ src, dst *string }{
		{in.Name, &a.Name}, {in.Description, &a.Description}, {in.Type, &a.Type}, {in.Address, &a.Address}, {in.City, &a.City},
	} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	if in.IsFavorite != nil {
		a.IsFavorite = *in.IsFavorite
	}
	f := in.Invalid.Clone()
	p := geo.Pair{Lat: a.Latitude, Lng: a.Longitude}.Merge(f, in.Latitude, in.Longitude, "latitude", "longitude")
	a.Latitude, a.Longitude = p.Lat, p.Lng
	return f.Err()
}

// CreateAddress creates an address owned by the caller.
func (s *Service) CreateAddress(ctx context.Context, caller *store.User, in AddressInput) (*store.Address, error) {
	userID := caller.UserID
	a := store.Address{AddressID: uuid.New(), UserID: userID}
	if err := applyAddress(in, &a); err != nil {
		return nil, err
	}
	if err := s.Store.DB.WithContext(ctx).Create(&a).Error; err != nil {
		return nil, apperr.Wrap(err, "create address")
	}
	return &a, nil
}

// UpdateAddress updates one of the caller's addresses with the fields sent
// (another's → 404, before the fields are judged).
func (s *Service) UpdateAddress(ctx context.Context, caller *store.User, id uuid.UUID, in AddressInput) (*store.Address, error) {
	userID := caller.UserID
	var out *store.Address
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		a, err := ownAddress(tx, userID, id)
		if err != nil {
			return err
		}
		if err := applyAddress(in, a); err != nil {
			return err
		}
		out = a
		return store.MapError(tx.Select("*").Save(a).Error, "update address")
	})
	return out, err
}

// DeleteAddress deletes one of the caller's addresses.
func (s *Service) DeleteAddress(ctx context.Context, caller *store.User, id uuid.UUID) error {
	userID := caller.UserID
	res := s.Store.DB.WithContext(ctx).Where("address_id = ? AND user_id = ?", id, userID).Delete(&store.Address{})
	if res.Error != nil {
		return apperr.Wrap(res.Error, "delete address")
	}
	if res.RowsAffected == 0 {
		return apperr.NotFoundErr()
	}
	return nil
}

// ToggleFavorite flips isFavorite of one of the caller's addresses.
func (s *Service) ToggleFavorite(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Address, error) {
	userID := caller.UserID
	var out *store.Address
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&store.Address{}).Where("address_id = ? AND user_id = ?", id, userID).
			Update("is_favorite", gorm.Expr("NOT is_favorite"))
		if res.Error != nil {
			return apperr.Wrap(res.Error, "toggle favorite")
		}
		if res.RowsAffected == 0 {
			return apperr.NotFoundErr()
		}
		a, err := ownAddress(tx, userID, id)
		out = a
		return err
	})
	return out, err
}
