package market

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/store"
)

// ListCategories lists every category by name, from the store's catalog
// (store.Catalog: 2 s in memory, dropped by this process's writes). The
// result is shared: do not modify it.
func (s *Service) ListCategories(ctx context.Context) ([]store.Category, error) {
	if cs, ok := s.Store.CachedCategories(); ok {
		return cs, nil
	}
	cs, err := store.Categories(s.Store.DB.WithContext(ctx))
	if err != nil {
		return nil, apperr.Wrap(err, "list categories")
	}
	return cs, nil
}

// CategoriesChanged drops the cached categories (after any write to them).
func (s *Service) CategoriesChanged() { s.Store.CatalogChanged() }

// GetCategory is one category.
func (s *Service) GetCategory(ctx context.Context, id uuid.UUID) (*store.Category, error) {
	var c store.Category
	err := s.Store.DB.WithContext(ctx).Where("id = ?", id).Take(&c).Error
	if err != nil {
		return nil, store.MapError(err, "get category")
	}
	return &c, nil
}

// requireStaff is the API's staff check: the caller's staff flag (the
// console's staff members pass audit.RequireStaff instead).
func requireStaff(caller *store.User) error {
	if caller == nil || !caller.IsStaff {
		return apperr.ForbiddenErr()
	}
	return nil
}

// applyCategory applies the input's Set fields to c, or answers the
// decoder's field errors.
func applyCategory(c *store.Category, in CategoryInput) error {
	if err := in.Invalid.Err(); err != nil {
		return err
	}
	if in.Name.Set && !in.Name.Null {
		c.Name = in.Name.Value
	}
	if in.Description.Set {
		c.Description = in.Description.Value // "" when null
	}
	if in.IsActive.Set {
		c.IsActive = in.IsActive.Value
	}
	return nil
}

func categorySaveError(err error) error {
	if store.IsUniqueViolation(err) {
		return apperr.Field("name", "Ya existe una categoría con este nombre.")
	}
	return store.MapError(err, "save category")
}

// SaveCategory is the console's save of a category: by is its staff member
// (nil → 403; its audit entry). The API's staff users come through
// CreateCategory and UpdateCategory; both end in saveCategory.
func (s *Service) SaveCategory(ctx context.Context, by *audit.Staff, id *uuid.UUID, in CategoryInput) (*store.Category, error) {
	if err := audit.RequireStaff(by); err != nil {
		return nil, err
	}
	return s.saveCategory(ctx, by, id, in)
}

// saveCategory creates (id nil) or updates a category with the input's Set
// fields, the one rule for the API and the console (by nil: no audit entry).
// A name already taken is a field error.
func (s *Service) saveCategory(ctx context.Context, by *audit.Staff, id *uuid.UUID, in CategoryInput) (*store.Category, error) {
	defer s.CategoriesChanged()
	if id == nil {
		now := s.Store.Now()
		c := store.Category{ID: uuid.New(), IsActive: true, CreatedAt: now, UpdatedAt: now}
		if err := applyCategory(&c, in); err != nil {
			return nil, err
		}
		err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
			if err := tx.Create(&c).Error; err != nil {
				return err
			}
			return audit.RecordRow(tx, now, by, nil, "delivery_categories", "id = ?", []any{c.ID},
				audit.Entry{Kind: audit.KindCategory, ObjectID: c.ID.String(), Action: audit.ActionCreate})
		})
		if err != nil {
			return nil, categorySaveError(err)
		}
		return &c, nil
	}
	var c store.Category
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if err := s.lock(tx).Where("id = ?", *id).Take(&c).Error; err != nil {
			return err
		}
		before, err := audit.Before(tx, by, "delivery_categories", "id = ?", c.ID)
		if err != nil {
			return err
		}
		if err := applyCategory(&c, in); err != nil {
			return err
		}
		c.UpdatedAt = s.Store.Now()
		if err := tx.Save(&c).Error; err != nil {
			return err
		}
		return audit.RecordRow(tx, c.UpdatedAt, by, before, "delivery_categories", "id = ?", []any{c.ID},
			audit.Entry{Kind: audit.KindCategory, ObjectID: c.ID.String(), Action: audit.ActionUpdate})
	})
	if err != nil {
		return nil, categorySaveError(err)
	}
	return &c, nil
}

// CreateCategory adds a category (staff only).
func (s *Service) CreateCategory(ctx context.Context, caller *store.User, in CategoryInput) (*store.Category, error) {
	if err := requireStaff(caller); err != nil {
		return nil, err
	}
	return s.saveCategory(ctx, nil, nil, in)
}

// UpdateCategory changes a category's Set fields (staff only).
func (s *Service) UpdateCategory(ctx context.Context, caller *store.User, id uuid.UUID, in CategoryInput) (*store.Category, error) {
	if err := requireStaff(caller); err != nil {
		return nil, err
	}
	return s.saveCategory(ctx, nil, &id, in)
}

// DeleteCategory removes a category no quote or delivery uses (staff only).
func (s *Service) DeleteCategory(ctx context.Context, caller *store.User, id uuid.UUID) error {
	defer s.CategoriesChanged()
	if err := requireStaff(caller); err != nil {
		return err
	}
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&store.Category{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.NotFoundErr()
		}
		return nil
	})
	if store.IsForeignKeyViolation(err) || (err != nil && isRestrict(err)) {
		return apperr.New(apperr.Invalid, "La categoría está en uso y no se puede eliminar.")
	}
	if err != nil {
		return store.MapError(err, "delete category")
	}
	return nil
}

// isRestrict recognizes an ON DELETE RESTRICT refusal that the driver did not
// translate into gorm.ErrForeignKeyViolated.
func isRestrict(err error) bool {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "foreign key")
}
