package console

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/store"
)

// AuditEntry is one staff_audit row as the console shows it.
type AuditEntry struct {
	E       store.StaffAudit
	Staff   string // the staff account's username
	Changes []FieldChange
}

// FieldChange is one field's before → after ("" for null).
type FieldChange struct{ Field, Before, After string }

func decodeChanges(js string) []FieldChange {
	var m map[string][2]any
	if json.Unmarshal([]byte(js), &m) != nil {
		return nil
	}
	out := make([]FieldChange, 0, len(m))
	for k, v := range m {
		out = append(out, FieldChange{Field: k, Before: show(v[0]), After: show(v[1])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "Sí"
		}
		return "No"
	case []any:
		s := ""
		for i, e := range x {
			if i > 0 {
				s += ", "
			}
			s += show(e)
		}
		return s
	}
	return fmt.Sprint(v)
}

func (s *Service) auditRows(q *gorm.DB, page int) ([]AuditEntry, Listed, error) {
	var rows []store.StaffAudit
	l, err := pageOf(q, page, &rows, func(q *gorm.DB) *gorm.DB { return q.Preload("Staff").Order("at DESC").Order("id DESC") })
	if err != nil {
		return nil, l, store.MapError(err, "list audit entries")
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{E: r, Changes: decodeChanges(r.Changes)}
		if r.Staff != nil {
			out[i].Staff = r.Staff.Username
		}
	}
	return out, l, nil
}

// AuditOf lists an object's entries, newest first (the first page: an
// object's page shows its last PerPage actions).
func (s *Service) AuditOf(ctx context.Context, kind, id string) ([]AuditEntry, error) {
	out, _, err := s.auditRows(s.db(ctx).Model(&store.StaffAudit{}).Where("object_kind = ? AND object_id = ?", kind, id), 1)
	return out, err
}

// AuditFilter selects one page of the activity page.
type AuditFilter struct {
	Staff    *uuid.UUID // nil: every staff account
	Kind     string     // "" any
	From, To *time.Time // [From, To) instants; nil: open
	Page     int
}

// Audit lists one page of staff activity, newest first.
func (s *Service) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, Listed, error) {
	q := s.db(ctx).Model(&store.StaffAudit{})
	if f.Staff != nil {
		q = q.Where("staff_account_id = ?", *f.Staff)
	}
	if f.Kind != "" {
		q = q.Where("object_kind = ?", f.Kind)
	}
	q = Range{From: f.From, To: f.To}.apply(q, "at")
	return s.auditRows(q, f.Page)
}
