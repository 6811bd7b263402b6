package account

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// Bounds of Clerk's data as stored: ids (Clerk's are about 32 characters),
// names as the API bounds them, an e-mail address, a URL.
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
	clip := func(p *string, n int) {
		if p != nil {
			*p = store.Clip(*p, n)
		}
	}
	clip(u.Username, maxName)
	clip(u.FirstName, maxName)
	clip(u.LastName, maxName)
	clip(u.ImageURL, maxURL)
	for i := range u.EmailAddresses {
		u.EmailAddresses[i].EmailAddress = store.Clip(u.EmailAddresses[i].EmailAddress, maxEmail)
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
	if r, ok := md.Role.(string); ok && (r == "client" || r == "delivery") {
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
	svixID, payload = store.Clip(store.StripNUL(svixID), maxClerkID), store.CleanJSON(payload)
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
