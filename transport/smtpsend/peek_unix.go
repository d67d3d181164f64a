//go:build unix

package smtpsend

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed says, without waiting, whether a pooled session's hub has ended it (EOF) or said
// something unasked (a 421 before closing): a peek at the socket with MSG_DONTWAIT. A read
// with a deadline already past never reaches the socket in Go (the poller answers "timeout"
// first), so that cannot tell. known is false for a connection without a socket (an
// in-process pipe). With assumeOpen a socket is taken as open without looking.
func peerClosed(c net.Conn, assumeOpen bool) (closed, known bool) {
	if lc, ok := c.(*logConn); ok {
		c = lc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, false
	}
	if assumeOpen {
		return false, true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var rerr error
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	}); err != nil {
		return true, true
	}
	if errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK) || errors.Is(rerr, syscall.EINTR) {
		return false, true
	}
	return true, true // EOF (n == 0), data nobody asked for, or an error
}
