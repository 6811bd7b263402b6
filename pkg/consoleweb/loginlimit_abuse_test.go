package consoleweb_test

import (
	"fmt"
	"testing"
	"time"

	"hermez/pkg/consoleweb"
)

// Guesses spread over many usernames (and many client IPs) must not reset
// the cap of a username already at it: the old in-process limiter wiped
// every counter once 50,000 keys existed.
func TestLoginLimitSurvivesASprayOfUsernames(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	clock := t0
	l := consoleweb.NewLoginLimiter(nil, "", func() time.Time { return clock })
	// The victim's username reaches its cap from rotating IPs.
	for i := range consoleweb.LoginFailsPerAcc {
		blocked, _, done := l.Reserve(fmt.Sprintf("10.0.%d.%d", i/200, i%200), "victim")
		if blocked {
			t.Fatalf("attempt %d on the victim refused before the cap", i+1)
		}
		done(false)
	}
	if blocked, _, _ := l.Reserve("10.9.9.9", "victim"); !blocked {
		t.Fatal("the victim's cap is not enforced")
	}
	// A spray: 60,000 other usernames from many addresses within the window
	// (120,000 keys, past the store's bound where it prunes).
	for i := range 60000 {
		clock = t0.Add(time.Duration(i) * time.Millisecond)
		if blocked, _, done := l.Reserve(fmt.Sprintf("172.16.%d.%d", i/250, i%250), fmt.Sprintf("user%d", i)); !blocked {
			done(false)
		}
	}
	blocked, wait, _ := l.Reserve("10.9.9.10", "victim")
	if !blocked {
		t.Fatal("a spray over other usernames reset the victim's cap")
	}
	if wait <= 0 || wait > consoleweb.LoginWindow {
		t.Fatalf("wait %s, want within the window", wait)
	}
	// Once the window has passed, the victim may try again.
	clock = t0.Add(consoleweb.LoginWindow + time.Minute)
	if blocked, _, _ := l.Reserve("10.9.9.11", "victim"); blocked {
		t.Fatal("still blocked after the window")
	}
}
