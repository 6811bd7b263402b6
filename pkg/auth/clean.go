package auth

import (
	"strings"

	"hermez/pkg/store"
)

// Bounds of the claims Hermez stores: the API's own limits for names
// (150), an e-mail address (254), a URL (2048). A longer sub (Clerk's are
// about 32 characters) is refused.
const (
	maxSubject = 255
	maxName    = 150
	maxEmail   = 254
	maxURL     = 2048
)

// cleaned returns c with U+0000 and bytes that are not UTF-8 removed from
// the claims Hermez stores, and names, e-mail and image URL cut to their
// bounds: Clerk's data is cleaned, never refused, and PostgreSQL refuses the
// character (and an index entry past 2.7 KB). c itself (shared by the token
// cache) is not changed; a clean c is returned as is.
func cleaned(c *Claims) *Claims {
	if !needsCleaning(c) {
		return c
	}
	out := *c
	out.Subject = store.StripNUL(out.Subject)
	for _, f := range []struct {
		p   *string
		max int
	}{{&out.FirstName, maxName}, {&out.LastName, maxName}, {&out.Username, maxName}, {&out.Email, maxEmail}, {&out.ImageURL, maxURL}} {
		*f.p = store.Clip(store.StripNUL(*f.p), f.max)
	}
	return &out
}

func needsCleaning(c *Claims) bool {
	for _, f := range []struct {
		s   string
		max int
	}{{c.Subject, maxSubject}, {c.FirstName, maxName}, {c.LastName, maxName}, {c.Username, maxName}, {c.Email, maxEmail}, {c.ImageURL, maxURL}} {
		if len(f.s) > f.max || strings.IndexByte(f.s, 0) >= 0 {
			return true
		}
	}
	return false
}
