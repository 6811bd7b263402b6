package app

import (
	"time"

	"hermez/pkg/auth"
)

func devOpts(name, email, username string, ttl time.Duration) auth.TokenOptions {
	return auth.TokenOptions{Name: name, Email: email, Username: username, TTL: ttl}
}
