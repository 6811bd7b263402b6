package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

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
	claims = cleaned(claims)
	if claims.Subject == "" || len(claims.Subject) > maxSubject {
		return nil, apperr.NotAuthenticated(MsgInvalid, fmt.Errorf("sub claim empty once cleaned of NULs, or over %d bytes", maxSubject))
	}
	return a.userFor(ctx, claims)
}

func (a *Authenticator) userFor(ctx context.Context, c *Claims) (*store.User, error) {
	if a.UserTTL > 0 {
		if u, ok := a.users.get(c.Subject, a.Store.Now()); ok && len(claimChanges(&u, c)) == 0 {
			return &u, nil
		}
	}
	gen := a.users.generation()
	u, err := a.loadUser(ctx, c)
	if err != nil {
		return nil, err
	}
	if a.UserTTL > 0 {
		a.users.put(*u, gen, a.Store.Now().Add(a.UserTTL))
	}
	return u, nil
}

func (a *Authenticator) loadUser(ctx context.Context, c *Claims) (*store.User, error) {
	db := a.Store.DB.WithContext(ctx)
	var u store.User
	err := db.Where("userid = ?", c.Subject).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		now := a.Store.Now()
		u = store.User{UserID: c.Subject, CreatedAt: now, UpdatedAt: now}
		applyClaims(&u, c)
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
			return nil, fmt.Errorf("create user %s: %w", c.Subject, err)
		}
		err = db.Where("userid = ?", c.Subject).Take(&u).Error
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", c.Subject, err)
	}
	if u.DeletedAt != nil {
		return nil, apperr.NotAuthenticated(MsgDeleted, fmt.Errorf("user %s is deleted", u.UserID))
	}
	if changes := claimChanges(&u, c); len(changes) > 0 {
		changes["updated_at"] = a.Store.Now()
		if err := db.Model(&store.User{}).Where("userid = ?", u.UserID).Updates(changes).Error; err != nil {
			return nil, fmt.Errorf("refresh user %s from token: %w", u.UserID, err)
		}
		applyClaims(&u, c)
	}
	return &u, nil
}

// claimChanges lists the non-empty claims that differ from the row (nil when
// none: the usual case, checked on every request).
func claimChanges(u *store.User, c *Claims) map[string]any {
	var m map[string]any
	set := func(col string, cur *string, v string) {
		if v != "" && (cur == nil || *cur != v) {
			if m == nil {
				m = map[string]any{}
			}
			m[col] = v
		}
	}
	set("first_name", u.FirstName, c.FirstName)
	set("last_name", u.LastName, c.LastName)
	set("username", u.Username, c.Username)
	set("image_url", u.ImageURL, c.ImageURL)
	set("email", u.Email, c.Email)
	return m
}

func applyClaims(u *store.User, c *Claims) {
	put := func(dst **string, v string) {
		if v != "" {
			s := v
			*dst = &s
		}
	}
	put(&u.FirstName, c.FirstName)
	put(&u.LastName, c.LastName)
	put(&u.Username, c.Username)
	put(&u.ImageURL, c.ImageURL)
	put(&u.Email, c.Email)
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
