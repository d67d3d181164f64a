// loop.go holds the command loop: serve, readLine, the state table (check) and the dispatch
// (handle), with the protocol-error accounting.

package smtpreceive

import (
	"bufio"
	"errors"
	"io"
	"runtime/debug"
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

// readFailed answers a failed command read: the timeout replies R60/R61, the shutdown reply R05,
// a too-long line R58; a client that went away gets nothing.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errIdleTimeout):
		c.reply(smtpwire.Fixed("R60"))
	case errors.Is(err, errSessionTimout):
		c.reply(smtpwire.Fixed("R61"))
	case errors.Is(err, errShutdown):
		c.reply(smtpwire.Fixed("R05"))
	default:
		return
	}
	c.flush()
}

// readLine reads one command line without its line ending. Replies waiting in the writer are
// flushed first unless more pipelined input is already buffered (RFC 2920 §3.2).
func (c *conn) readLine() (string, error) {
	for {
		if c.br.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return "", err
			}
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
				return "", io.EOF
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
		c.AUTH(ctx, cmd)
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
