package main

import (
	"path/filepath"
	"testing"
	"time"
)

// What post-quotes writes is what sockets-listen reads: ids, users (the
// broadcast marker included) and send times to the nanosecond, in send order.
func TestEventsFileRoundTrip(t *testing.T) {
	t0 := time.Unix(1764600000, 123456789)
	in := []postedEvent{
		{id: "b", user: 7, sent: t0.Add(time.Millisecond)},
		{id: "a", user: everyone, sent: t0},
	}
	path := filepath.Join(t.TempDir(), "events")
	if err := writeEvents(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := readEvents(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].id != "a" || out[0].user != everyone || !out[0].sent.Equal(t0) ||
		out[1].id != "b" || out[1].user != 7 || !out[1].sent.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("read back %+v", out)
	}
	if _, err := readEvents(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing events file read without error")
	}
}
