//go:build !unix

package smtpsend

import "net"

// peerClosed is unknown here: the pool falls back to a read with a short deadline.
func peerClosed(net.Conn, bool) (closed, known bool) { return false, false }
