package main

import (
	"testing"
	"time"
)

// waitUntil polls cond every 20ms until it holds, and fails the test with what it waited for
// once the deadline passes: tests wait on the condition they need, not on a fixed sleep.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
