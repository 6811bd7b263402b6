package consoleweb

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// CookieName is the staff console session cookie (path /admin/).
const CookieName = "hermez_admin"

// CSRFField is the hidden form field every POST must carry.
const CSRFField = "csrf_token"

// SessionTTL is the absolute lifetime of a session.
const SessionTTL = 12 * time.Hour

// session is what the signed (and encrypted) cookie carries. Every visitor
// gets one on the login page (for the login form's CSRF token); StaffID is
// set once logged in.
type session struct {
	Nonce    string    `json:"n"`
	StaffID  string    `json:"s,omitempty"`
	AuthHash string    `json:"h,omitempty"` // ties the session to the password it was opened with
	Issued   time.Time `json:"t"`
}

type sessions struct {
	codec   *securecookie.SecureCookie
	csrfKey []byte
	authKey []byte
	secure  bool
	now     func() time.Time // the store's clock
}

func derive(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("hermez/admin/" + purpose))
	return m.Sum(nil)
}

func newSessions(secret string, secure bool, now func() time.Time) *sessions {
	codec := securecookie.New(derive(secret, "session-hmac"), derive(secret, "session-aes"))
	codec.MaxAge(int(SessionTTL / time.Second))
	codec.SetSerializer(securecookie.JSONEncoder{})
	return &sessions{codec: codec, csrfKey: derive(secret, "csrf"), authKey: derive(secret, "auth-hash"), secure: secure, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// read returns the valid session of the request, or nil.
func (s *sessions) read(r *http.Request) *session {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	var sess session
	if err := s.codec.Decode(CookieName, c.Value, &sess); err != nil || sess.Nonce == "" {
		return nil
	}
	if s.now().Sub(sess.Issued) > SessionTTL {
		return nil
	}
	return &sess
}

func (s *sessions) write(w http.ResponseWriter, sess *session) error {
	v, err := s.codec.Encode(CookieName, sess)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: "/admin/", MaxAge: int(SessionTTL / time.Second),
		Expires: sess.Issued.Add(SessionTTL), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/admin/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// fresh starts a new session (a new nonce: login rotates it, so a session
// fixed before login is worthless after).
func (s *sessions) fresh() *session { return &session{Nonce: randomToken(), Issued: s.now().UTC()} }

// csrfToken is the token forms of this session carry: an HMAC of its nonce.
func (s *sessions) csrfToken(sess *session) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(sess.Nonce))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *sessions) csrfValid(sess *session, token string) bool {
	if sess == nil || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(s.csrfToken(sess)), []byte(token)) == 1
}

// authHash binds a session to the password hash it was opened with: changing
// the password (createsuperuser --update) ends every older session.
func (s *sessions) authHash(passwordHash string) string {
	m := hmac.New(sha256.New, s.authKey)
	m.Write([]byte(passwordHash))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
