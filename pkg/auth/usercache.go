package auth

import (
	"sync"
	"time"

	"hermez/pkg/store"
)

// DefaultUserTTL is how long an authenticated user's row is reused without
// reading it again. It bounds how late another process sees a change to the
// row (deletion, staff flag): about as long as a Clerk token already outlives
// a revoked session, and far shorter than a token's 60 s.
const DefaultUserTTL = 2 * time.Second

const userCacheMax = 10000

// userCache keeps recently authenticated users' rows for a short TTL, so a
// client's burst of requests (a page load, polling, socket handshakes) reads
// the users table once. Writes in this process call Forget; a generation
// counter makes sure a row read before a Forget is never stored after it.
type userCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedUser
}

type cachedUser struct {
	u     store.User
	until time.Time
}

func (c *userCache) get(userID string, now time.Time) (store.User, bool) {
	c.mu.Lock()
	e, ok := c.m[userID]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return store.User{}, false
	}
	return e.u, true
}

// generation is read before loading a row; put stores it only if no Forget
// happened in between.
func (c *userCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *userCache) put(u store.User, gen uint64, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= userCacheMax {
		c.m = make(map[string]cachedUser, 256)
	}
	c.m[u.UserID] = cachedUser{u: u, until: until}
}

func (c *userCache) forget(userIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range userIDs {
		delete(c.m, id)
	}
}

func (c *userCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}
