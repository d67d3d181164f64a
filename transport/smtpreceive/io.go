// io.go holds the I/O adapters under a session: the writer that a Bandwidth fault slows, the
// reader that applies the timeouts and shutdown, and the reply and flush primitives.

package smtpreceive

import (
	"errors"
	"net"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
)

// connWriter writes to the connection (the TLS one after STARTTLS), at most as fast as a
// Bandwidth fault allows.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	if c.limiter == nil {
		return c.nc.Write(p)
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), c.limiter.Burst())
		_ = c.limiter.WaitN(c.ctx, k)
		m, err := c.nc.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// deadlineReader applies ConnectionInactivityTimeout and ConnectionTimeout to every read, and
// turns a shutdown into errShutdown for sessions waiting for a command.
type deadlineReader struct{ c *conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	c := d.c
	for {
		if c.srv.shutting.Load() && !c.inBody.Load() {
			return 0, errShutdown
		}
		// The deadline is ConnectionInactivityTimeout from now (capped by ConnectionTimeout),
		// moved at most once a second; or, earlier, the time the protocol log's pending lines
		// must go to the writer: lines must not wait for the next command of an idle session
		// (a pooled proxy or Mailbox Delivery session may sit for minutes), so the read stops
		// plogWait after the oldest, hands them over and goes on. One SetReadDeadline for both.
		now := time.Now()
		refresh := now.Sub(c.lastDeadline) > min(time.Second, c.idle/10)
		dl := c.readDL
		if refresh {
			if dl = now.Add(c.idle); c.deadline.Before(dl) {
				dl = c.deadline
			}
			c.lastDeadline, c.plogDL = now, false
		}
		forLog := false
		if len(c.plog) > 0 && !c.plogDL {
			if at := c.plog[0].Time.Add(plogWait); at.Before(dl) {
				dl, forLog = at, true
			}
		}
		if refresh || forLog {
			_ = c.nc.SetReadDeadline(dl)
			c.readDL, c.plogDL = dl, forLog
		}
		if c.limiter != nil && len(p) > c.limiter.Burst() {
			p = p[:c.limiter.Burst()]
		}
		n, err := c.nc.Read(p)
		if c.limiter != nil && n > 0 {
			_ = c.limiter.WaitN(c.ctx, n)
		}
		if err == nil {
			return n, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		switch {
		case c.srv.shutting.Load() && !c.inBody.Load():
			return n, errShutdown
		case c.plogDL && n == 0 && time.Now().Before(c.deadline) && !c.srv.shutting.Load():
			// The protocol log's hand-over time, not a timeout: hand the lines over and
			// restore the session's deadline.
			if len(c.plog) > 0 {
				c.srv.ProtocolLog.Write(c.plog)
				c.plog = nil
			}
			c.lastDeadline, c.plogDL = time.Time{}, false
			continue
		case c.srv.shutting.Load() && c.inBody.Load() && n == 0 && time.Now().Before(c.deadline) &&
			time.Since(c.lastDeadline) < c.idle:
			// Shutdown poked this session just as it started receiving a message: that poke
			// was for idle sessions, so restore the deadline and go on reading the message.
			c.lastDeadline = time.Time{}
			continue
		case !time.Now().Before(c.deadline):
			return n, errSessionTimout
		default:
			return n, errIdleTimeout
		}
	}
}

// reply is the one way a reply reaches the client; every 5xx to an anonymous client waits
// TarpitInterval here first (tarpit).
func (c *conn) reply(r *smtpwire.Reply) {
	if len(r.Text) > 0 && r.Text[0] == '5' {
		c.tarpit(r)
	}
	_, _ = c.bw.WriteString(r.Text)
	_, _ = c.bw.WriteString("\r\n")
	if m := c.srv.Metrics; m != nil {
		m.reply(c.rc, r.Text)
	}
	if c.plogOn {
		c.logLine('>', smtpwire.LogReply(r.Text), "")
	}
}

// plogWait is the longest protocol-log lines wait in a session before they go to the writer
// (which writes its files every second, as Exchange's log buffers do).
const plogWait = 1100 * time.Millisecond

func (c *conn) flush() error {
	// Protocol-log lines go to the writer in batches: every 64 lines, or when the oldest has
	// waited a second, and at the end of the session (a hand-over per reply cost more than the
	// writing itself).
	if n := len(c.plog); n >= 64 || (n > 0 && time.Since(c.plog[0].Time) > plogWait) {
		c.srv.ProtocolLog.Write(c.plog)
		c.plog = nil
	}
	if c.bw.Buffered() == 0 {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
	return c.bw.Flush()
}
