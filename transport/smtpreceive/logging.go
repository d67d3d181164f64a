// logging.go holds the protocol-log hooks (spec §7.1) and the ordinary logger.

package smtpreceive

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/exlab/exlab/transport/smtpwire"
)

// logger returns the server's logger or a discarding one.
func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Protocol log hooks (spec §7.1).

// logLine adds one line to the session's protocol log.
func (c *conn) logLine(event byte, data, context string) {
	if !c.plogOn {
		return
	}
	if c.plogLocal == "" {
		c.plogLocal, c.plogRemote, c.plogID = smtpwire.LogEndpoint(c.info.Local), smtpwire.LogEndpoint(c.info.Remote), c.rc.Identity()
	}
	if c.plog == nil {
		c.plog = make([]smtpwire.LogLine, 0, 8)
	}
	c.plog = append(c.plog, smtpwire.LogLine{Time: time.Now(), Connector: c.plogID, Session: c.info.SessionID, Seq: c.plogSeq,
		Local: c.plogLocal, Remote: c.plogRemote, Event: event, Data: logSafe(data), Context: logSafe(context)})
	c.plogSeq++
}

// logSafe is s as the protocol log may hold it: raw binary never goes into a log. Control
// bytes (NUL, a TLS record's 0x16, CR, LF, TAB …), DEL and bytes that are not UTF-8 become '?',
// as .NET's encoders write an unencodable character; printable ASCII and valid UTF-8 (an
// SMTPUTF8 address) stay as they are. Exchange's own rendering of such bytes is not captured
// (exlab [I]). Lines that need nothing cost one scan.
func logSafe(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		// range yields utf8.RuneError for each byte that is not UTF-8.
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// logCommand logs a command line; of AUTH and X-EXPS only the verb and the mechanism are
// written, never an initial response (spec §13.18: "<,AUTH LOGIN,").
func (c *conn) logCommand(line string) {
	if !c.plogOn {
		return
	}
	if v := strings.ToUpper(line[:min(len(line), 6)]); strings.HasPrefix(v, "AUTH ") || strings.HasPrefix(v, "X-EXPS") {
		if f := strings.Fields(line); len(f) > 2 {
			line = f[0] + " " + f[1]
		}
	}
	c.logLine('<', line, "")
}

// disconnected writes the '-' line: Local when exlab ended the session, Remote when the client
// did, Remote(SocketError) when the connection broke.
func (c *conn) disconnected(err error) {
	if !c.plogOn {
		return
	}
	ctx := "Local"
	switch {
	case err == nil, errors.Is(err, errIdleTimeout), errors.Is(err, errSessionTimout), errors.Is(err, errShutdown),
		errors.Is(err, errProtocolErrors):
	case errors.Is(err, io.EOF):
		ctx = "Remote"
	default:
		ctx = "Remote(SocketError)"
	}
	c.logLine('-', "", ctx)
	c.srv.ProtocolLog.Write(c.plog)
	c.plog = nil
}

// Logging says whether the session writes a protocol log (Engine).
func (c *conn) Logging() bool { return c.plogOn }

// Info writes a '*' line to the session's protocol log (Engine).
func (c *conn) Info(data, context string) { c.logLine('*', data, context) }
