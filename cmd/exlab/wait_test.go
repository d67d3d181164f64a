package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
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

// frontendReceiveLog is the glob of the Front End Transport's SmtpReceive protocol log files.
func frontendReceiveLog(data string) string {
	return filepath.Join(data, "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive/RECV*.LOG")
}

// waitSessionEnded waits until the last line of the frontend's SmtpReceive log (Default
// Frontend logs by default; the writer flushes every second) is a session's end ('-'): the
// server has seen the client go, so stopping it now cannot end the session first.
func waitSessionEnded(t *testing.T, data string) {
	t.Helper()
	waitUntil(t, 10*time.Second, "the session's end in the protocol log", func() bool {
		files, _ := filepath.Glob(frontendReceiveLog(data))
		if len(files) != 1 {
			return false
		}
		ls, err := smtpwire.ParseProtocolLog(files[0])
		return err == nil && len(ls) > 0 && ls[len(ls)-1].Event == '-'
	})
}
