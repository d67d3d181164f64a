// logging.go holds the protocol-log hooks (spec §7.1) and the ordinary logger.

package smtpreceive

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

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
		Local: c.plogLocal, Remote: c.plogRemote, Event: event, Data: data, Context: context})
	c.plogSeq++
}

// logCommand logs a command line; AUTH's initial response is not written.
func (c *conn) logCommand(line string) {
	if !c.plogOn {
		return
	}
	if v := strings.ToUpper(line[:min(len(line), 6)]); v == "AUTH P" || v == "AUTH L" || strings.HasPrefix(v, "AUTH ") || strings.HasPrefix(v, "X-EXPS") {
		if f := strings.Fields(line); len(f) > 2 {
			line = f[0] + " " + f[1] + " <authentication response>"
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
	case err == nil, errors.Is(err, errIdleTimeout), errors.Is(err, errSessionTimout), errors.Is(err, errShutdown):
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
