package admin

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

// PasswordEnv is the environment variable createsuperuser reads the password
// from when set (for scripts); otherwise it prompts.
const PasswordEnv = "HERMEZ_ADMIN_PASSWORD"

// MinPasswordLen is Django's MinimumLengthValidator default.
const MinPasswordLen = 8

// BcryptCost is the work factor of staff password hashes.
var BcryptCost = bcrypt.DefaultCost

var usernameRe = regexp.MustCompile(`^[\p{L}\p{N}_.@+-]+$`)

// dummyHash is compared against when the username is unknown, so a missing
// account costs as much time as a wrong password (no user enumeration).
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("hermez-no-such-account"), bcrypt.DefaultCost)

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
func CreateAccount(ctx context.Context, st *store.Store, username, password string, update bool) (*store.StaffAccount, error) {
	username = strings.TrimSpace(username)
	if err := validateCredentials(username, password); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	var acc store.StaffAccount
	err = st.Transaction(ctx, func(tx *gorm.DB) error {
		err := tx.Where("username = ?", username).Take(&acc).Error
		switch {
		case err == nil && !update:
			return apperr.Field("username", "Ya existe una cuenta del personal con este nombre de usuario.")
		case err == nil:
			return tx.Model(&acc).Updates(map[string]any{"password_hash": string(hash), "is_active": true}).Error
		case errors.Is(err, gorm.ErrRecordNotFound):
			acc = store.StaffAccount{ID: uuid.New(), Username: username, PasswordHash: string(hash), IsActive: true, CreatedAt: store.Now()}
			if err := tx.Create(&acc).Error; err != nil {
				if store.IsUniqueViolation(err) {
					return apperr.Field("username", "Ya existe una cuenta del personal con este nombre de usuario.")
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
// inactive account stop working at their next request).
func SetAccountActive(ctx context.Context, st *store.Store, id uuid.UUID, active bool) error {
	res := st.DB.WithContext(ctx).Model(&store.StaffAccount{}).Where("id = ?", id).Update("is_active", active)
	if res.Error != nil {
		return fmt.Errorf("set staff account %s active: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFoundErr()
	}
	return nil
}

// checkPassword returns the account when username and password match an
// active account; nil otherwise (constant work whether or not it exists).
func checkPassword(ctx context.Context, st *store.Store, username, password string) (*store.StaffAccount, error) {
	var acc store.StaffAccount
	err := st.DB.WithContext(ctx).Where("username = ?", strings.TrimSpace(username)).Take(&acc).Error
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
	now := store.Now()
	if err := st.DB.WithContext(ctx).Model(&acc).Update("last_login_at", now).Error; err != nil {
		return nil, fmt.Errorf("record staff login: %w", err)
	}
	acc.LastLoginAt = &now
	return &acc, nil
}

// SuperuserIO is where createsuperuser reads and writes (os.Stdin/Stdout, or
// buffers in tests).
type SuperuserIO struct {
	In     io.Reader
	Out    io.Writer
	Getenv func(string) string
}

// CreateSuperuser is the `web createsuperuser [--username NAME] [--update]`
// subcommand: the username from the flag or a prompt, the password from
// HERMEZ_ADMIN_PASSWORD or a prompt (not echoed on a terminal), never a flag.
func CreateSuperuser(ctx context.Context, st *store.Store, args []string, sio SuperuserIO) error {
	fs := flag.NewFlagSet("createsuperuser", flag.ContinueOnError)
	fs.SetOutput(sio.Out)
	username := fs.String("username", "", "login name (prompted when absent)")
	update := fs.Bool("update", false, "set a new password for an existing account and reactivate it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (the password is never a flag: use a prompt or %s)", fs.Args(), PasswordEnv)
	}
	if sio.Getenv == nil {
		sio.Getenv = os.Getenv
	}
	rd := bufio.NewReader(sio.In)
	name := strings.TrimSpace(*username)
	if name == "" {
		fmt.Fprint(sio.Out, "Usuario: ")
		line, err := readLine(rd)
		if err != nil {
			return fmt.Errorf("read username: %w", err)
		}
		name = strings.TrimSpace(line)
	}
	password := sio.Getenv(PasswordEnv)
	if password == "" {
		var err error
		if password, err = promptPassword(rd, sio); err != nil {
			return err
		}
	}
	acc, err := CreateAccount(ctx, st, name, password, *update)
	if err != nil {
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
			var msgs []string
			for k, v := range e.Fields {
				msgs = append(msgs, k+": "+strings.Join(v, " "))
			}
			return errors.New(strings.Join(msgs, "; "))
		}
		return err
	}
	verb := "creada"
	if *update {
		verb = "actualizada"
	}
	fmt.Fprintf(sio.Out, "Cuenta del personal %q %s. Inicie sesión en /admin/.\n", acc.Username, verb)
	return nil
}

func promptPassword(rd *bufio.Reader, sio SuperuserIO) (string, error) {
	f, isFile := sio.In.(*os.File)
	if isFile && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(sio.Out, "Contraseña: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(sio.Out)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(sio.Out, "Contraseña (otra vez): ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(sio.Out)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(p1) != string(p2) {
			return "", errors.New("las contraseñas no coinciden")
		}
		return string(p1), nil
	}
	// Not a terminal: one line from stdin (e.g. a pipe from a secret store).
	line, err := readLine(rd)
	if err != nil {
		return "", fmt.Errorf("read password from stdin (or set %s): %w", PasswordEnv, err)
	}
	return line, nil
}

func readLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// now is the clock of sessions and the rate limiter (replaceable in tests).
var now = time.Now
