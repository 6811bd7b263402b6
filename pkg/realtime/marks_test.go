package realtime_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// markCounter counts the published-mark statements run on st and can hold
// the first one until released.
type markCounter struct {
	n       atomic.Int64
	hold    chan struct{} // nil: never hold
	entered chan struct{}
}

func countMarks(t *testing.T, st *store.Store, hold bool) *markCounter {
	t.Helper()
	c := &markCounter{entered: make(chan struct{})}
	if hold {
		c.hold = make(chan struct{})
	}
	err := st.DB.Callback().Raw().Before("gorm:raw").Register("test:marks", func(db *gorm.DB) {
		if !strings.HasPrefix(db.Statement.SQL.String(), "UPDATE outbox_events SET published_at") {
			return
		}
		if c.n.Add(1) == 1 && c.hold != nil {
			close(c.entered)
			<-c.hold
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func change(t *testing.T, st *store.Store, o *realtime.Outbox, i int) {
	t.Helper()
	id := strconv.Itoa(i)
	err := realtime.Change(context.Background(), st, o, func(*gorm.DB) ([]realtime.Message, error) {
		m := func(group string) realtime.Message {
			return realtime.Message{Group: group, Type: "quote_created", Payload: []byte(`{"type":"quote_created","data":{}}`),
				Resource: realtime.ResourceQuote(id), Version: 1}
		}
		return []realtime.Message{m("new_quotes"), m("quote_" + id), m("user_quotes_u" + id)}, nil
	})
	if err != nil {
		t.Fatalf("change %d: %v", i, err)
	}
}

func unpublished(t *testing.T, st *store.Store) int64 {
	t.Helper()
	var n int64
	if err := st.DB.Model(&store.OutboxEvent{}).Where("published_at IS NULL").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func waitUnpublished(t *testing.T, st *store.Store, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for unpublished(t, st) != want {
		if time.Now().After(deadline) {
			t.Fatalf("unpublished rows: %d, want %d", unpublished(t, st), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Without Run, each change marks its own frames before Change returns.
func TestFlushMarksAtOnceWithoutRun(t *testing.T) {
	st := testutil.NewStore(t)
	marks := countMarks(t, st, false)
	rec := &testutil.Recorder{}
	o := &realtime.Outbox{Store: st, Publisher: rec}
	for i := range 3 {
		change(t, st, o, i)
		if n := unpublished(t, st); n != 0 {
			t.Fatalf("after change %d: %d unpublished rows", i, n)
		}
	}
	if got := marks.n.Load(); got != 3 {
		t.Fatalf("mark statements: %d, want 3 (one per change)", got)
	}
	if got := len(rec.Take()); got != 9 {
		t.Fatalf("published %d frames, want 9", got)
	}
}

// While Run runs, the marks of the changes made during one round's UPDATE
// are made by the next round's single UPDATE.
func TestRunMarksManyChangesWithOneStatement(t *testing.T) {
	st := testutil.NewStore(t)
	marks := countMarks(t, st, true)
	o := &realtime.Outbox{Store: st, Publisher: &testutil.Recorder{}}
	cancel, done := startRun(t, o)
	defer func() { cancel(); <-done }()

	change(t, st, o, 0) // its mark is held in the first round
	select {
	case <-marks.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first mark never ran")
	}
	const n = 20
	for i := 1; i <= n; i++ {
		change(t, st, o, i) // queued: Change does not wait for the mark
	}
	if got := unpublished(t, st); got != n+1 {
		close(marks.hold)
		t.Fatalf("unpublished rows while the first round is held: %d, want %d (one per change)", got, n+1)
	}
	close(marks.hold)
	waitUnpublished(t, st, 0)
	if got := marks.n.Load(); got != 2 {
		t.Fatalf("mark statements: %d, want 2 (the held round and one for the %d changes queued meanwhile)", got, n)
	}
}

// Stopping Run marks what is still queued before it returns.
func TestRunMarksTheQueueOnStop(t *testing.T) {
	st := testutil.NewStore(t)
	marks := countMarks(t, st, true)
	o := &realtime.Outbox{Store: st, Publisher: &testutil.Recorder{}}
	cancel, done := startRun(t, o)

	change(t, st, o, 0)
	<-marks.entered
	for i := 1; i <= 5; i++ {
		change(t, st, o, i)
	}
	cancel()
	close(marks.hold)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if got := unpublished(t, st); got != 0 {
		t.Fatalf("unpublished after Run returned: %d", got)
	}
	// After Run, Flush marks at once again.
	change(t, st, o, 6)
	if got := unpublished(t, st); got != 0 {
		t.Fatalf("unpublished after a change once Run stopped: %d", got)
	}
}

// startRun runs o.Run until cancel is called (done closes when it returned)
// and waits until it queues marks.
func startRun(t *testing.T, o *realtime.Outbox) (cancel context.CancelFunc, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { o.Run(ctx); close(stopped) }()
	waitRunning(t, o)
	return cancel, stopped
}

// waitRunning waits until Run queues marks: a change's rows stay unmarked
// when it returns (the first round's mark is held by the test's callback).
func waitRunning(t *testing.T, o *realtime.Outbox) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !o.Running() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
		time.Sleep(time.Millisecond)
	}
}
