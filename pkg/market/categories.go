package market

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
	"hermez/pkg/store"
)

// CategoriesTTL is how long the category list is served from memory. Staff
// edit categories rarely; writes through this process (API or console) call
// CategoriesChanged, another process's writes show within the TTL.
const CategoriesTTL = 2 * time.Second

// categoryCache holds the list; gen guards against storing a list read
// before a CategoriesChanged.
type categoryCache struct {
	mu    sync.Mutex
	gen   uint64
	list  []store.Category
	until time.Time
}

// ListCategories lists every category by name. The result is shared: do not
// modify it.
func (s *Service) ListCategories(ctx context.Context) ([]store.Category, error) {
	c := &s.categories
	c.mu.Lock()
	list, fresh, gen := c.list, time.Now().Before(c.until), c.gen
	c.mu.Unlock()
	if fresh {
		return list, nil
	}
	var cs []store.Category
	if err := s.Store.DB.WithContext(ctx).Order("name").Find(&cs).Error; err != nil {
		return nil, apperr.Wrap(err, "list categories")
	}
	c.mu.Lock()
	if c.gen == gen {
		c.list, c.until = cs, time.Now().Add(CategoriesTTL)
	}
	c.mu.Unlock()
	return cs, nil
}

// CategoriesChanged drops the cached category list (after any write to categories).
func (s *Service) CategoriesChanged() {
	c := &s.categories
	c.mu.Lock()
	c.gen++
	c.list, c.until = nil, time.Time{}
	c.mu.Unlock()
}

// GetCategory is one category.
func (s *Service) GetCategory(ctx context.Context, id uuid.UUID) (*store.Category, error) {
	var c store.Category
	err := s.Store.DB.WithContext(ctx).Where("id = ?", id).Take(&c).Error
	if err != nil {
		return nil, store.MapError(err, "get category")
	}
	return &c, nil
}

func requireStaff(caller *store.User) error {
	if caller == nil || !caller.IsStaff {
		return apperr.ForbiddenErr()
	}
	return nil
}

// categoryFields applies the body to c; partial validates only what is sent.
func categoryFields(c *store.Category, b input.Body, partial bool) error {
	f := apperr.Fields{}
	if v, ok := b.String("name", f, input.StringOpts{Required: !partial, MaxLen: 100}); ok && v != nil {
		c.Name = *v
	}
	if v, ok := b.String("description", f, input.StringOpts{AllowBlank: true, Nullable: true}); ok {
		c.Description = ""
		if v != nil {
			c.Description = *v
		}
	}
	if v, ok := b.Bool("is_active", f, false); ok {
		c.IsActive = v
	}
	return f.Err()
}

func categorySaveError(err error) error {
	if store.IsUniqueViolation(err) {
		return apperr.Field("name", "Ya existe una categoría con este nombre.")
	}
	return store.MapError(err, "save category")
}

// SaveCategory creates (id nil) or updates a category: the one rule for the
// API's staff users and the staff console (which checks its own sessions).
// partial validates only what is sent (PATCH).
func (s *Service) SaveCategory(ctx context.Context, id *uuid.UUID, b input.Body, partial bool) (*store.Category, error) {
	defer s.CategoriesChanged()
	if id == nil {
		now := s.Store.Now()
		c := store.Category{ID: uuid.New(), IsActive: true, CreatedAt: now, UpdatedAt: now}
		if err := categoryFields(&c, b, false); err != nil {
			return nil, err
		}
		if err := s.Store.DB.WithContext(ctx).Create(&c).Error; err != nil {
			return nil, categorySaveError(err)
		}
		return &c, nil
	}
	var c store.Category
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		if err := s.lock(tx).Where("id = ?", *id).Take(&c).Error; err != nil {
			return err
		}
		if err := categoryFields(&c, b, partial); err != nil {
			return err
		}
		c.UpdatedAt = s.Store.Now()
		return tx.Save(&c).Error
	})
	if err != nil {
		return nil, categorySaveError(err)
	}
	return &c, nil
}

// CreateCategory adds a category (staff only).
func (s *Service) CreateCategory(ctx context.Context, caller *store.User, b input.Body) (*store.Category, error) {
	if err := requireStaff(caller); err != nil {
		return nil, err
	}
	return s.SaveCategory(ctx, nil, b, false)
}

// UpdateCategory changes a category (staff only); partial for PATCH.
func (s *Service) UpdateCategory(ctx context.Context, caller *store.User, id uuid.UUID, b input.Body, partial bool) (*store.Category, error) {
	if err := requireStaff(caller); err != nil {
		return nil, err
	}
	return s.SaveCategory(ctx, &id, b, partial)
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
