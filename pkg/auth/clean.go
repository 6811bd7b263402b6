package auth

import "strings"

// cleaned returns c with U+0000 removed from the claims Hermez stores (sub
// and the profile claims): Clerk's data is cleaned, never refused, and
// PostgreSQL refuses the character. c itself (shared by the token cache) is
// not changed; without a NUL it is returned as is.
func cleaned(c *Claims) *Claims {
	if !hasNUL(c.Subject, c.FirstName, c.LastName, c.Username, c.ImageURL, c.Email) {
		return c
	}
	out := *c
	for _, p := range []*string{&out.Subject, &out.FirstName, &out.LastName, &out.Username, &out.ImageURL, &out.Email} {
		*p = strings.ReplaceAll(*p, "\x00", "")
	}
	return &out
}

func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}
