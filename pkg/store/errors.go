package store

import (
	"errors"

	"gorm.io/gorm"

	"hermez/pkg/apperr"
)

// MsgConflict answers a write that lost a race on a unique key.
const MsgConflict = "El recurso fue modificado por otra solicitud; intente de nuevo."

// MapError is the one mapping of database errors to the business error type,
// for every service: nil stays nil, an *apperr.Error is kept, a missing row is
// 404, a unique violation that raced past the service's checks is 409, and
// anything else is a 500 whose log says what failed.
func MapError(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apperr.NotFoundErr()
	}
	if IsUniqueViolation(err) {
		return &apperr.Error{Kind: apperr.Conflict, Message: MsgConflict, Err: err}
	}
	return apperr.Wrap(err, what)
}

// IsNotFound tells whether err is GORM's missing-row error.
func IsNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }
