package smtpwire

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestLogFileCircular: the circular logging of Exchange's logs (Set-TransportService
// …MaxFileSize, …MaxDirectorySize, …MaxAge): files roll over at MaxFileSize, the oldest go
// first once the directory passes MaxDirectorySize (-10 is newer than -9), files older than
// MaxAge go, and another log's files in the same directory (MSGTRKMD beside MSGTRK) are left
// alone.
func TestLogFileCircular(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "MSGTRKMD20261202-1.LOG")
	_ = os.WriteFile(other, []byte(strings.Repeat("x", 5000)), 0o644)
	old := filepath.Join(dir, "MSGTRK20261101-1.LOG")
	_ = os.WriteFile(old, []byte("#old\r\n"), 0o644)
	_ = os.Chtimes(old, time.Now().Add(-48*time.Hour), time.Now().Add(-48*time.Hour))
	l := &LogFile{Dir: dir, Prefix: "MSGTRK", Period: "20060102", MaxFileSize: 1000, MaxDirectorySize: 4000, MaxAge: 24 * time.Hour,
		Header: func(time.Time) string { return "#Software: Microsoft Exchange Server\r\n" }}
	day := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	line := []byte(strings.Repeat("y", 98) + "\r\n") // 100 bytes
	for i := 0; i < 150; i++ {                       // 15,000 bytes: about 15 files of 1,000
		if err := l.Write(day, line); err != nil {
			t.Fatal(err)
		}
		l.Flush()
	}
	l.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "MSGTRK2*.LOG"))
	var total int64
	var ns []int
	for _, n := range names {
		st, _ := os.Stat(n)
		total += st.Size()
		var k int
		fmt.Sscanf(strings.TrimPrefix(filepath.Base(n), "MSGTRK20261202-"), "%d", &k)
		ns = append(ns, k)
	}
	sort.Ints(ns)
	// The bound holds at each roll-over, with the current file on top of it.
	if total > 4000+1100 {
		t.Errorf("the directory holds %d bytes of MSGTRK files, bound 4000 (+ the current file)", total)
	}
	if len(ns) == 0 || ns[len(ns)-1] < 10 || ns[0] < 9 {
		t.Errorf("files left: %v (the newest, numbered past 10, must stay; the oldest must go)", ns)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("a file older than MaxAge is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another log's file was removed: %v", err)
	}
}
