package account

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

// Rating bounds.
const (
	MinRating        = 0
	MaxRating        = 10
	MaxCommentLength = 1000
)

func preloadRating(tx *gorm.DB) *gorm.DB {
	return store.PreloadUser(store.PreloadUser(tx.Preload("Ratee").Preload("Rater"), "Ratee"), "Rater")
}

func (s *Service) listRatings(ctx context.Context, p store.Page, where string, args ...any) ([]store.Rating, error) {
	db := s.Store.DB.WithContext(ctx)
	var out []store.Rating
	if err := p.Apply(preloadRating(db).Where(where, args...).Order("created_at DESC").Order("id")).Find(&out).Error; err != nil {
		return nil, apperr.Wrap(err, "list ratings")
	}
	return out, nil
}

// RatingsReceived lists the ratings userID received, newest first (404 for an unknown user).
func (s *Service) RatingsReceived(ctx context.Context, userID string, p store.Page) ([]store.Rating, error) {
	var n int64
	if err := s.Store.DB.WithContext(ctx).Model(&store.User{}).Where("userid = ?", userID).Count(&n).Error; err != nil {
		return nil, apperr.Wrap(err, "check user")
	}
	if n == 0 {
		return nil, apperr.NotFoundErr()
	}
	return s.listRatings(ctx, p, "ratee_id = ?", userID)
}

// RatingsOf lists the ratings the caller gave or received, newest first.
func (s *Service) RatingsOf(ctx context.Context, caller *store.User, p store.Page) ([]store.Rating, error) {
	return s.listRatings(ctx, p, "(rater_id = ? OR ratee_id = ?)", caller.UserID, caller.UserID)
}

// Rating is a rating the caller gave or received (else 404).
func (s *Service) Rating(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Rating, error) {
	return visibleRating(s.Store.DB.WithContext(ctx), caller.UserID, id)
}

func visibleRating(tx *gorm.DB, userID string, id uuid.UUID) (*store.Rating, error) {
	var r store.Rating
	err := preloadRating(tx).Where("id = ? AND (rater_id = ? OR ratee_id = ?)", id, userID, userID).Take(&r).Error
	if store.IsNotFound(err) {
		return nil, apperr.NotFoundErr()
	}
	if err != nil {
		return nil, apperr.Wrap(err, "load rating")
	}
	return &r, nil
}

// applyRating copies rating and comment, as sent, onto r.
func applyRating(in RatingInput, r *store.Rating) {
	if in.Rating != nil {
		r.Rating = *in.Rating
	}
	if in.Comment.Set {
		r.Comment = in.Comment.Ptr()
	}
}

// CreateRating records the caller's rating of ratee_id for the newest
// delivered or paid delivery they shared (client ↔ driver) that the caller has
// not rated yet. The rater is always the caller.
func (s *Service) CreateRating(ctx context.Context, caller *store.User, in RatingInput) (*store.Rating, error) {
	raterID := caller.UserID
	if err := in.Invalid.Err(); err != nil {
		return nil, err
	}
	if in.RateeID == raterID {
		return nil, apperr.Field(apperr.NonField, MsgNoSelfRating)
	}
	r := store.Rating{ID: uuid.New(), RaterID: raterID, RateeID: in.RateeID}
	applyRating(in, &r)
	defer s.changed(r.RateeID) // the ratee's row carries the rating totals
	var out *store.Rating
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&store.User{}).Where("userid = ?", r.RateeID).Count(&n).Error; err != nil {
			return apperr.Wrap(err, "check ratee")
		}
		if n == 0 {
			return apperr.Field("ratee_id", apperr.MsgNoObject(r.RateeID))
		}
		var d store.Delivery
		err := tx.Select("id").
			Where("status IN ?", []string{store.DeliveryDelivered, store.DeliveryPaid}).
			Where("((client_id = ? AND delivery_person_id = ?) OR (client_id = ? AND delivery_person_id = ?))", raterID, r.RateeID, r.RateeID, raterID).
			Where("NOT EXISTS (SELECT 1 FROM user_rating ur WHERE ur.delivery_id = deliveries.id AND ur.rater_id = ?)", raterID).
			Order("created_at DESC").Order("id").Take(&d).Error
		if store.IsNotFound(err) {
			return apperr.Field(apperr.NonField, MsgNoSharedDelivery)
		}
		if err != nil {
			return apperr.Wrap(err, "find shared delivery")
		}
		r.DeliveryID = &d.ID
		r.CreatedAt = s.Store.Now()
		if err := tx.Omit("Ratee", "Rater").Create(&r).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return apperr.Field(apperr.NonField, MsgNoSharedDelivery)
			}
			return apperr.Wrap(err, "create rating")
		}
		got, err := visibleRating(tx, raterID, r.ID)
		out = got
		return err
	})
	return out, err
}

// UpdateRating changes rating/comment of a rating the caller gave; the ratee
// sees it but may not change it (403). RateeID is not read.
func (s *Service) UpdateRating(ctx context.Context, caller *store.User, id uuid.UUID, in RatingInput) (*store.Rating, error) {
	userID := caller.UserID
	var out *store.Rating
	var ratee string
	defer func() { s.changed(ratee) }()
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		r, err := visibleRating(tx, userID, id)
		if err != nil {
			return err
		}
		ratee = r.RateeID
		if r.RaterID != userID {
			return apperr.ForbiddenErr()
		}
		if err := in.Invalid.Err(); err != nil {
			return err
		}
		applyRating(in, r)
		err = tx.Model(&store.Rating{}).Where("id = ?", id).
			Updates(map[string]any{"rating": r.Rating, "comment": strOrNil(r.Comment)}).Error
		if err != nil {
			return apperr.Wrap(err, "update rating")
		}
		out, err = visibleRating(tx, userID, id)
		return err
	})
	return out, err
}

// DeleteRating deletes a rating the caller gave (the ratee: 403).
func (s *Service) DeleteRating(ctx context.Context, caller *store.User, id uuid.UUID) error {
	userID := caller.UserID
	var ratee string
	defer func() { s.changed(ratee) }()
	return s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		r, err := visibleRating(tx, userID, id)
		if err != nil {
			return err
		}
		ratee = r.RateeID
		if r.RaterID != userID {
			return apperr.ForbiddenErr()
		}
		return store.MapError(tx.Where("id = ?", id).Delete(&store.Rating{}).Error, "delete rating")
	})
}
