// pipe.go holds Pipe, the in-memory connection for the frontend → hub hop in one process.

package smtpreceive

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// pipeLimit is how many unread bytes one direction of a Pipe holds before a writer waits, about
// what a loopback socket buffers.
const pipeLimit = 256 << 10

// Pipe returns the two ends of an in-memory, full-duplex connection that behaves like a
// loopback TCP socket: writes are buffered up to pipeLimit (net.Pipe's are not, and pipelined
// SMTP would deadlock on it), deadlines work, and the addresses are the given ones. exlab uses
// it for the frontend → hub hop when both services run in one process: the hop is still SMTP,
// without the system calls of a socket. A Server serving a Pipe's end (ServeConn) trusts its
// peer to be exlab's own SmtpSend, whose content this engine normalized on the way in: it
// does not scan BDAT chunks from it for bare CR or LF (cmd/exlab's TestStoredContentIsCRLF
// holds the chain to CRLF).
func Pipe(client, server netip.AddrPort) (net.Conn, net.Conn) {
	a, b := newPipeBuffer(), newPipeBuffer()
	c := &pipeConn{in: a, out: b, local: net.TCPAddrFromAddrPort(client), remote: net.TCPAddrFromAddrPort(server),
		done: make(chan struct{})}
	s := &pipeConn{in: b, out: a, local: net.TCPAddrFromAddrPort(server), remote: net.TCPAddrFromAddrPort(client),
		done: make(chan struct{})}
	c.rd.init()
	c.wd.init()
	s.rd.init()
	s.wd.init()
	return c, s
}

// pipeBuffer is one direction of a Pipe.
type pipeBuffer struct {
	mu       sync.Mutex
	data     []byte
	off      int
	eof      bool // the writer closed: reads end after the data
	noReader bool // the reader closed: writes fail
	readable chan struct{}
	writable chan struct{}
}

func newPipeBuffer() *pipeBuffer {
	return &pipeBuffer{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

type pipeConn struct {
	in, out       *pipeBuffer
	local, remote net.Addr
	rd, wd        pipeDeadline
	once          sync.Once
	done          chan struct{}
}

func (c *pipeConn) Read(p []byte) (int, error) {
	for {
		select {
		case <-c.done:
			return 0, net.ErrClosed
		default:
		}
		b := c.in
		b.mu.Lock()
		if b.off < len(b.data) {
			n := copy(p, b.data[b.off:])
			b.off += n
			if b.off == len(b.data) {
				b.data, b.off = b.data[:0], 0
			}
			b.mu.Unlock()
			signal(b.writable)
			return n, nil
		}
		if b.eof {
			b.mu.Unlock()
			return 0, io.EOF
		}
		b.mu.Unlock()
		select {
		case <-b.readable:
		case <-c.done:
			return 0, net.ErrClosed
		case <-c.rd.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

func (c *pipeConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		select {
		case <-c.done:
			return written, net.ErrClosed
		case <-c.wd.wait():
			return written, os.ErrDeadlineExceeded
		default:
		}
		b := c.out
		b.mu.Lock()
		if b.noReader {
			b.mu.Unlock()
			return written, io.ErrClosedPipe
		}
		if b.off > 0 && b.off == len(b.data) {
			b.data, b.off = b.data[:0], 0
		}
		space := pipeLimit - (len(b.data) - b.off)
		if space > 0 {
			if b.off > 0 && len(b.data)+min(space, len(p)) > cap(b.data) {
				n := copy(b.data, b.data[b.off:]) // compact before growing
				b.data, b.off = b.data[:n], 0
			}
			n := min(space, len(p))
			b.data = append(b.data, p[:n]...)
			b.mu.Unlock()
			signal(b.readable)
			p, written = p[n:], written+n
			continue
		}
		b.mu.Unlock()
		select {
		case <-b.writable:
		case <-c.done:
			return written, net.ErrClosed
		case <-c.wd.wait():
			return written, os.ErrDeadlineExceeded
		}
	}
	return written, nil
}

func (c *pipeConn) Close() error {
	c.once.Do(func() {
		close(c.done)
		c.out.mu.Lock()
		c.out.eof = true
		c.out.mu.Unlock()
		signal(c.out.readable)
		c.in.mu.Lock()
		c.in.noReader = true
		c.in.data, c.in.off = nil, 0
		c.in.mu.Unlock()
		signal(c.in.writable)
	})
	return nil
}

// CloseWrite shuts down the writing side, as TCP's half-close does: the peer reads what was
// written, then io.EOF, and can still write back.
func (c *pipeConn) CloseWrite() error {
	c.out.mu.Lock()
	c.out.eof = true
	c.out.mu.Unlock()
	signal(c.out.readable)
	return nil
}

// PeerClosed says, without waiting, whether the other end has closed the pipe or written
// something not yet read (to a pooled session: a 421 nobody asked for): what a peek with
// MSG_DONTWAIT tells of a socket. A pool checks it before every reuse, where a read with a
// deadline already past cost two deadline moves and an error per message.
func (c *pipeConn) PeerClosed() bool {
	select {
	case <-c.done:
		return true
	default:
	}
	b := c.in
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof || b.off < len(b.data)
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }

func (c *pipeConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}
func (c *pipeConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// pipeDeadline is a deadline that waiters can select on (the shape of net.Pipe's). Moving it
// later is a store: its one timer stays armed for the earlier time and, when it fires, re-arms
// for the deadline as it then is. A session that moves its deadline for every command (the
// hub's hops) would otherwise stop and reset a timer each time.
type pipeDeadline struct {
	mu     sync.Mutex
	when   time.Time     // the deadline; zero: none
	fireAt time.Time     // when the armed timer fires; zero: not known to be armed
	timer  *time.Timer   // runs fire
	cancel chan struct{} // closed when the deadline passes
	closed bool          // cancel is closed
}

func (d *pipeDeadline) init() { d.cancel = make(chan struct{}) }

func (d *pipeDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if d.closed {
		if !t.IsZero() && !t.After(now) {
			return // still passed
		}
		d.cancel, d.closed = make(chan struct{}), false
	}
	d.when = t
	switch {
	case t.IsZero():
		return // an armed timer finds no deadline and does nothing
	case !t.After(now):
		close(d.cancel)
		d.closed = true
		return
	case !d.fireAt.IsZero() && !d.fireAt.After(t):
		return // the timer fires first and re-arms for t
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(t.Sub(now), d.fire)
	} else {
		d.timer.Reset(t.Sub(now))
	}
	d.fireAt = t
}

func (d *pipeDeadline) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fireAt = time.Time{}
	if d.when.IsZero() || d.closed {
		return
	}
	if now := time.Now(); d.when.After(now) {
		d.timer.Reset(d.when.Sub(now))
		d.fireAt = d.when
		return
	}
	close(d.cancel)
	d.closed = true
}

func (d *pipeDeadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}
