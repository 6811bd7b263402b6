package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/account"
	"hermez/pkg/auth"
	"hermez/pkg/location"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/ws"
)

// watchDeletedUsers wires the hub's control side: a user_deleted frame makes
// the authenticator forget the user (and the hub closes their sockets with
// 4401); when control frames may have been lost (on a Redis Cluster: the
// master of the control channel failed, while the other groups' masters did
// not), the hub's users are checked against the database instead, and the
// sockets of those deleted meanwhile are closed the same way. Nothing else is
// closed: a deletion is the only control frame, and the database is its
// source of truth (suspended users are closed with 4403 the same way).
func watchDeletedUsers(hub *ws.Hub, authn *auth.Authenticator, st *store.Store, log *slog.Logger) {
	hub.UserDeleted = func(id string) { authn.Forget(id) }
	hub.UserChanged = func(id string) { authn.Forget(id) }
	if hub.Locations != nil {
		hub.UserDeleted = func(id string) {
			authn.Forget(id)
			forget(hub.Locations, id, log)
		}
	}
	hub.ControlLost = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := closeDeletedUsers(ctx, hub, authn, st)
		if err != nil {
			// The check could not be made: fall back to the conservative rule.
			log.Error("control frames may have been lost and the users could not be checked: closing every socket", "err", err)
			hub.Reset()
			return
		}
		log.Warn("control frames may have been lost: checked the connected users against the database", "deleted", n)
	}
}

// closeDeletedUsers closes the local sockets of users deleted (4401) or
// suspended (4403) in the database, and returns how many users that was.
func closeDeletedUsers(ctx context.Context, hub *ws.Hub, authn *auth.Authenticator, st *store.Store) (int, error) {
	gone, err := account.BarredAmong(ctx, st, hub.Users())
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, u := range gone {
		authn.Forget(u.UserID)
		if u.DeletedAt != nil {
			hub.CloseUser(u.UserID, ws.CloseUnauthorized, ws.ReasonDeleted)
		} else {
			reason := ""
			if u.SuspensionReason != nil {
				reason = *u.SuspensionReason
			}
			hub.CloseUser(u.UserID, ws.CloseForbidden, auth.SuspendedMessage(reason))
		}
		deleted++
	}
	return deleted, nil
}

// watchControl keeps a web process that serves no sockets (WORKER_URL set)
// listening to the control frames: a suspension, reinstatement or deletion
// made by another web instance reaches this one's user cache at once instead
// of after its TTL; when frames may have been lost, the whole cache goes.
func watchControl(sub realtime.Subscriber, authn *auth.Authenticator, log *slog.Logger) func(ctx context.Context) {
	return func(ctx context.Context) {
		handle := func(m realtime.Message) {
			if m.Group != realtime.GroupControl {
				return
			}
			var c ws.Control
			if err := json.Unmarshal(m.Payload, &c); err != nil || c.User == "" {
				return
			}
			authn.Forget(c.User)
		}
		reset := func([]string) { authn.ForgetAll() }
		if err := sub.Run(ctx, handle, reset); err != nil && ctx.Err() == nil {
			log.Error("control subscription ended", "err", err)
		}
	}
}

// forgetLocation wraps the profile-deletion hook: the deleted user's current
// location is forgotten at once (place.md §3), whichever path deleted them
// (DELETE me/{id}/, the Clerk webhook, the console). A failure is logged and
// never fails the deletion: the location expires by itself within its TTL,
// and every worker forgets it again on the user_deleted control frame.
func forgetLocation(next account.DeleteHook, locs *location.Store, log *slog.Logger) account.DeleteHook {
	return func(tx *gorm.DB, userID string) ([]realtime.Message, error) {
		msgs, err := next(tx, userID)
		if err == nil {
			forget(locs, userID, log)
		}
		return msgs, err
	}
}

func forget(locs *location.Store, userID string, log *slog.Logger) {
	if locs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := locs.Forget(ctx, userID); err != nil {
		log.Warn("could not forget a deleted user's location (it expires by itself)", "user", userID, "err", err)
	}
}
