package account

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/store"
)

// AddressTypes are the allowed address types.
var AddressTypes = []string{"casa", "trabajo", "edificio"}

// Addresses lists the caller's addresses (favorites first, then by name).
func (s *Service) Addresses(ctx context.Context, userID string, p store.Page) ([]store.Address, error) {
	var out []store.Address
	err := p.Apply(s.Store.DB.WithContext(ctx).Where("user_id = ?", userID).
		Order("is_favorite DESC").Order("name").Order("address_id")).Find(&out).Error
	return out, store.MapError(err, "list addresses")
}

// Address is one of the caller's addresses (another's → 404).
func (s *Service) Address(ctx context.Context, userID string, id uuid.UUID) (*store.Address, error) {
	return ownAddress(s.Store.DB.WithContext(ctx), userID, id)
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

// readAddress applies the body to a (required fields enforced when create).
func readAddress(b input.Body, a *store.Address, create bool) error {
	f := apperr.Fields{}
	set := func(key string, dst *string, o input.StringOpts) {
		if v, ok := b.String(key, f, o); ok && v != nil {
			*dst = *v
		}
	}
	set("name", &a.Name, input.StringOpts{Required: create, MaxLen: 100})
	set("description", &a.Description, input.StringOpts{AllowBlank: true, MaxLen: 255})
	set("type", &a.Type, input.StringOpts{Required: create, Choices: AddressTypes})
	set("address", &a.Address, input.StringOpts{Required: create, MaxLen: 100})
	set("city", &a.City, input.StringOpts{Required: create, MaxLen: 50})
	if key := b.First("isFavorite", "is_favorite"); key != "" {
		if v, ok := b.Bool(key, f, false); ok {
			a.IsFavorite = v
		}
	}
	return f.Err()
}

// CreateAddress creates an address owned by the caller (userId in the body is ignored).
func (s *Service) CreateAddress(ctx context.Context, userID string, b input.Body) (*store.Address, error) {
	a := store.Address{AddressID: uuid.New(), UserID: userID}
	if err := readAddress(b, &a, true); err != nil {
		return nil, err
	}
	if err := s.Store.DB.WithContext(ctx).Create(&a).Error; err != nil {
		return nil, apperr.Wrap(err, "create address")
	}
	return &a, nil
}

// UpdateAddress updates one of the caller's addresses with the fields sent.
func (s *Service) UpdateAddress(ctx context.Context, userID string, id uuid.UUID, b input.Body) (*store.Address, error) {
	var out *store.Address
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		a, err := ownAddress(tx, userID, id)
		if err != nil {
			return err
		}
		if err := readAddress(b, a, false); err != nil {
			return err
		}
		out = a
		return store.MapError(tx.Select("*").Save(a).Error, "update address")
	})
	return out, err
}

// DeleteAddress deletes one of the caller's addresses.
func (s *Service) DeleteAddress(ctx context.Context, userID string, id uuid.UUID) error {
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
func (s *Service) ToggleFavorite(ctx context.Context, userID string, id uuid.UUID) (*store.Address, error) {
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
