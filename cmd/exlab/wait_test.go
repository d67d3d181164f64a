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
		// The log rolls over at the hour (RECVyyyymmddhh-N.LOG), so a run that crosses it has
		// two files: Glob sorts them by name, which is their order in time.
		files, _ := filepath.Glob(frontendReceiveLog(data))
		var last *smtpwire.LogLine
		for _, f := range files {
			ls, err := smtpwire.ParseProtocolLog(f)
			if err != nil {
				return false
			}
			if len(ls) > 0 {
				last = &ls[len(ls)-1]
			}
		}
		return last != nil && last.Event == '-'
	})
}

// protocolLogLines reads every protocol log file the glob matches, in name order, which is their
// order in time: a test run that crosses the hour has two files (RECVyyyymmddhh-N.LOG), so a
// test must not expect one.
func protocolLogLines(t *testing.T, glob string) []smtpwire.LogLine {
	t.Helper()
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatalf("no protocol log files match %s", glob)
	}
	var lines []smtpwire.LogLine
	for _, f := range files {
		ls, err := smtpwire.ParseProtocolLog(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, ls...)
	}
	return lines
}
