// io.go holds the I/O adapters under a session: the writer that a Bandwidth fault slows, the
// reader that applies the timeouts and shutdown, and the reply and flush primitives.

package smtpreceive

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
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

// bodyReadSize is the read buffer of a DATA body. A session's own reader has 4 KiB, which
// keeps idle sessions cheap but read a 100 KiB body in some 25 system calls; a body is read
// through a pooled 64 KiB reader instead (in 2 or 3), for its length only.
const bodyReadSize = 64 << 10

var bodyReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bodyReadSize) }}

// maxBodyReaders bounds the body readers out at once (64 MiB): sessions that sit in DATA by
// the thousand (a slow-body test) read with their own 4 KiB reader beyond it.
const maxBodyReaders = 1024

var bodyReadersOut atomic.Int64

// bodyReader is the reader for a DATA body: a pooled 64 KiB one in place of the session's
// own, unless input already waits in the session's (a body sent before the 354 is read on
// from there). endBody gives the session its reader back.
func (c *conn) bodyReader() *bufio.Reader {
	if c.cmdBR != nil || c.br.Buffered() > 0 || len(c.pre.pending) > 0 {
		return c.br
	}
	if bodyReadersOut.Add(1) > maxBodyReaders {
		bodyReadersOut.Add(-1)
		return c.br
	}
	big := bodyReaders.Get().(*bufio.Reader)
	big.Reset(deadlineReader{c})
	c.cmdBR, c.br = c.br, big
	return big
}

// endBody puts the session's own reader back after a body read through bodyReader's. What the
// body's reader holds past the body (commands pipelined behind it) is copied into c.pre,
// which the session's reader then reads before the connection, so nothing is lost or
// reordered, and command lines keep their 4 KiB limit.
func (c *conn) endBody() {
	if c.cmdBR == nil {
		return
	}
	big := c.br
	c.br, c.cmdBR = c.cmdBR, nil
	if n := big.Buffered(); n > 0 {
		rest, _ := big.Peek(n)
		c.pre.pending = append(c.pre.pending[:0], rest...)
		c.pre.r = deadlineReader{c}
		c.br.Reset(&c.pre) // empty: nothing was read from it since bodyReader
	}
	big.Reset(nil)
	bodyReaders.Put(big)
	bodyReadersOut.Add(-1)
}

// prefixReader hands out pending before it reads from r.
type prefixReader struct {
	pending []byte
	r       io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.r.Read(b)
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
