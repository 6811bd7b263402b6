package console

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"hermez/pkg/apperr"
)

// PasswordEnv is the environment variable createsuperuser reads the password
// from when set (for scripts); otherwise it prompts.
const PasswordEnv = "HERMEZ_ADMIN_PASSWORD"

// SuperuserIO is where createsuperuser reads and writes (os.Stdin/Stdout, or
// buffers in tests).
type SuperuserIO struct {
	In     io.Reader
	Out    io.Writer
	Getenv func(string) string // the environment (nil: none); app passes os.Getenv
}

// CreateSuperuser is the `web createsuperuser [--username NAME] [--update]`
// command (pkg/app wires it to the process's stdin, stdout and environment):
// the username from the flag or a prompt, the password from
// HERMEZ_ADMIN_PASSWORD or a prompt (not echoed on a terminal), never a flag;
// the account is made by CreateAccount, so the command and the console's
// accounts page share one set of rules.
func (s *Service) CreateSuperuser(ctx context.Context, args []string, sio SuperuserIO) error {
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
	if sio.Getenv == nil { // the process's environment is app's to pass (pkg/app/superuser.go)
		sio.Getenv = func(string) string { return "" }
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
	acc, err := s.CreateAccount(ctx, name, password, *update)
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
