package smtpwire

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ProtocolSession is one SMTP session as a protocol log holds it: its lines in sequence order.
type ProtocolSession struct {
	Dir       string // the log directory it was read from
	Connector string // connector-id
	Session   string // session-id
	Lines     []LogLine
}

// FindProtocolSessions reads the protocol logs (RECV*.LOG, SEND*.LOG) in dirs and returns the
// whole sessions that have a line whose data contains one of needles (a message's <Message-ID>
// is in the 250 2.6.0 reply to its DATA on every hop, and in the remote's reply a send log
// records) or whose session-id is one of sessionIDs (the source-context of a RECEIVE tracking
// event), oldest first. A session that spans files (an hourly roll-over) comes back whole.
//
// Each file is read twice, a line at a time: first for the sessions that match, then for their
// lines; only lines that contain a needle or a session-id are split into fields, so a search
// costs about one read of the logs (bounded by ReceiveProtocolLogMaxDirectorySize).
func FindProtocolSessions(dirs, needles, sessionIDs []string) ([]ProtocolSession, error) {
	var out []ProtocolSession
	var probes [][]byte
	for _, n := range needles {
		if n != "" {
			probes = append(probes, []byte(n))
		}
	}
	ids := map[string]bool{}
	for _, id := range sessionIDs {
		if id != "" {
			ids[id] = true
			probes = append(probes, []byte(id))
		}
	}
	if len(probes) == 0 {
		return nil, nil
	}
	for _, dir := range dirs {
		files, err := logFiles(dir)
		if err != nil {
			return nil, err
		}
		type key struct{ connector, session string }
		found := map[key]bool{}
		var sessionProbes [][]byte
		for _, f := range files {
			err := scanLog(f, probes, func(l LogLine) {
				k := key{l.Connector, l.Session}
				if found[k] {
					return
				}
				match := ids[l.Session]
				for _, n := range needles {
					match = match || (n != "" && strings.Contains(l.Data, n))
				}
				if match {
					found[k] = true
					sessionProbes = append(sessionProbes, []byte(","+l.Session+","))
				}
			})
			if err != nil {
				return nil, err
			}
		}
		if len(found) == 0 {
			continue
		}
		sessions := map[key]*ProtocolSession{}
		for _, f := range files {
			err := scanLog(f, sessionProbes, func(l LogLine) {
				k := key{l.Connector, l.Session}
				if !found[k] {
					return
				}
				s := sessions[k]
				if s == nil {
					s = &ProtocolSession{Dir: dir, Connector: l.Connector, Session: l.Session}
					sessions[k] = s
				}
				s.Lines = append(s.Lines, l)
			})
			if err != nil {
				return nil, err
			}
		}
		for _, s := range sessions {
			sort.SliceStable(s.Lines, func(i, j int) bool {
				a, b := s.Lines[i], s.Lines[j]
				if !a.Time.Equal(b.Time) {
					return a.Time.Before(b.Time)
				}
				return a.Seq < b.Seq
			})
			out = append(out, *s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Lines[0], out[j].Lines[0]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return out[i].Session < out[j].Session
	})
	return out, nil
}

// logFiles are the protocol log files of dir, in name order (which is time order: the names
// carry yyyyMMddHH and a sequence number).
func logFiles(dir string) ([]string, error) {
	var files []string
	for _, p := range []string{"RECV*.LOG", "SEND*.LOG"} {
		m, err := filepath.Glob(filepath.Join(dir, p))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

// scanLog calls fn for each line of the protocol log file name that contains one of probes.
// A file that vanished (circular logging removed it) is skipped.
func scanLog(name string, probes [][]byte, fn func(LogLine)) error {
	f, err := os.Open(name)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		b := sc.Bytes()
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		hit := false
		for _, p := range probes {
			if bytes.Contains(b, p) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		l, err := parseLogLine(strings.TrimRight(string(b), "\r"))
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		fn(l)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// parseLogLine splits one protocol-log line (ProtocolLogFields) into its fields.
func parseLogLine(l string) (LogLine, error) {
	f := splitCSV(l)
	if len(f) != 9 || len(f[6]) != 1 {
		return LogLine{}, fmt.Errorf("bad line %q", l)
	}
	t, err := time.Parse("2006-01-02T15:04:05.000Z", f[0])
	if err != nil {
		return LogLine{}, err
	}
	seq, err := strconv.Atoi(f[3])
	if err != nil {
		return LogLine{}, fmt.Errorf("sequence-number %q", f[3])
	}
	return LogLine{Time: t, Connector: f[1], Session: f[2], Seq: seq, Local: f[4], Remote: f[5], Event: f[6][0], Data: f[7], Context: f[8]}, nil
}
