// Package account holds the rules over users, addresses, vehicles and ratings,
// and the Clerk webhook sync. Every write runs in one transaction; realtime
// frames (the user_deleted control frame, the marketplace's removals) go
// through the outbox and are published after commit.
//
// Who acts is the argument right after ctx, as in pkg/market: caller
// *store.User for an API user (the row the auth middleware already loaded;
// account reads its id) and by *audit.Staff for the console's staff member
// (nil → 403, except SetStaff's operator command). A method about someone
// other than the caller (RatingsReceived, Suspend) names them with a userID
// after that.
package account

import (
	"context"
	"log/slog"

	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// DeleteHook runs inside the profile-deletion transaction, before the user's
// addresses and vehicles are removed: the marketplace removes the user's open
// quotes and pending offers there and returns the frames that announce it.
type DeleteHook func(tx *gorm.DB, userID string) ([]realtime.Message, error)

// Service is the account business layer.
type Service struct {
	Store  *store.Store
	Outbox *realtime.Outbox // nil: frames stay in the outbox for the relay
	Log    *slog.Logger
	// OnDelete is called (when set) inside every profile deletion, API or webhook.
	OnDelete DeleteHook
	// OnSuspend is called (when set) inside every suspension (the marketplace
	// withdraws the user's pending quotes and offers; pkg/app wires it to the
	// same function as OnDelete).
	OnSuspend SuspendHook
	// UserChanged is called (when set) after a write to these users' rows
	// (or to a vehicle that may be their current one) has ended, committed or
	// not: the authenticator's short-lived row cache forgets them.
	UserChanged func(userIDs ...string)
}

// changed tells UserChanged; callers defer it.
func (s *Service) changed(userIDs ...string) {
	if s.UserChanged != nil {
		s.UserChanged(userIDs...)
	}
}

// New makes the service.
func New(st *store.Store, outbox *realtime.Outbox, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: st, Outbox: outbox, Log: log}
}

// Messages shown to users.
const (
	MsgNoSelfRating     = "No puedes calificarte a ti mismo."
	MsgNoSharedDelivery = "Solo puedes calificar a un usuario con quien compartiste una entrega completada que aún no has calificado."
	MsgVehicleInUse     = "Este vehículo está asociado a entregas u ofertas y no puede eliminarse."
	MsgPlateTaken       = "Ya existe un vehículo con esta placa."
	MsgVINTaken         = "Ya existe un vehículo con este VIN."
	MsgBadWebhook       = "Evento de webhook inválido: faltan los campos type o data."
	MsgVehicleNotFound  = "Vehículo no encontrado."
	MsgVehicleNotYours  = "Este vehículo no te pertenece."
)

// write runs fn with realtime.Change: one transaction, its frames written to
// the outbox and published after commit.
func (s *Service) write(ctx context.Context, fn func(tx *gorm.DB) ([]realtime.Message, error)) error {
	return realtime.Change(ctx, s.Store, s.Outbox, fn)
}

// Hydrate completes an already loaded row — the authenticated caller — with
// what the User view renders (current vehicle, ratings), instead of reading
// the users row a second time.
func (s *Service) Hydrate(ctx context.Context, u *store.User) (*store.User, error) {
	db := s.Store.DB.WithContext(ctx)
	out := *u
	out.CurrentVehicle = nil
	if u.CurrentVehicleID != nil {
		var v store.Vehicle
		err := store.PreloadVehicle(db, "").Where("vehicle_id = ?", *u.CurrentVehicleID).Take(&v).Error
		if err != nil && !store.IsNotFound(err) {
			return nil, apperr.Wrap(err, "load current vehicle of "+u.UserID)
		}
		if err == nil {
			out.CurrentVehicle = &v
		}
	}
	return &out, nil
}

func loadUser(tx *gorm.DB, userID string) (*store.User, error) {
	var u store.User
	err := store.PreloadUser(tx, "").Where("userid = ?", userID).Take(&u).Error
	if store.IsNotFound(err) {
		return nil, apperr.NotFoundErr()
	}
	if err != nil {
		return nil, apperr.Wrap(err, "load user "+userID)
	}
	return &u, nil
}

func strOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
