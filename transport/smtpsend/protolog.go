package smtpsend

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
)

// SmtpSend protocol logging (spec §7.1): a send connector with ProtocolLoggingLevel Verbose
// logs each next-hop session: '+' and '-', '>' for what exlab sends (message bodies left out,
// AUTH data redacted), '<' for each reply (a multi-line reply on one line), '*' for TLS. The
// lines go to SendOptions.ProtocolLog when the session ends; the caller writes them to its
// service's SmtpSend log.

// sendLog collects one session's lines.
type sendLog struct {
	o                      SendOptions
	session, local, remote string
	seq                    int
	// mu guards lines and ended: a pooled session left idle has its lines handed over by a
	// timer (idleFlush) while a new transaction may be adding to them.
	mu         sync.Mutex
	lines      []smtpwire.LogLine
	armed      atomic.Bool // an idleFlush timer is pending
	rbuf, wbuf []byte
	reply      []string // lines of a multi-line reply read so far
	body       bool     // a message body is being written: not logged
	auth       bool     // an AUTH exchange is going on: client lines redacted
	// A body found in the stream itself (the proxy writes commands and chunks in one buffer):
	// skip is what is left of a BDAT chunk; after DATA and its 354, lines up to "." are body.
	skip     int64
	dataSent bool
	inData   bool
	ended    bool
}

func newSendLog(o SendOptions, conn net.Conn) *sendLog {
	if o.ProtocolLog == nil {
		return nil
	}
	return &sendLog{o: o, session: smtpwire.NewSessionID(), local: endpoint(conn.LocalAddr()), remote: endpoint(conn.RemoteAddr())}
}

func endpoint(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := ap.Addr().Unmap(); ip.Is4() {
		return netip.AddrPortFrom(ip, ap.Port()).String()
	}
	return ap.String()
}

func (l *sendLog) add(event byte, data, context string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.lines = append(l.lines, smtpwire.LogLine{Time: time.Now(), Connector: l.o.Connector, Session: l.session, Seq: l.seq,
		Local: l.local, Remote: l.remote, Event: event, Data: data, Context: context})
	l.seq++
	l.mu.Unlock()
}

// end writes the '-' line and hands the session's lines over.
func (l *sendLog) end() {
	if l == nil {
		return
	}
	l.mu.Lock()
	ended := l.ended
	l.ended = true
	l.mu.Unlock()
	if ended {
		return
	}
	l.add('-', "", "Local")
	l.flush()
}

// flush hands the lines so far over.
func (l *sendLog) flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.flushLocked()
	l.mu.Unlock()
}

func (l *sendLog) flushLocked() {
	if len(l.lines) > 0 {
		l.o.ProtocolLog(l.lines)
		l.lines = nil
	}
}

// logBatchAge is how long a pooled session's lines wait to be handed over at most.
const logBatchAge = time.Second

// transactionEnded hands a pooled session's lines over in batches, as the receive side does:
// every 64 lines, or once the oldest has waited a second (a hand-over per message cost more than
// the writing itself). Lines a session left idle in the pool still holds go a second later
// (idleFlush), so that the log shows a hop soon after it was made; the rest goes at the
// session's end.
func (l *sendLog) transactionEnded() {
	if l == nil {
		return
	}
	l.mu.Lock()
	if len(l.lines) >= 64 || (len(l.lines) > 0 && time.Since(l.lines[0].Time) > logBatchAge) {
		l.flushLocked()
	}
	pending := len(l.lines) > 0
	l.mu.Unlock()
	if pending && !l.armed.Swap(true) {
		time.AfterFunc(logBatchAge, l.idleFlush)
	}
}

// idleFlush hands over the lines that have waited logBatchAge; a session in use again keeps
// the younger ones for its own transactionEnded.
func (l *sendLog) idleFlush() {
	l.armed.Store(false)
	l.mu.Lock()
	if !l.ended && len(l.lines) > 0 && time.Since(l.lines[0].Time) >= logBatchAge {
		l.flushLocked()
	}
	l.mu.Unlock()
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (l *sendLog) read(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.rbuf = append(l.rbuf, b...)
			return
		}
		lb := b[:i]
		if len(l.rbuf) > 0 {
			l.rbuf = append(l.rbuf, lb...)
			lb = l.rbuf
		}
		b = b[i+1:]
		line := string(bytes.TrimSuffix(lb, []byte{'\r'}))
		l.rbuf = l.rbuf[:0]
		l.reply = append(l.reply, line)
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		data := l.reply[0]
		if len(l.reply) > 1 {
			var sb strings.Builder
			sb.WriteString(line[:min(3, len(line))] + " ")
			for _, r := range l.reply {
				sb.WriteString(" ")
				if len(r) > 4 {
					sb.WriteString(r[4:])
				}
			}
			data = sb.String()
		}
		l.reply = l.reply[:0]
		if l.dataSent && strings.HasPrefix(data, "354") {
			l.dataSent, l.inData = false, true
		}
		if l.auth {
			if strings.HasPrefix(data, "334") {
				data = "334 <authentication response>"
			} else {
				l.auth = false
			}
		}
		l.add('<', data, "")
	}
}

func (l *sendLog) write(b []byte) {
	if l.body {
		l.inData = false // the caller marks this body itself, up to its final "."
		return
	}
	for len(b) > 0 {
		if l.skip > 0 {
			n := min(int64(len(b)), l.skip)
			b, l.skip = b[n:], l.skip-n
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.wbuf = append(l.wbuf, b...)
			return
		}
		lb := b[:i]
		if len(l.wbuf) > 0 {
			l.wbuf = append(l.wbuf, lb...)
			lb = l.wbuf
		}
		b = b[i+1:]
		lb = bytes.TrimSuffix(lb, []byte{'\r'})
		if l.inData {
			l.inData = len(lb) != 1 || lb[0] != '.'
			l.wbuf = l.wbuf[:0]
			continue
		}
		line := string(lb)
		l.wbuf = l.wbuf[:0]
		switch {
		case hasPrefixFold(line, "AUTH "), hasPrefixFold(line, "X-EXPS "):
			// As the receive side logs an AUTH (spec §13.18): the command with its mechanism
			// only, "334 <authentication response>" for each challenge, and none of the
			// client's lines, here exlab's own [I: no SmtpSend capture of an AUTH is public].
			l.auth = true
			if f := strings.Fields(line); len(f) > 2 {
				line = f[0] + " " + f[1]
			}
		case l.auth:
			continue
		case hasPrefixFold(line, "BDAT "):
			if f := strings.Fields(line); len(f) > 1 {
				l.skip, _ = strconv.ParseInt(f[1], 10, 64)
			}
		case strings.EqualFold(line, "DATA"):
			l.dataSent = true
		}
		l.add('>', line, "")
	}
}

// logConn logs what passes through a connection (off: ciphertext under a TLS layer that logs).
type logConn struct {
	net.Conn
	l   *sendLog
	off bool
}

func (c *logConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.off && n > 0 {
		c.l.read(p[:n])
	}
	return n, err
}

func (c *logConn) Write(p []byte) (int, error) {
	if !c.off {
		c.l.write(p)
	}
	return c.Conn.Write(p)
}

// Close ends the session's log (the '-' line) and closes the connection.
func (c *logConn) Close() error {
	c.l.end()
	return c.Conn.Close()
}
