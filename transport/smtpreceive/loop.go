// loop.go holds the command loop: serve, readLine, the state table (check) and the dispatch
// (handle), with the protocol-error accounting.

package smtpreceive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

func (c *conn) serve() {
	defer func() {
		if p := recover(); p != nil {
			// A panic in a handler ends only this session: 421, log with stack, close
			// (STYLE §3; emersion/go-smtp conn.go handle).
			c.srv.logger().Error("panic in SMTP session", "connector", c.rc.Identity(), "session", c.info.SessionID,
				"panic", p, "stack", string(debug.Stack()))
			c.reply(smtpwire.Fixed("R05"))
			c.flush()
		}
		c.sess.Close()
		_ = c.nc.Close()
		c.endMessage(0)
		if c.sessSpan != nil {
			c.sessSpan.SetAttributes(attribute.Int("smtp.transactions", c.transactions))
			c.sessSpan.End()
		}
	}()
	c.logLine('+', "", "")
	if f, handled := c.atStep(config.StepConnect, "", ""); handled {
		// An injected reply takes the banner's place; unless it is a 2xx greeting the
		// session ends with it.
		if c.closed || f.reply.Code()/100 != 2 {
			c.closed = true
			_ = c.flush()
			c.disconnected(nil)
			return
		}
	} else {
		c.reply(Banner(c.rc, time.Now()))
	}
	if m := c.srv.Metrics; m != nil {
		_ = c.flush()
		m.Phase(c.rc, "banner", time.Since(c.info.Started))
	}
	for !c.closed {
		line, err := c.readLine()
		if err != nil {
			c.readFailed(err)
			c.disconnected(err)
			return
		}
		c.logCommand(line)
		c.handle(line)
	}
	c.disconnected(nil)
	// The session is over (QUIT, or an error that closes it): free its place under
	// MaxInboundConnectionPerSource before the last reply reaches the client, so a client that
	// reconnects at once is not refused for a connection it has already ended.
	c.release()
	c.flush()
}

// readFailed answers a failed command read: the timeout replies R60/R91, the shutdown reply R05;
// a client that went away gets nothing.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errIdleTimeout):
		c.reply(smtpwire.Fixed("R60"))
	case errors.Is(err, errSessionTimout):
		// ConnectionTimeout's reply names how long the session lasted, as a .NET TimeSpan
		// (spec §13.11: "… Total session duration: 00:05:00.7054661", zone-eu/zone-mta#161).
		c.reply(smtpwire.Render(smtpwire.R91, "duration", timeSpan(time.Since(c.info.Started))))
	case errors.Is(err, errShutdown):
		c.reply(smtpwire.Fixed("R05"))
	case errors.Is(err, errProtocolErrors):
		// R26 is written already; it only needs sending.
	default:
		return
	}
	c.flush()
}

// readLine reads one command line without its line ending. Replies waiting in the writer are
// flushed first unless more pipelined input is already buffered (RFC 2920 §3.2). Input that is
// not a command line at all (binaryInput) is answered once at once and skipped.
func (c *conn) readLine() (string, error) {
	for {
		if c.br.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return "", err
			}
		}
		if c.skipLine {
			// The rest of binary input, up to the next line end, is not a command.
			_, err := c.br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				return "", err
			}
			c.skipLine = false
			continue
		}
		answered, err := c.binaryInput()
		if err != nil {
			return "", err
		}
		if answered {
			continue
		}
		b, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Too long: discard to the end of the line, answer once (RELIABILITY §6 row 8).
			for err == bufio.ErrBufferFull {
				_, err = c.br.ReadSlice('\n')
			}
			if err != nil {
				return "", err
			}
			if c.protocolError() {
				return "", errProtocolErrors
			}
			c.reply(smtpwire.Fixed("R58"))
			continue
		}
		if err != nil {
			return "", err
		}
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
		return string(b), nil
	}
}

// binaryInput answers input that cannot be the start of a command and has no line end in what
// has arrived: a TLS ClientHello sent to a plain port (a record starts 0x16 0x03), NUL or other
// control bytes. Exchange answers such input with one 500 at once instead of waiting for a
// line end that never comes (spec §13.7: SANS SEC560's masscan of a 2019 server, whose TLS
// probe got "500 5.3.3 Unrecognized command"); the reply is unrecognized's, tarpitted as every
// 5xx to an anonymous client is. What arrived is logged with its non-printable bytes as '?' and
// discarded: a TLS record to its announced length (a ClientHello may hold LF bytes of its own),
// other input up to the next line end (skipLine), so the client gets one reply, not one per
// segment. It reports whether it answered, and the error that ends the session:
// errProtocolErrors past MaxProtocolErrors, or a read error while discarding.
func (c *conn) binaryInput() (bool, error) {
	first, err := c.br.Peek(1)
	if err != nil {
		return false, err // bufio hands a read error out once: pass it on
	}
	if !binaryByte(first[0]) {
		return false, nil
	}
	buf, _ := c.br.Peek(c.br.Buffered())
	record := len(buf) >= 5 && buf[0] == 0x16 && buf[1] == 0x03
	if !record && bytes.IndexByte(buf, '\n') >= 0 {
		return false, nil // a line after all: parsed, and refused, as any other
	}
	n := len(buf)
	if record {
		n = 5 + (int(buf[3])<<8 | int(buf[4])) // TLS record header: type, version, length (RFC 8446 §5.1)
	}
	seen := buf[:min(n, len(buf))]
	word, _, _ := bytes.Cut(seen, []byte{' '})
	c.logLine('<', asciiSafe(seen), "")
	c.unrecognized(string(word))
	if c.closed {
		return true, errProtocolErrors
	}
	// Answer before reading on: the client has sent its hello and waits for a reply.
	if err := c.flush(); err != nil {
		return true, err
	}
	if _, err := c.br.Discard(n); err != nil {
		return true, err
	}
	c.skipLine = !record
	return true, nil
}

// asciiSafe is binary input as the protocol log shows it: printable ASCII kept, every other
// byte '?' (random bytes can look like UTF-8 by chance; they are not text).
func asciiSafe(b []byte) string {
	out := make([]byte, len(b))
	for i, ch := range b {
		if ch < 0x20 || ch > 0x7e {
			ch = '?'
		}
		out[i] = ch
	}
	return string(out)
}

// binaryByte says whether b cannot start a command line typed or sent by an SMTP client:
// controls other than TAB, CR and LF, DEL, and bytes that never start a UTF-8 sequence.
func binaryByte(b byte) bool {
	switch {
	case b == '\t' || b == '\r' || b == '\n':
		return false
	case b < 0x20 || b == 0x7f:
		return true
	case b >= 0x80 && b < 0xc2, b >= 0xf5:
		return true
	}
	return false
}

// timeSpan formats d as .NET's TimeSpan.ToString() does ("c": [d.]hh:mm:ss[.fffffff], seven
// fraction digits when there is a fraction), the form of R91's session duration.
func timeSpan(d time.Duration) string {
	ticks := int64(d / 100) // .NET ticks are 100 ns
	if ticks < 0 {
		ticks = 0
	}
	secs, frac := ticks/1e7, ticks%1e7
	s := fmt.Sprintf("%02d:%02d:%02d", secs/3600%24, secs/60%60, secs%60)
	if days := secs / 86400; days > 0 {
		s = strconv.FormatInt(days, 10) + "." + s
	}
	if frac > 0 {
		s += fmt.Sprintf(".%07d", frac)
	}
	return s
}

// protocolError counts an error toward MaxProtocolErrors; past the limit it sends R26 and marks
// the connection for closing, and the caller sends nothing else.
func (c *conn) protocolError() bool {
	c.errors++
	if c.rc.MaxProtocolErrors.Allows(c.errors) {
		return false
	}
	c.reply(smtpwire.Fixed("R26"))
	c.closed = true
	return true
}

// fail answers a refused command; errors in syntax and order count toward MaxProtocolErrors.
func (c *conn) fail(id smtpwire.ReplyID) {
	if c.protocolError() {
		return
	}
	c.reply(smtpwire.Fixed(id))
}

// check is the one place where command order is decided. It returns the row to refuse with, or
// "" when the command may run in the current state.
func (c *conn) check(verb string) smtpwire.ReplyID {
	if c.st == stateConnected && c.rc.TransportRole == config.MailboxDelivery {
		// The Mailbox Transport ports answer a command before EHLO with R95, not R17 (spec §13.20).
		switch verb {
		case "MAIL", "RCPT", "DATA", "BDAT", "STARTTLS", "X-ANONYMOUSTLS", "AUTH", "X-EXPS":
			return "R95"
		}
	}
	switch verb {
	case "MAIL":
		switch {
		case c.st == stateConnected:
			return "R17"
		case c.st >= stateMail:
			return "R36"
		}
	case "RCPT":
		switch c.st {
		case stateConnected:
			return "R17"
		case stateReady:
			return "R45"
		}
	case "DATA", "BDAT":
		switch c.st {
		case stateConnected:
			return "R17"
		case stateReady:
			return "R45"
		case stateMail:
			return "R47"
		}
	case "STARTTLS", "X-ANONYMOUSTLS", "AUTH", "X-EXPS":
		switch {
		case c.st == stateConnected:
			return "R17"
		case c.st >= stateMail:
			return "X04"
		}
	}
	return ""
}

func (c *conn) handle(line string) {
	cmd := parseCommand(line)
	if m := c.srv.Metrics; m != nil {
		verb, ok := metricVerbs[cmd.Verb]
		if !ok {
			verb = "other"
		}
		m.command(c.rc, verb)
		switch verb {
		case "ehlo", "starttls", "auth", "mail", "rcpt", "data":
			start := time.Now()
			defer func() { m.Phase(c.rc, verb, time.Since(start)) }()
		}
	}
	if refuse := c.check(cmd.Verb); refuse != "" {
		if cmd.Verb == "BDAT" {
			// The chunk follows the command whatever the answer: consume it (RFC 3030 §3;
			// go-smtp issue 315).
			size, _, ok := parseBdatArg(cmd.Arg)
			if !ok {
				c.reply(smtpwire.Fixed("R59"))
				c.closed = true
				return
			}
			if !c.skipChunk(size) {
				return
			}
		}
		c.fail(refuse)
		return
	}
	ctx := c.ctx
	switch cmd.Verb {
	case "EHLO", "HELO":
		c.EHLO(ctx, cmd)
	case "MAIL":
		c.MAIL(ctx, cmd.Arg)
	case "RCPT":
		c.RCPT(c.txCtx(), cmd.Arg)
	case "DATA":
		c.DATA(c.txCtx(), cmd.Arg)
	case "BDAT":
		c.BDAT(c.txCtx(), cmd.Arg)
	case "RSET":
		c.RSET()
	case "NOOP":
		c.NOOP()
	case "VRFY":
		c.VRFY()
	case "QUIT":
		c.QUIT()
	case "STARTTLS", "X-ANONYMOUSTLS":
		c.STARTTLS(cmd)
	case "AUTH", "X-EXPS":
		// What the AUTH exchange answers waits AuthTarpitInterval in the mechanism (BasicAuth),
		// never TarpitInterval as well (tarpit).
		c.noTarpit = true
		c.AUTH(ctx, cmd)
		c.noTarpit = false
	case "HELP":
		c.HELP()
	default:
		r, handled := c.sess.Extension(ctx, cmd.Verb, cmd.Arg)
		if !handled {
			c.unrecognized(cmd.Word)
			return
		}
		c.reply(r)
	}
}
