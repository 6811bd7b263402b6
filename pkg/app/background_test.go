package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"hermez/pkg/app"
)

// stop returns only once every loop has returned (main closes the store
// right after it). In a synctest bubble: the loops' last pass takes 50 ms of
// the bubble's clock, none of the machine's.
func TestStartBackgroundWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ended atomic.Int32
		loop := func(ctx context.Context) {
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // a last pass after the end
			ended.Add(1)
		}
		stop := app.StartBackground(context.Background(), loop, loop, loop)
		synctest.Wait() // every loop is blocked on its context
		if ended.Load() != 0 {
			t.Fatal("a loop ended before stop")
		}
		stop()
		if n := ended.Load(); n != 3 {
			t.Fatalf("stop returned with %d of 3 loops ended", n)
		}
	})
}
