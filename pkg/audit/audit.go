// Package audit writes the staff console's audit entries (console.md
// "Knowing who did what"): one staff_audit row per console action that
// changes data, in the transaction of the change, with the staff account, the
// object, the fields touched (before → after) and the reason when one was
// asked. The table is append-only (the database refuses UPDATE and DELETE).
//
// Who acts is an explicit argument, never a context value: a service method
// the console calls takes `by *Staff` right after ctx (the staff member of
// the console's session), checks it with RequireStaff and records with it,
// as the API's methods take `caller *store.User`. A nil by writes no entry
// (the operator's command line: `web staff`).
package audit

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

// Staff is the staff account acting in the console.
type Staff struct {
	ID       uuid.UUID
	Username string
}

// Object kinds.
const (
	KindVehicle      = "vehicle"
	KindCategory     = "category"
	KindVehicleType  = "vehicle_type"
	KindUser         = "user"
	KindStaffAccount = "staff_account"
	KindDelivery     = "delivery"
)

// Kinds are the object kinds in the order the console offers them.
var Kinds = []string{KindDelivery, KindUser, KindVehicle, KindCategory, KindVehicleType, KindStaffAccount}

// Actions.
const (
	ActionCreate     = "create"
	ActionUpdate     = "update"
	ActionVerify     = "verify"
	ActionStaffFlag  = "staff_flag"
	ActionActivate   = "activate"
	ActionDeactivate = "deactivate"
	ActionCancel     = "cancel"
	ActionSuspend    = "suspend"
	ActionReinstate  = "reinstate"
)

// Changes maps each field touched to [before, after].
type Changes map[string][2]any

// Set records field's before and after when they differ.
func (c Changes) Set(field string, before, after any) {
	if fmt.Sprint(before) == fmt.Sprint(after) {
		return
	}
	c[field] = [2]any{before, after}
}

// Entry is one action to record.
type Entry struct {
	Kind, ObjectID, Action string
	Changes                Changes
	Reason                 string // "" none
}

// Record writes e for by inside tx at now; by nil (not a console action)
// writes nothing.
func Record(tx *gorm.DB, now time.Time, by *Staff, e Entry) error {
	if by == nil {
		return nil
	}
	if e.Changes == nil {
		e.Changes = Changes{}
	}
	js, err := json.Marshal(e.Changes)
	if err != nil {
		return fmt.Errorf("audit changes: %w", err)
	}
	row := store.StaffAudit{ID: uuid.New(), At: now, StaffAccountID: by.ID, ObjectKind: e.Kind, ObjectID: e.ObjectID,
		Action: e.Action, Changes: string(js)}
	if e.Reason != "" {
		r := e.Reason
		row.Reason = &r
	}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("write audit entry %s %s %s: %w", e.Kind, e.ObjectID, e.Action, err)
	}
	return nil
}

// RequireStaff is the staff check of the console's actions, inside the
// services that own them: 403 unless a staff member acts.
func RequireStaff(by *Staff) error {
	if by == nil {
		return apperr.ForbiddenErr()
	}
	return nil
}

// Before reads the row an update is about to change (Row), for RecordRow's
// difference; nil, with nothing read, when no staff member acts.
func Before(tx *gorm.DB, by *Staff, table, where string, args ...any) (map[string]any, error) {
	if by == nil {
		return nil, nil
	}
	return Row(tx, table, where, args...)
}

// Row reads one row of table as column → value (for Diff), inside tx.
func Row(tx *gorm.DB, table, where string, args ...any) (map[string]any, error) {
	m := map[string]any{}
	if err := tx.Table(table).Where(where, args...).Take(&m).Error; err != nil {
		return nil, err
	}
	return m, nil
}

// Diff lists the columns whose values differ between two Row reads
// (updated_at and version skipped), as text (nil stays null).
func Diff(before, after map[string]any) Changes {
	c := Changes{}
	for k, a := range after {
		if k == "updated_at" || k == "version" || k == "created_at" {
			continue
		}
		b := norm(before[k])
		c.Set(k, b, norm(a))
	}
	return c
}

func norm(v any) any {
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			return nil
		}
		return x.UTC().Format(time.RFC3339)
	case int64:
		// SQLite stores booleans as integers: shown as they are.
		return x
	}
	return fmt.Sprint(v)
}

// RecordRow records by's entry whose changes are the difference of before
// and the row as it is now in tx (nothing when by is nil or nothing changed).
func RecordRow(tx *gorm.DB, now time.Time, by *Staff, before map[string]any, table, where string, args []any, e Entry) error {
	if by == nil {
		return nil
	}
	after, err := Row(tx, table, where, args...)
	if err != nil {
		return fmt.Errorf("audit: read %s after: %w", table, err)
	}
	if before == nil {
		before = map[string]any{}
	}
	e.Changes = Diff(before, after)
	if len(e.Changes) == 0 && e.Reason == "" {
		return nil
	}
	return Record(tx, now, by, e)
}
