package smtpwire

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LogFile is a set of circular log files in Exchange's manner (protocol logs, the message
// tracking log): <Prefix><period>-<N>.LOG in Dir, a new file when the period (the Period layout
// of the line's UTC time: hourly or daily) changes or the file reaches MaxFileSize, Header
// written at the top of each new file, files older than MaxAge or beyond MaxDirectorySize
// removed when a file is opened. One goroutine owns it.
type LogFile struct {
	Dir              string
	Prefix           string
	Period           string
	Header           func(now time.Time) string
	MaxFileSize      int64
	MaxDirectorySize int64
	MaxAge           time.Duration

	f      *os.File
	bw     *bufio.Writer
	size   int64
	period string
	n      int
}

// Write appends one line stamped t, opening or rolling over the file as needed.
func (l *LogFile) Write(t time.Time, line []byte) error {
	if p := t.UTC().Format(l.Period); l.f == nil || p != l.period || (l.MaxFileSize > 0 && l.size >= l.MaxFileSize) {
		if err := l.open(t, p); err != nil {
			return err
		}
	}
	n, err := l.bw.Write(line)
	l.size += int64(n)
	return err
}

// Flush writes what is buffered to the file.
func (l *LogFile) Flush() {
	if l.f != nil {
		_ = l.bw.Flush()
	}
}

// Close flushes and closes the current file.
func (l *LogFile) Close() {
	if l.f != nil {
		_ = l.bw.Flush()
		_ = l.f.Close()
		l.f = nil
	}
}

func (l *LogFile) open(now time.Time, period string) error {
	l.Close()
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return err
	}
	if period != l.period {
		l.period, l.n = period, 0
	}
	for {
		l.n++
		name := filepath.Join(l.Dir, fmt.Sprintf("%s%s-%d.LOG", l.Prefix, period, l.n))
		st, err := os.Stat(name)
		if err == nil && l.MaxFileSize > 0 && st.Size() >= l.MaxFileSize {
			continue
		}
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		l.f, l.bw, l.size = f, bufio.NewWriterSize(f, 64<<10), 0
		if st == nil || st.Size() == 0 {
			k, _ := l.bw.WriteString(l.Header(now))
			l.size = int64(k)
		} else {
			l.size = st.Size()
		}
		l.cleanup(name)
		return nil
	}
}

// cleanup removes files older than MaxAge, then the oldest beyond MaxDirectorySize.
func (l *LogFile) cleanup(current string) {
	files := l.files()
	var total int64
	sizes := map[string]int64{}
	for _, name := range files {
		st, err := os.Stat(name)
		if err != nil {
			continue
		}
		if name != current && l.MaxAge > 0 && time.Since(st.ModTime()) > l.MaxAge {
			_ = os.Remove(name)
			continue
		}
		sizes[name] = st.Size()
		total += st.Size()
	}
	for _, name := range files {
		if l.MaxDirectorySize <= 0 || total <= l.MaxDirectorySize {
			break
		}
		if sz, ok := sizes[name]; ok && name != current && os.Remove(name) == nil {
			total -= sz
		}
	}
}

// files are this log's files, oldest first: <Prefix><period>-<N>.LOG ordered by period, then
// by N as a number (-10 comes after -9). Another log's files in the same directory are not
// this one's, even when their prefix starts with this prefix (MSGTRKMD beside MSGTRK).
func (l *LogFile) files() []string {
	names, _ := filepath.Glob(filepath.Join(l.Dir, l.Prefix+"*.LOG"))
	type file struct {
		name, period string
		n            int
	}
	var fs []file
	for _, name := range names {
		rest := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), l.Prefix), ".LOG")
		period, num, ok := strings.Cut(rest, "-")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || len(period) != len(l.Period) || strings.Trim(period, "0123456789") != "" {
			continue
		}
		fs = append(fs, file{name, period, n})
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].period != fs[j].period {
			return fs[i].period < fs[j].period
		}
		return fs[i].n < fs[j].n
	})
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}
