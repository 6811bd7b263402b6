package auth

import (
	"context"
	"errors"
	"time"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

// Authenticator turns a bearer token into the caller's user row: first sight
// creates it, non-empty differing claims refresh it, a deleted user is refused.
//
// With UserTTL > 0 the row is reused for that long (see DefaultUserTTL); every
// write to a users row in this process must call Forget.
type Authenticator struct {
	Verifier *Verifier
	Store    *store.Store
	UserTTL  time.Duration
	// KeysReady (when set) fails while the process has no key to verify
	// Clerk's tokens with (ClerkKeys.Ready): a readiness check.
	KeysReady func(ctx context.Context) error
	// Refresh (when set) keeps the Clerk keys fresh until ctx ends; the
	// process runs it with its other background loops.
	Refresh func(ctx context.Context)

	users userCache
}

// Forget drops the cached rows of these users (call it after a write to them
// commits); with no ids it still invalidates reads in flight.
func (a *Authenticator) Forget(userIDs ...string) {
	a.users.forget(userIDs...)
}

// ForgetAll drops every cached row (control frames may have been lost).
func (a *Authenticator) ForgetAll() { a.users.forgetAll() }

// Authenticate verifies token and returns the caller. Failures are
// apperr.NotAuthenticated errors (401, the message for the client); database
// trouble is returned as a plain error (500).
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*store.User, error) {
	claims, err := a.Verifier.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	p, ok := claims.Profile().Cleaned()
	if !ok {
		return nil, apperr.NotAuthenticated(MsgInvalid, errors.New("sub claim empty once cleaned of NULs, or longer than a Clerk id"))
	}
	return a.userFor(ctx, p)
}

func (a *Authenticator) userFor(ctx context.Context, p account.ClerkProfile) (*store.User, error) {
	if a.UserTTL > 0 {
		if u, ok := a.users.get(p.UserID, a.Store.Now()); ok && len(p.Changes(&u)) == 0 {
			return &u, nil
		}
	}
	gen := a.users.generation()
	u, err := account.UserFromToken(ctx, a.Store, p)
	if errors.Is(err, account.ErrUserDeleted) {
		return nil, apperr.NotAuthenticated(MsgDeleted, err)
	}
	if err != nil {
		return nil, err
	}
	if a.UserTTL > 0 {
		a.users.put(*u, gen, a.Store.Now().Add(a.UserTTL))
	}
	return u, nil
}

// SuspendedMessage is what a suspended user is told, on every authenticated
// request (403) and as the close reason of their sockets (4403).
func SuspendedMessage(reason string) string { return "Tu cuenta está suspendida: " + reason }

// Suspended returns the 403 of a suspended user (nil when u is not suspended).
func Suspended(u *store.User) error {
	if u == nil || u.SuspendedAt == nil {
		return nil
	}
	reason := ""
	if u.SuspensionReason != nil {
		reason = *u.SuspensionReason
	}
	return apperr.New(apperr.Forbidden, SuspendedMessage(reason))
}
