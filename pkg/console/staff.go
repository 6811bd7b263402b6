package console

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/store"
)

// Staff accounts are the console's own logins (not app users: those sign in
// with Clerk and get API staff powers from users.is_staff, see
// account.Service.SetStaff).

// MinPasswordLen is Django's MinimumLengthValidator default.
const MinPasswordLen = 8

// BcryptCost is the work factor of staff password hashes (tests lower it).
var BcryptCost = bcrypt.DefaultCost

var usernameRe = regexp.MustCompile(`^[\p{L}\p{N}_.@+-]+$`)

// dummyHash is compared against when the username is unknown, so a missing
// account costs as much time as a wrong password (no user enumeration).
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("hermez-no-such-account"), bcrypt.DefaultCost)

const msgUsernameTaken = "Ya existe una cuenta del personal con este nombre de usuario."

func validateCredentials(username, password string) error {
	f := apperr.Fields{}
	switch {
	case username == "":
		f.Add("username", apperr.MsgRequired)
	case len([]rune(username)) > 150:
		f.Add("username", "Asegúrese de que este campo no tenga más de 150 caracteres.")
	case !usernameRe.MatchString(username):
		f.Add("username", "Introduzca un nombre de usuario válido: solo letras, números y @/./+/-/_.")
	}
	switch {
	case len([]rune(password)) < MinPasswordLen:
		f.Add("password", fmt.Sprintf("La contraseña es demasiado corta: debe tener al menos %d caracteres.", MinPasswordLen))
	case len(password) > 72:
		f.Add("password", "La contraseña es demasiado larga: como máximo 72 bytes.")
	case strings.Trim(password, "0123456789") == "":
		f.Add("password", "La contraseña no puede ser completamente numérica.")
	case strings.EqualFold(password, username):
		f.Add("password", "La contraseña es demasiado parecida al nombre de usuario.")
	}
	return f.Err()
}

// CreateAccount creates an active staff console login. With update, an
// existing account gets the new password and is reactivated instead of refused.
func (s *Service) CreateAccount(ctx context.Context, username, password string, update bool) (*store.StaffAccount, error) {
	username = strings.TrimSpace(username)
	if err := validateCredentials(username, password); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	var acc store.StaffAccount
	err = s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		err := tx.Where("username = ?", username).Take(&acc).Error
		switch {
		case err == nil && !update:
			return apperr.Field("username", msgUsernameTaken)
		case err == nil:
			return tx.Model(&acc).Updates(map[string]any{"password_hash": string(hash), "is_active": true}).Error
		case errors.Is(err, gorm.ErrRecordNotFound):
			acc = store.StaffAccount{ID: uuid.New(), Username: username, PasswordHash: string(hash), IsActive: true, CreatedAt: s.Store.Now()}
			if err := tx.Create(&acc).Error; err != nil {
				if store.IsUniqueViolation(err) {
					return apperr.Field("username", msgUsernameTaken)
				}
				return err
			}
			return nil
		default:
			return err
		}
	})
	if err != nil {
		if _, ok := apperr.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("save staff account %s: %w", username, err)
	}
	return &acc, nil
}

// SetAccountActive activates or deactivates a staff login (sessions of an
// inactive account stop working at their next request); unknown → 404.
func (s *Service) SetAccountActive(ctx context.Context, by *audit.Staff, id uuid.UUID, active bool) error {
	if err := audit.RequireStaff(by); err != nil {
		return err
	}
	return s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		before, err := audit.Row(tx, "staff_accounts", "id = ?", id)
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return apperr.NotFoundErr()
		}
		if err != nil {
			return fmt.Errorf("load staff account %s: %w", id, err)
		}
		if err := tx.Model(&store.StaffAccount{}).Where("id = ?", id).Update("is_active", active).Error; err != nil {
			return fmt.Errorf("set staff account %s active: %w", id, err)
		}
		action := audit.ActionDeactivate
		if active {
			action = audit.ActionActivate
		}
		return audit.RecordRow(tx, s.Store.Now(), by, before, "staff_accounts", "id = ?", []any{id},
			audit.Entry{Kind: audit.KindStaffAccount, ObjectID: id.String(), Action: action})
	})
}

// CheckPassword returns the account when username and password match an
// active account, recording the login; nil otherwise (constant work whether
// or not the account exists).
func (s *Service) CheckPassword(ctx context.Context, username, password string) (*store.StaffAccount, error) {
	var acc store.StaffAccount
	err := s.db(ctx).Where("username = ?", strings.TrimSpace(username)).Take(&acc).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("load staff account: %w", err)
	}
	if err != nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, nil
	}
	if bcrypt.CompareHashAndPassword([]byte(acc.PasswordHash), []byte(password)) != nil || !acc.IsActive {
		return nil, nil
	}
	now := s.Store.Now()
	if err := s.db(ctx).Model(&acc).Update("last_login_at", now).Error; err != nil {
		return nil, fmt.Errorf("record staff login: %w", err)
	}
	acc.LastLoginAt = &now
	return &acc, nil
}

// Account is the staff account of a session; nil (no error) when it is gone.
func (s *Service) Account(ctx context.Context, id string) (*store.StaffAccount, error) {
	var acc store.StaffAccount
	err := s.db(ctx).Where("id = ?", id).Take(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load staff account %s: %w", id, err)
	}
	return &acc, nil
}

// Accounts lists every staff account by username.
func (s *Service) Accounts(ctx context.Context) ([]store.StaffAccount, error) {
	var accs []store.StaffAccount
	err := s.db(ctx).Order("username").Find(&accs).Error
	return accs, store.MapError(err, "list staff accounts")
}
