package auth

import (
	"testing"
	"time"

	"hermez/pkg/store"
)

// A row read before a Forget must not be stored after it (it may predate the write).
func TestUserCacheGenerationGuard(t *testing.T) {
	var c userCache
	until := time.Now().Add(time.Hour)
	gen := c.generation()
	c.forget("user_x") // a write commits while the row is being read
	c.put(store.User{UserID: "user_x"}, gen, until)
	if _, ok := c.get("user_x", time.Now()); ok {
		t.Fatal("a row read before Forget was cached")
	}
	c.put(store.User{UserID: "user_x"}, c.generation(), until)
	if _, ok := c.get("user_x", time.Now()); !ok {
		t.Fatal("a fresh row was not cached")
	}
	if _, ok := c.get("user_x", until); ok {
		t.Fatal("a row was served at its expiry")
	}
}
