//go:build !unix

package smtpsend

import "net"

// peerClosed is known for an in-process pipe only (smtpreceive.Pipe answers for itself);
// for a socket the pool falls back to a read with a short deadline.
func peerClosed(c net.Conn, _ bool) (closed, known bool) {
	if lc, ok := c.(*logConn); ok {
		c = lc.Conn
	}
	if pc, ok := c.(pipePeer); ok {
		return pc.PeerClosed(), true
	}
	return false, false
}
