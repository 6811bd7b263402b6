package account

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Suspension (console.md "Acting"): staff suspend an app user with a reason
// and reinstate them. While suspended the user's token still authenticates
// (so the reason reaches them) and authorizes nothing: every authenticated
// request answers 403 with auth.SuspendedMessage, their sockets are closed
// (4403) and new ones refused. The control frames below tell every worker
// (and every web, see app.watchControl) at once.

// MaxReasonLen bounds a staff reason (suspension, reinstatement, cancellation).
const MaxReasonLen = 300

// Messages of the suspension forms.
const (
	MsgReasonTooLong    = "Asegúrese de que este campo no tenga más de 300 caracteres."
	MsgAlreadySuspended = "Este usuario ya está suspendido."
	MsgNotSuspended     = "Este usuario no está suspendido."
	MsgSuspendDeleted   = "Este usuario eliminó su cuenta: no se puede suspender."
)

// Reason validates a staff reason: required, at most MaxReasonLen characters,
// no U+0000. The error names field.
func Reason(field, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", apperr.Field(field, apperr.MsgRequired)
	case utf8.RuneCountInString(reason) > MaxReasonLen:
		return "", apperr.Field(field, MsgReasonTooLong)
	case strings.ContainsRune(reason, 0) || !utf8.ValidString(reason):
		return "", apperr.Field(field, apperr.MsgInvalidValue)
	}
	return reason, nil
}

// SuspendHook runs inside the suspension's transaction: the marketplace
// cancels the user's pending quotes and withdraws their pending offers, and
// returns the frames announcing it (the profile deletion's hook).
type SuspendHook = DeleteHook

// BarredAmong returns the users among userIDs who are deleted or suspended
// (userid, deleted_at and suspension_reason loaded): the check a socket
// process makes when control frames may have been lost. It reads in chunks
// of 500 ids.
func BarredAmong(ctx context.Context, st *store.Store, userIDs []string) ([]store.User, error) {
	const chunk = 500
	var out []store.User
	for i := 0; i < len(userIDs); i += chunk {
		var gone []store.User
		err := st.DB.WithContext(ctx).Model(&store.User{}).Select("userid", "deleted_at", "suspension_reason").
			Where("userid IN ? AND (deleted_at IS NOT NULL OR suspended_at IS NOT NULL)", userIDs[i:min(i+chunk, len(userIDs))]).
			Find(&gone).Error
		if err != nil {
			return out, fmt.Errorf("check deleted users: %w", err)
		}
		out = append(out, gone...)
	}
	return out, nil
}

// Suspend suspends userID for reason (required); by is the console's staff
// member acting (nil → 403; its audit entry). Unknown → 404; deleted or
// already suspended → 400.
func (s *Service) Suspend(ctx context.Context, by *audit.Staff, userID, reason string) error {
	if err := audit.RequireStaff(by); err != nil {
		return err
	}
	reason, err := Reason("reason", reason)
	if err != nil {
		return err
	}
	defer s.changed(userID)
	return s.write(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		u, err := lockUser(tx, userID)
		if err != nil {
			return nil, err
		}
		switch {
		case u.DeletedAt != nil:
			return nil, apperr.Field("reason", MsgSuspendDeleted)
		case u.SuspendedAt != nil:
			return nil, apperr.Field("reason", MsgAlreadySuspended)
		}
		now := s.Store.Now()
		if err := tx.Model(&store.User{}).Where("userid = ?", userID).
			Updates(map[string]any{"suspended_at": now, "suspension_reason": reason, "is_online": false, "is_available": false, "updated_at": now}).Error; err != nil {
			return nil, apperr.Wrap(err, "suspend user "+userID)
		}
		var msgs []realtime.Message
		if s.OnSuspend != nil {
			m, err := s.OnSuspend(tx, userID)
			if err != nil {
				return nil, store.MapError(err, "withdraw the marketplace items of "+userID)
			}
			msgs = append(msgs, m...)
		}
		ch := audit.Changes{}
		ch.Set("suspended_at", nil, now.UTC().Format("2006-01-02T15:04:05Z"))
		ch.Set("suspension_reason", nil, reason)
		ch.Set("is_online", u.IsOnline, false)
		ch.Set("is_available", u.IsAvailable, false)
		if err := audit.Record(tx, now, by, audit.Entry{Kind: audit.KindUser, ObjectID: userID, Action: audit.ActionSuspend, Changes: ch, Reason: reason}); err != nil {
			return nil, err
		}
		return append(msgs, controlFrame(realtime.ControlUserSuspended, userID, reason)), nil
	})
}

// Reinstate lifts userID's suspension (reason required): access returns at
// once; nothing cancelled comes back. by as for Suspend. Unknown → 404; not
// suspended → 400.
func (s *Service) Reinstate(ctx context.Context, by *audit.Staff, userID, reason string) error {
	if err := audit.RequireStaff(by); err != nil {
		return err
	}
	reason, err := Reason("reason", reason)
	if err != nil {
		return err
	}
	defer s.changed(userID)
	return s.write(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		u, err := lockUser(tx, userID)
		if err != nil {
			return nil, err
		}
		if u.SuspendedAt == nil {
			return nil, apperr.Field("reason", MsgNotSuspended)
		}
		now := s.Store.Now()
		if err := tx.Model(&store.User{}).Where("userid = ?", userID).
			Updates(map[string]any{"suspended_at": nil, "suspension_reason": nil, "updated_at": now}).Error; err != nil {
			return nil, apperr.Wrap(err, "reinstate user "+userID)
		}
		ch := audit.Changes{}
		ch.Set("suspended_at", u.SuspendedAt.UTC().Format("2006-01-02T15:04:05Z"), nil)
		ch.Set("suspension_reason", strOrNil(u.SuspensionReason), nil)
		if err := audit.Record(tx, now, by, audit.Entry{Kind: audit.KindUser, ObjectID: userID, Action: audit.ActionReinstate, Changes: ch, Reason: reason}); err != nil {
			return nil, err
		}
		return []realtime.Message{controlFrame(realtime.ControlUserReinstated, userID, "")}, nil
	})
}

func lockUser(tx *gorm.DB, userID string) (*store.User, error) {
	var u store.User
	err := tx.Clauses(lockFor(tx)...).Where("userid = ?", userID).Take(&u).Error
	if store.IsNotFound(err) {
		return nil, apperr.NotFoundErr()
	}
	if err != nil {
		return nil, apperr.Wrap(err, "load user "+userID)
	}
	return &u, nil
}

// controlFrame is a GroupControl frame about user (reason: the suspension's).
func controlFrame(typ, user, reason string) realtime.Message {
	m := map[string]string{"type": typ, "user": user}
	if reason != "" {
		m["reason"] = reason
	}
	payload, _ := json.Marshal(m)
	return realtime.RawMessage(realtime.GroupControl, typ, payload)
}
