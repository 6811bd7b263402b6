package realtime_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// A change's frames go into one outbox row and come back out of it exactly:
// same order, groups, types, order fields and payload bytes (HTML characters
// and non-ASCII text included), and a change with one frame keeps the
// one-frame row of before.
func TestChangeStoresItsFramesInOneRow(t *testing.T) {
	st := testutil.NewStore(t)
	frames := []realtime.Message{
		{Group: "new_quotes", Type: "quote_created", Payload: []byte(`{"type":"quote_created","data":{"d":"<b>Caja & café</b> \u2028 ñ"}}`),
			Resource: "quote:1", Version: 3},
		{Group: "quote_1", Type: "quote_created", Payload: []byte(`{"type":"quote_created","data":{"id":1}}`), Resource: "quote:1", Version: 3},
		{Group: "driver_offers_d", Type: "offer_deleted", Payload: []byte(`{"type":"offer_deleted","data":{}}`), Resource: "offer:9",
			Version: 7, Final: true},
		{Group: "_control", Type: "user_deleted", Payload: []byte(`{"type":"user_deleted","user":"u"}`)},
		{Group: "new_quotes", Type: "quote_updated", Payload: []byte(`{"type":"quote_updated","data":{}}`), Resource: "quote:2", Version: 4,
			Pickup: &realtime.Pickup{Lat: 4.711, Lng: -74.0721, Added: true}},
	}
	write := func(msgs ...realtime.Message) {
		t.Helper()
		err := realtime.Change(context.Background(), st, nil, func(*gorm.DB) ([]realtime.Message, error) { return msgs, nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	write(frames...)
	write(frames[3])
	write(frames[4]) // alone, but its pickup mark has no column: stored as frames

	var rows []store.OutboxEvent
	if err := st.DB.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows for three changes, want 3", len(rows))
	}
	if rows[2].Frames == nil {
		t.Fatalf("a lone frame with a pickup mark was stored in columns (the mark lost): %+v", rows[2])
	}
	if rows[0].Frames == nil || rows[0].GroupName != "" || !json.Valid([]byte(*rows[0].Frames)) {
		t.Fatalf("the change with 5 frames was not stored as one row of frames (a JSON array): %+v", rows[0])
	}
	wantHeads := "quote:1 3 new_quotes quote_1\noffer:9 7 driver_offers_d\nquote:2 4 new_quotes\n"
	if rows[0].Heads != wantHeads {
		t.Fatalf("heads %q, want %q", rows[0].Heads, wantHeads)
	}
	if rows[1].Frames != nil || rows[1].GroupName != "_control" || rows[1].Payload != string(frames[3].Payload) {
		t.Fatalf("the change with one frame: %+v", rows[1])
	}
	got := testutil.UnpublishedFrames(t, st)
	want := append(append([]realtime.Message{}, frames...), frames[3], frames[4])
	if len(got) != len(want) {
		t.Fatalf("%d frames back, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Group != w.Group || g.Type != w.Type || string(g.Payload) != string(w.Payload) || g.Resource != w.Resource ||
			g.Version != w.Version || g.Final != w.Final || (g.Pickup == nil) != (w.Pickup == nil) || g.Pickup != nil && *g.Pickup != *w.Pickup {
			t.Fatalf("frame %d:\n got %+v (%s)\nwant %+v (%s)", i, g, g.Payload, w, w.Payload)
		}
	}
}

// The relay reads frames out of one-change rows and applies the superseded
// rule per frame: a frame is skipped when a newer frame of its resource to
// its group was published, in a row of either kind, and published otherwise,
// in row order then frame order.
func TestRelaySupersedesFramesInsideChangeRows(t *testing.T) {
	st := testutil.NewStore(t)
	old := store.Now().Add(-10 * time.Second)
	m := func(group, res string, ver int64) realtime.Message {
		return realtime.Message{Group: group, Type: "t", Payload: []byte(`{"type":"t","data":{}}`), Resource: res, Version: ver}
	}
	// change writes msgs as one change and sets its row's created_at (and
	// published_at when published).
	change := func(published bool, msgs ...realtime.Message) {
		t.Helper()
		err := realtime.Change(context.Background(), st, nil, func(*gorm.DB) ([]realtime.Message, error) { return msgs, nil })
		if err != nil {
			t.Fatal(err)
		}
		upd := map[string]any{"created_at": old}
		if published {
			upd["published_at"] = store.Now()
		}
		if err := st.DB.Model(&store.OutboxEvent{}).Where("id = (SELECT MAX(id) FROM outbox_events)").Updates(upd).Error; err != nil {
			t.Fatal(err)
		}
	}
	change(false, m("quote_1", "quote:1", 4), m("new_quotes", "quote:1", 4), m("quote_1", "offer:9", 1)) // first frame superseded
	change(false, m("user_quotes_u", "quote:1", 4))                                                      // one-frame row, superseded
	change(true, m("quote_1", "quote:1", 5), m("user_quotes_u", "quote:1", 5))                           // published by the web process
	change(true, m("driver_offers_d", "offer:9", 3))                                                     // published one-frame row
	change(false, m("driver_offers_d", "offer:9", 2), m("quote_1", "quote:1", 5), m("_control", "", 0))  // first superseded

	rec := &testutil.Recorder{}
	n, err := (&realtime.Outbox{Store: st, Publisher: rec}).Relay(context.Background(), 2*time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rec.Take() {
		got = append(got, f.Group+"/"+f.Resource+"@"+strconv.FormatInt(f.Version, 10))
	}
	want := "new_quotes/quote:1@4 quote_1/offer:9@1 quote_1/quote:1@5 _control/@0"
	if strings.Join(got, " ") != want || n != 4 {
		t.Fatalf("relayed (%d)\n %v\nwant\n %v", n, strings.Join(got, " "), want)
	}
	if left := testutil.UnpublishedFrames(t, st); len(left) != 0 {
		t.Fatalf("%d frames left unpublished (superseded ones are marked with their row)", len(left))
	}
}
