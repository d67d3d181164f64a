package smtpwire

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProtocolLog writes Exchange's SMTP protocol logs (spec §7.1): one directory per service and
// direction (FrontEnd or Hub, SmtpReceive or SmtpSend), hourly files RECVyyyyMMddHH-N.LOG /
// SENDyyyyMMddHH-N.LOG with Exchange's five header lines and field list, CSV quoting, circular
// removal by size and age. Sessions hand their lines over in batches (at each reply flush), so
// the reply path only appends to a slice; one writer goroutine formats and writes them, and
// flushes every second.
type ProtocolLog struct {
	dir     string
	prefix  string // RECV or SEND
	logType string // SMTP Receive Protocol Log, SMTP Send Protocol Log
	maxFile int64
	maxDir  int64
	maxAge  time.Duration
	log     *slog.Logger

	ch   chan []LogLine
	done chan struct{}
	once sync.Once
}

// LogLine is one protocol-log line, of the receive side (SmtpReceive) or the send side (SmtpSend).
type LogLine struct {
	Time      time.Time
	Connector string // connector-id
	Session   string // session-id
	Seq       int    // sequence-number
	Local     string // local-endpoint
	Remote    string // remote-endpoint
	Event     byte   // + - > < *
	Data      string
	Context   string
}

// ProtocolLogFields is the #Fields line of every protocol log.
const ProtocolLogFields = "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context"

// ProtocolLogOptions are the circular-logging limits (Set-TransportService
// ReceiveProtocolLogMaxFileSize, …MaxDirectorySize, …MaxAge; 00:00:00 keeps files forever).
type ProtocolLogOptions struct {
	MaxFileSize      int64
	MaxDirectorySize int64
	MaxAge           time.Duration
	Logger           *slog.Logger
}

// NewProtocolLog starts a protocol log in dir; send selects the SmtpSend form.
func NewProtocolLog(dir string, send bool, o ProtocolLogOptions) *ProtocolLog {
	p := &ProtocolLog{dir: dir, prefix: "RECV", logType: "SMTP Receive Protocol Log", maxFile: o.MaxFileSize,
		maxDir: o.MaxDirectorySize, maxAge: o.MaxAge, log: o.Logger, ch: make(chan []LogLine, 1024), done: make(chan struct{})}
	if send {
		p.prefix, p.logType = "SEND", "SMTP Send Protocol Log"
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.maxFile <= 0 {
		p.maxFile = 10 << 20
	}
	go p.run()
	return p
}

// Write hands a batch of lines to the writer; the caller must not reuse the slice.
func (p *ProtocolLog) Write(lines []LogLine) {
	if p == nil || len(lines) == 0 {
		return
	}
	p.ch <- lines
}

// Close writes what is buffered and stops the writer.
func (p *ProtocolLog) Close() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.ch) })
	<-p.done
}

func (p *ProtocolLog) run() {
	defer close(p.done)
	lf := &LogFile{Dir: p.dir, Prefix: p.prefix, Period: "2006010215", MaxFileSize: p.maxFile, MaxDirectorySize: p.maxDir, MaxAge: p.maxAge,
		Header: func(now time.Time) string {
			return fmt.Sprintf("#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: %s\r\n#Date: %s\r\n#Fields: %s\r\n",
				p.logType, now.UTC().Format("2006-01-02T15:04:05.000Z"), ProtocolLogFields)
		}}
	defer lf.Close()
	var (
		stamp []byte
		clock stampCache
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case lines, ok := <-p.ch:
			if !ok {
				return
			}
			for i := range lines {
				stamp = clock.appendLine(stamp[:0], &lines[i])
				if err := lf.Write(lines[i].Time, stamp); err != nil {
					p.log.Error("protocol log", "dir", p.dir, "err", err)
					break
				}
			}
		case <-tick.C:
			lf.Flush()
		}
	}
}

// stampCache keeps the formatted second of the last line: lines of one second differ in their
// milliseconds only.
type stampCache struct {
	sec    int64
	prefix []byte // "2006-01-02T15:04:05."
}

// appendLine formats one line: CSV with quotes only where a field holds a comma, a quote or a
// line break, doubled quotes inside.
func (sc *stampCache) appendLine(b []byte, l *LogLine) []byte {
	t := l.Time.UTC()
	if s := t.Unix(); s != sc.sec || sc.prefix == nil {
		sc.sec, sc.prefix = s, t.AppendFormat(sc.prefix[:0], "2006-01-02T15:04:05.")
	}
	ms := t.Nanosecond() / 1e6
	b = append(b, sc.prefix...)
	b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	b = append(b, ',')
	b = appendCSV(b, l.Connector)
	b = append(b, ',')
	b = append(b, l.Session...)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(l.Seq), 10)
	b = append(b, ',')
	b = append(b, l.Local...)
	b = append(b, ',')
	b = append(b, l.Remote...)
	b = append(b, ',', l.Event, ',')
	b = appendCSV(b, l.Data)
	b = append(b, ',')
	b = appendCSV(b, l.Context)
	return append(b, '\r', '\n')
}

// AppendCSV appends s as one CSV field, quoted only where needed (the tracking log uses it too).
func AppendCSV(b []byte, s string) []byte { return appendCSV(b, s) }

// appendCSV appends s as one CSV field. The checks are strings.IndexByte, which scans with
// vector instructions: most fields are plain, and most quoted ones (a banner or reply with
// commas) hold no quote or line break, so they are copied whole (a byte-by-byte scan was 3%
// of the frontend's CPU under load).
func appendCSV(b []byte, s string) []byte {
	special := strings.IndexByte(s, '"') >= 0 || strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\n') >= 0
	if !special && strings.IndexByte(s, ',') < 0 {
		return append(b, s...)
	}
	b = append(b, '"')
	if !special {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\r', '\n':
			b = append(b, s[start:i]...)
			if c == '"' {
				b = append(b, '"', '"')
			} else {
				b = append(b, ' ')
			}
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ParseProtocolLog reads a protocol log file back into its lines (the header checked), for
// tests and tools.
func ParseProtocolLog(path string) ([]LogLine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) < 5 || lines[0] != "#Software: Microsoft Exchange Server" || lines[1] != "#Version: 15.0.0.0" ||
		!strings.HasPrefix(lines[2], "#Log-type: SMTP ") || !strings.HasPrefix(lines[3], "#Date: ") || lines[4] != "#Fields: "+ProtocolLogFields {
		return nil, fmt.Errorf("%s: not a protocol log header: %q", path, lines[:min(5, len(lines))])
	}
	var out []LogLine
	for _, l := range lines[5:] {
		ll, err := parseLogLine(l)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		out = append(out, ll)
	}
	return out, nil
}

func splitCSV(l string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quoted && c == '"' && i+1 < len(l) && l[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// LogReply is a reply as Exchange logs it: a multi-line reply on one line, its lines joined by
// spaces after the code and two spaces (the EHLO form, spec §7.1); AUTH challenges redacted.
func LogReply(text string) string {
	if strings.HasPrefix(text, "334 ") {
		return "334 <authentication response>"
	}
	if !strings.Contains(text, "\n") {
		return text
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var b strings.Builder
	b.WriteString(lines[0][:3])
	b.WriteString(" ")
	for _, l := range lines {
		b.WriteString(" ")
		if len(l) > 4 {
			b.WriteString(l[4:])
		}
	}
	return b.String()
}

// LogEndpoint prints ip:port, an IPv6 address in brackets (spec §7.1 [I]).
func LogEndpoint(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	if a.Is6() {
		return "[" + a.String() + "]:" + strconv.Itoa(int(ap.Port()))
	}
	return a.String() + ":" + strconv.Itoa(int(ap.Port()))
}

// Dir is the directory p writes its files in ("" for a nil log).
func (p *ProtocolLog) Dir() string {
	if p == nil {
		return ""
	}
	return p.dir
}

// Writer is p's Write as the send side takes it (smtpsend's SendOptions.ProtocolLog), or nil
// when p is nil so that a session without a log collects no lines.
func (p *ProtocolLog) Writer() func([]LogLine) {
	if p == nil {
		return nil
	}
	return p.Write
}
