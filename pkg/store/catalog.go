package store

import (
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// CatalogTTL is how long the catalog is served from memory. Staff edit
// categories and vehicle types rarely; writes through this process call
// Store.CatalogChanged, another process's writes show within the TTL.
const CatalogTTL = 2 * time.Second

// Catalog caches the reference rows that staff manage and nearly every
// rendering reads: the categories and, for each vehicle type, its categories.
// A write that renders a vehicle type (an offer, an accept, a quote of a
// client with a vehicle) takes its categories from here instead of a
// statement of its own; a miss (a type created by another process within the
// TTL) falls back to the database.
//
// It is attached to the store's GORM instance as a plugin, so every session
// and transaction of the store reaches it (catalogOf); tests with stores of
// their own have catalogs of their own.
type Catalog struct {
	mu    sync.Mutex
	gen   uint64
	until time.Time
	data  *catalogData
	now   func() time.Time // the store's clock (Store.Now)
}

func (c *Catalog) clock() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

type catalogData struct {
	list       []Category // every category, by name
	categories map[uuid.UUID]Category
	types      map[uuid.UUID][]Category // every vehicle type, with its categories in name order
	names      map[uuid.UUID]string     // every vehicle type's name
}

const catalogPlugin = "hermez:catalog"

// CatalogQueryTag opens the catalog's two loading statements (a comment, so
// they are told apart in the database's logs and by statement counters: they
// run at most once per CatalogTTL per process, whatever the requests).
const CatalogQueryTag = "/* hermez:catalog */"

// Name implements gorm.Plugin.
func (*Catalog) Name() string { return catalogPlugin }

// Initialize implements gorm.Plugin.
func (*Catalog) Initialize(*gorm.DB) error { return nil }

// catalogOf is the catalog of tx's store (nil for a bare GORM instance).
func catalogOf(tx *gorm.DB) *Catalog {
	c, _ := tx.Config.Plugins[catalogPlugin].(*Catalog)
	return c
}

// Changed drops the cached catalog (after a write to categories, vehicle
// types or their links).
func (c *Catalog) Changed() {
	c.mu.Lock()
	c.gen++
	c.data, c.until = nil, time.Time{}
	c.mu.Unlock()
}

// get is the catalog, loaded with tx (two statements) when it is older than
// the TTL. Loading in the caller's transaction keeps to its connection: a
// request never waits for a second connection of the pool.
func (c *Catalog) get(tx *gorm.DB) (*catalogData, error) {
	c.mu.Lock()
	d, fresh, gen := c.data, c.clock().Before(c.until), c.gen
	c.mu.Unlock()
	if fresh {
		return d, nil
	}
	return c.load(tx, gen)
}

// fresh is the catalog while it is younger than the TTL, else nil.
func (c *Catalog) fresh() *catalogData {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clock().Before(c.until) {
		return c.data
	}
	return nil
}

// load reads the catalog with tx and keeps it unless it changed (gen) meanwhile.
func (c *Catalog) load(tx *gorm.DB, gen uint64) (*catalogData, error) {
	var cats []Category
	if err := tx.Raw(CatalogQueryTag + " SELECT * FROM delivery_categories ORDER BY name, id").Scan(&cats).Error; err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	var links []struct {
		VehicleTypeID uuid.UUID
		Name          string
		CategoryID    *uuid.UUID
	}
	if err := tx.Raw(CatalogQueryTag + ` SELECT t.id AS vehicle_type_id, t.name, l.category_id FROM vehicle_types t
		LEFT JOIN vehicle_type_categories l ON l.vehicle_type_id = t.id`).Scan(&links).Error; err != nil {
		return nil, fmt.Errorf("load vehicle type categories: %w", err)
	}
	d := &catalogData{list: cats, categories: make(map[uuid.UUID]Category, len(cats)), types: map[uuid.UUID][]Category{},
		names: map[uuid.UUID]string{}}
	rank := make(map[uuid.UUID]int, len(cats))
	for i, cat := range cats {
		d.categories[cat.ID] = cat
		rank[cat.ID] = i
	}
	for _, l := range links {
		d.names[l.VehicleTypeID] = l.Name
		list := d.types[l.VehicleTypeID]
		if l.CategoryID != nil {
			if cat, ok := d.categories[*l.CategoryID]; ok {
				list = append(list, cat)
			}
		}
		if list == nil {
			list = []Category{}
		}
		d.types[l.VehicleTypeID] = list
	}
	for _, list := range d.types {
		sortByRank(list, rank)
	}
	c.mu.Lock()
	if c.gen == gen {
		c.data, c.until = d, c.clock().Add(CatalogTTL)
	}
	c.mu.Unlock()
	return d, nil
}

// sortByRank orders a short list by the categories' name order (insertion sort).
func sortByRank(list []Category, rank map[uuid.UUID]int) {
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && rank[list[j].ID] < rank[list[j-1].ID]; j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
}

// Categories is every category by name, from the catalog (shared: do not
// modify it); without a catalog (a bare GORM instance), from the database.
func Categories(tx *gorm.DB) ([]Category, error) {
	if c := catalogOf(tx); c != nil {
		d, err := c.get(tx)
		if err != nil {
			return nil, err
		}
		return d.list, nil
	}
	var cs []Category
	if err := tx.Order("name").Order("id").Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	return cs, nil
}

// CachedCategories is Categories while the store's catalog is fresh, without
// a database session (a GET of the categories needs none: making one was
// 5 of its allocations, issue 23 §2); ok is false when the catalog must be
// loaded: call Categories.
func (s *Store) CachedCategories() (list []Category, ok bool) {
	if d := s.catalog.fresh(); d != nil {
		return d.list, true
	}
	return nil, false
}

// ActiveCategory is category id when it exists and is active; ok is false
// when the catalog cannot tell (not cached: ask the database).
func ActiveCategory(tx *gorm.DB, id uuid.UUID) (cat *Category, ok bool, err error) {
	c := catalogOf(tx)
	if c == nil {
		return nil, false, nil
	}
	d, err := c.get(tx)
	if err != nil {
		return nil, false, err
	}
	found, exists := d.categories[id]
	if !exists {
		return nil, false, nil
	}
	if !found.IsActive {
		return nil, true, nil
	}
	return &found, true, nil
}

// VehicleTypeName is the name of vehicle type id; ok is false when the
// catalog does not hold it (ask the database).
func VehicleTypeName(tx *gorm.DB, id uuid.UUID) (name string, ok bool, err error) {
	c := catalogOf(tx)
	if c == nil {
		return "", false, nil
	}
	d, err := c.get(tx)
	if err != nil {
		return "", false, err
	}
	if _, held := d.types[id]; !held {
		return "", false, nil
	}
	return d.names[id], true, nil
}

// typeCategories are the categories of each vehicle type in ids (copies);
// ok is false when the catalog does not hold every one of them.
func typeCategories(tx *gorm.DB, ids []uuid.UUID) (byType map[uuid.UUID][]Category, ok bool, err error) {
	c := catalogOf(tx)
	if c == nil {
		return nil, false, nil
	}
	d, err := c.get(tx)
	if err != nil {
		return nil, false, err
	}
	byType = make(map[uuid.UUID][]Category, len(ids))
	for _, id := range ids {
		list, held := d.types[id]
		if !held {
			return nil, false, nil
		}
		byType[id] = append([]Category{}, list...)
	}
	return byType, true, nil
}

// CatalogChanged drops the cached catalog: call it after a write to
// categories, vehicle types or their links.
func (s *Store) CatalogChanged() { s.catalog.Changed() }
