package account

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Clerk event types the sync applies.
const (
	ClerkUserCreated = "user.created"
	ClerkUserUpdated = "user.updated"
	ClerkUserDeleted = "user.deleted"
)

type clerkEmail struct {
	ID           string `json:"id"`
	EmailAddress string `json:"email_address"`
}

type clerkUser struct {
	ID                    string          `json:"id"`
	Username              *string         `json:"username"`
	FirstName             *string         `json:"first_name"`
	LastName              *string         `json:"last_name"`
	ImageURL              *string         `json:"image_url"`
	EmailAddresses        []clerkEmail    `json:"email_addresses"`
	PrimaryEmailAddressID *string         `json:"primary_email_address_id"`
	PublicMetadata        json.RawMessage `json:"public_metadata"`
	UpdatedAt             *int64          `json:"updated_at"` // milliseconds since the epoch
}

// Bounds of Clerk's data as stored, from the webhook or a token's claims:
// ids (Clerk's are about 32 characters; a longer one is refused), names as
// the API bounds them (150), an e-mail address (254), a URL (2048).
const (
	maxClerkID = 255
	maxName    = 150
	maxEmail   = 254
	maxURL     = 2048
)

// maxClerkMillis is the last millisecond PostgreSQL's timestamptz holds
// comfortably (year 9999); a later updated_at is ignored, not stored.
var maxClerkMillis = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()

// clean cuts Clerk's strings to their bounds (never refused: Clerk would
// retry) and drops an updated_at no timestamp can hold.
func (u *clerkUser) clean() {
	cut := func(p *string, n int) {
		if p != nil {
			*p = clip(*p, n)
		}
	}
	cut(u.Username, maxName)
	cut(u.FirstName, maxName)
	cut(u.LastName, maxName)
	cut(u.ImageURL, maxURL)
	for i := range u.EmailAddresses {
		u.EmailAddresses[i].EmailAddress = clip(u.EmailAddresses[i].EmailAddress, maxEmail)
	}
	if u.UpdatedAt != nil && (*u.UpdatedAt <= 0 || *u.UpdatedAt > maxClerkMillis) {
		u.UpdatedAt = nil
	}
}

func (u *clerkUser) primaryEmail() *string {
	for _, e := range u.EmailAddresses {
		if u.PrimaryEmailAddressID != nil && e.ID == *u.PrimaryEmailAddressID && e.EmailAddress != "" {
			return &e.EmailAddress
		}
	}
	for _, e := range u.EmailAddresses {
		if e.EmailAddress != "" {
			return &e.EmailAddress
		}
	}
	return nil
}

func (u *clerkUser) role() *string {
	var md struct {
		Role any `json:"role"`
	}
	if len(u.PublicMetadata) == 0 || json.Unmarshal(u.PublicMetadata, &md) != nil {
		return nil
	}
	if r, ok := md.Role.(string); ok && (r == store.RoleClient || r == store.RoleDelivery) {
		return &r
	}
	return nil
}

func nonEmpty(p *string) any {
	if p == nil || *p == "" {
		return nil
	}
	return *p
}

// ClerkResult tells what a webhook delivery did (for logs and tests).
type ClerkResult string

// Outcomes of ApplyClerkEvent.
const (
	ClerkApplied   ClerkResult = "applied"
	ClerkDuplicate ClerkResult = "duplicate" // this svix-id was applied before
	ClerkStale     ClerkResult = "stale"     // older than the last applied event, or the user is deleted
	ClerkIgnored   ClerkResult = "ignored"   // another event type
)

// ApplyClerkEvent applies one verified Clerk webhook body. svixID makes it
// idempotent (Svix retries for about 28 hours): a redelivered id is
// acknowledged and not applied again. A body without type or data is a 400.
//
// Clerk's data is cleaned of U+0000 (PostgreSQL refuses it), never refused:
// Clerk would retry a refused event for days.
func (s *Service) ApplyClerkEvent(ctx context.Context, svixID string, payload []byte) (ClerkResult, error) {
	svixID, payload = clip(stripNUL(svixID), maxClerkID), cleanJSON(payload)
	var ev struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", apperr.New(apperr.Invalid, apperr.MsgMalformed)
	}
	data := bytes.TrimSpace(ev.Data)
	if ev.Type == "" || len(data) == 0 || data[0] != '{' {
		return "", apperr.New(apperr.Invalid, MsgBadWebhook)
	}
	var u clerkUser
	isUser := ev.Type == ClerkUserCreated || ev.Type == ClerkUserUpdated || ev.Type == ClerkUserDeleted
	if isUser {
		if err := json.Unmarshal(data, &u); err != nil || u.ID == "" || len(u.ID) > maxClerkID {
			return "", apperr.New(apperr.Invalid, MsgBadWebhook)
		}
		u.clean()
	}
	if isUser {
		defer s.changed(u.ID)
	}
	result := ClerkIgnored
	err := s.write(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		if svixID != "" {
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).
				Create(&store.WebhookEvent{SvixID: svixID, EventType: ev.Type, ReceivedAt: s.Store.Now()})
			if res.Error != nil {
				return nil, apperr.Wrap(res.Error, "record webhook event")
			}
			if res.RowsAffected == 0 {
				result = ClerkDuplicate
				return nil, nil
			}
		}
		switch ev.Type {
		case ClerkUserCreated, ClerkUserUpdated:
			r, err := upsertClerkUser(tx, &u, s.Store.Now())
			result = r
			return nil, err
		case ClerkUserDeleted:
			result = ClerkApplied
			return s.deleteProfile(tx, u.ID)
		}
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "clerk webhook", "svix_id", svixID, "type", ev.Type, "user", u.ID, "result", string(result))
	return result, nil
}

// upsertClerkUser creates or refreshes the user from a user.created/updated
// payload, unless the user is deleted or the event is older than the last one applied.
func upsertClerkUser(tx *gorm.DB, cu *clerkUser, now time.Time) (ClerkResult, error) {
	var updatedAt *time.Time
	if cu.UpdatedAt != nil && *cu.UpdatedAt > 0 {
		t := time.UnixMilli(*cu.UpdatedAt).UTC()
		updatedAt = &t
	}
	fields := map[string]any{
		"username": nonEmpty(cu.Username), "first_name": nonEmpty(cu.FirstName), "last_name": nonEmpty(cu.LastName),
		"image_url": nonEmpty(cu.ImageURL), "email": nonEmpty(cu.primaryEmail()), "updated_at": now,
	}
	if r := cu.role(); r != nil {
		fields["role"] = *r
	}
	if updatedAt != nil {
		fields["clerk_updated_at"] = *updatedAt
	}
	// A first sight creates the row; a concurrent creation falls through to the update.
	row := store.User{UserID: cu.ID, CreatedAt: now, UpdatedAt: now, ClerkUpdatedAt: updatedAt}
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return "", apperr.Wrap(res.Error, "create user "+cu.ID)
	}
	var u store.User
	q := tx
	if tx.Dialector.Name() == "postgres" {
		q = tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("userid = ?", cu.ID).Take(&u).Error; err != nil {
		return "", apperr.Wrap(err, "load user "+cu.ID)
	}
	if u.DeletedAt != nil {
		return ClerkStale, nil
	}
	if res.RowsAffected == 0 && updatedAt != nil && u.ClerkUpdatedAt != nil && updatedAt.Before(*u.ClerkUpdatedAt) {
		return ClerkStale, nil
	}
	if err := tx.Model(&store.User{}).Where("userid = ?", cu.ID).Updates(fields).Error; err != nil {
		return "", apperr.Wrap(err, "sync user "+cu.ID)
	}
	return ClerkApplied, nil
}

// WebhookRetention is how long applied svix-ids are remembered (Svix retries
// for about 28 hours; docs/data-model.md keeps them 7 days).
const WebhookRetention = 7 * 24 * time.Hour

// PurgeWebhookEvents deletes webhook_events rows received more than
// WebhookRetention ago and returns how many it removed. The runner's purge
// job calls it.
func (s *Service) PurgeWebhookEvents(ctx context.Context) (int64, error) {
	res := s.Store.DB.WithContext(ctx).Where("received_at < ?", s.Store.Now().Add(-WebhookRetention)).Delete(&store.WebhookEvent{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge webhook events: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// ClerkProfile is what a Clerk session token says about its user: the
// claims Hermez stores (pkg/auth verifies the token and calls UserFromToken).
type ClerkProfile struct {
	UserID, FirstName, LastName, Username, Email, ImageURL string
}

// Cleaned returns p without U+0000 (and bytes that are not UTF-8), names,
// e-mail and image URL cut to their bounds: Clerk's data is cleaned, never
// refused, and PostgreSQL refuses the character (and an index entry past
// 2.7 KB). A clean p is returned as is. ok is false when the id is empty once
// cleaned or longer than any Clerk id: that token is refused.
func (p ClerkProfile) Cleaned() (_ ClerkProfile, ok bool) {
	if p.needsCleaning() {
		p.UserID = stripNUL(p.UserID)
		for _, f := range []struct {
			p   *string
			max int
		}{{&p.FirstName, maxName}, {&p.LastName, maxName}, {&p.Username, maxName}, {&p.Email, maxEmail}, {&p.ImageURL, maxURL}} {
			*f.p = clip(stripNUL(*f.p), f.max)
		}
	}
	return p, p.UserID != "" && len(p.UserID) <= maxClerkID
}

func (p *ClerkProfile) needsCleaning() bool {
	for _, f := range []struct {
		s   string
		max int
	}{{p.UserID, maxClerkID}, {p.FirstName, maxName}, {p.LastName, maxName}, {p.Username, maxName}, {p.Email, maxEmail}, {p.ImageURL, maxURL}} {
		if len(f.s) > f.max || strings.IndexByte(f.s, 0) >= 0 {
			return true
		}
	}
	return false
}

// Changes lists the non-empty fields of p that differ from u's row (nil when
// none: the usual case, checked on every request).
func (p *ClerkProfile) Changes(u *store.User) map[string]any {
	var m map[string]any
	set := func(col string, cur *string, v string) {
		if v != "" && (cur == nil || *cur != v) {
			if m == nil {
				m = map[string]any{}
			}
			m[col] = v
		}
	}
	set("first_name", u.FirstName, p.FirstName)
	set("last_name", u.LastName, p.LastName)
	set("username", u.Username, p.Username)
	set("image_url", u.ImageURL, p.ImageURL)
	set("email", u.Email, p.Email)
	return m
}

// apply copies p's non-empty fields onto u.
func (p *ClerkProfile) apply(u *store.User) {
	put := func(dst **string, v string) {
		if v != "" {
			s := v
			*dst = &s
		}
	}
	put(&u.FirstName, p.FirstName)
	put(&u.LastName, p.LastName)
	put(&u.Username, p.Username)
	put(&u.ImageURL, p.ImageURL)
	put(&u.Email, p.Email)
}

// ErrUserDeleted: the token's user was deleted (their profile or by Clerk).
var ErrUserDeleted = errors.New("user is deleted")

// UserFromToken returns the user of a verified token's cleaned profile:
// first sight creates the row, non-empty differing fields refresh it (the
// webhook's user.created/updated do the same from Clerk's side:
// upsertClerkUser). A deleted user is ErrUserDeleted.
func UserFromToken(ctx context.Context, st *store.Store, p ClerkProfile) (*store.User, error) {
	db := st.DB.WithContext(ctx)
	var u store.User
	err := db.Where("userid = ?", p.UserID).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		now := st.Now()
		u = store.User{UserID: p.UserID, CreatedAt: now, UpdatedAt: now}
		p.apply(&u)
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
			return nil, fmt.Errorf("create user %s: %w", p.UserID, err)
		}
		err = db.Where("userid = ?", p.UserID).Take(&u).Error
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", p.UserID, err)
	}
	if u.DeletedAt != nil {
		return nil, fmt.Errorf("user %s: %w", u.UserID, ErrUserDeleted)
	}
	if changes := p.Changes(&u); len(changes) > 0 {
		changes["updated_at"] = st.Now()
		if err := db.Model(&store.User{}).Where("userid = ?", u.UserID).Updates(changes).Error; err != nil {
			return nil, fmt.Errorf("refresh user %s from token: %w", u.UserID, err)
		}
		p.apply(&u)
	}
	return &u, nil
}
