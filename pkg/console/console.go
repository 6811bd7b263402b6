// Package console is the service behind the staff console, whose web side
// (pages, sessions, login limit at /admin/) is pkg/consoleweb: the console's
// reads (dashboard counts, searchable and paged lists of every table, one row
// with what its page shows, trends, the staff audit trail) and the console's
// own logins (staff accounts, and `web createsuperuser`, which makes one).
// The console's writes go to the services that own their rules: vehicle
// verification, vehicle types and the staff flag to pkg/account, categories
// to pkg/market. pkg/consoleweb renders what this package returns and never
// queries the store itself.
package console

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"hermez/pkg/store"
)

// Service answers the console's queries.
type Service struct {
	Store *store.Store
}

// New makes the service.
func New(st *store.Store) *Service { return &Service{Store: st} }

func (s *Service) db(ctx context.Context) *gorm.DB { return s.Store.DB.WithContext(ctx) }

// PerPage is the length of one page of a console list.
const PerPage = 50

// maxPage bounds ?pagina= (offsets beyond it are refused as page 1).
const maxPage = 100000

// Listed is what a list page says about its rows: how many match the
// filter in all and whether another page follows.
type Listed struct {
	Total int64
	More  bool
}

// pageOf counts the rows of q (a filtered query, without preloads) and loads
// page n (1-based; out of range reads as 1) of finish(q) (its order and
// preloads) into out.
func pageOf[T any](q *gorm.DB, n int, out *[]T, finish func(*gorm.DB) *gorm.DB) (Listed, error) {
	if n < 1 || n >= maxPage {
		n = 1
	}
	var l Listed
	if err := q.Session(&gorm.Session{}).Count(&l.Total).Error; err != nil {
		return l, err
	}
	if err := finish(q).Limit(PerPage + 1).Offset((n - 1) * PerPage).Find(out).Error; err != nil {
		return l, err
	}
	if len(*out) > PerPage {
		*out = (*out)[:PerPage]
		l.More = true
	}
	return l, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// OneOf returns v when it is one of allowed, "" otherwise (a filter value
// from a query string).
func OneOf(v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return ""
}
