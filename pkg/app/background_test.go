package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"hermez/pkg/app"
)

// stop returns only once every loop has returned (main closes the store
// right after it).
func TestStartBackgroundWaits(t *testing.T) {
	var ended atomic.Int32
	loop := func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // a last pass after the end
		ended.Add(1)
	}
	stop := app.StartBackground(context.Background(), loop, loop, loop)
	time.Sleep(10 * time.Millisecond)
	if ended.Load() != 0 {
		t.Fatal("a loop ended before stop")
	}
	stop()
	if n := ended.Load(); n != 3 {
		t.Fatalf("stop returned with %d of 3 loops ended", n)
	}
}
