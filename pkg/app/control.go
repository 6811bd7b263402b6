package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"hermez/pkg/auth"
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
// source of truth.
func watchDeletedUsers(hub *ws.Hub, authn *auth.Authenticator, st *store.Store, log *slog.Logger) {
	hub.UserDeleted = func(id string) { authn.Forget(id) }
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

// closeDeletedUsers closes (4401) the local sockets of users deleted in the
// database, and returns how many users that was.
func closeDeletedUsers(ctx context.Context, hub *ws.Hub, authn *auth.Authenticator, st *store.Store) (int, error) {
	users := hub.Users()
	deleted := 0
	const chunk = 500
	for i := 0; i < len(users); i += chunk {
		var gone []string
		err := st.DB.WithContext(ctx).Model(&store.User{}).
			Where("userid IN ? AND deleted_at IS NOT NULL", users[i:min(i+chunk, len(users))]).
			Pluck("userid", &gone).Error
		if err != nil {
			return deleted, fmt.Errorf("check deleted users: %w", err)
		}
		for _, id := range gone {
			authn.Forget(id)
			hub.CloseUser(id, ws.CloseUnauthorized, ws.ReasonDeleted)
			deleted++
		}
	}
	return deleted, nil
}
