// Package audit writes the staff console's audit entries (console.md
// "Knowing who did what"): one staff_audit row per console action that
// changes data, in the transaction of the change, with the staff account, the
// object, the fields touched (before → after) and the reason when one was
// asked. The table is append-only (the database refuses UPDATE and DELETE).
//
// Services take an optional *Staff: the console passes who acts; the API
// passes nil, and no entry is written.
package audit

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

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
