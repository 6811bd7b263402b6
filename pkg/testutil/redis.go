package testutil

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

var redisCounter atomic.Int64

// Redis returns a Redis URL and a channel/key prefix that belong to this test:
// TEST_REDIS_URL with a unique prefix, else a miniredis started for the test.
func Redis(t testing.TB) (url, prefix string) {
	t.Helper()
	prefix = fmt.Sprintf("hermez_test:%d:%d:%d:", os.Getpid(), time.Now().UnixNano(), redisCounter.Add(1))
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u, prefix
	}
	m := miniredis.RunT(t)
	return "redis://" + m.Addr(), prefix
}
