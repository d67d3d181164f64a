//go:build unix

package smtpreceive

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// The errors a bind fails with on Unix, for BindError.Cause.
var (
	errAddrInUse    error = syscall.EADDRINUSE
	errAddrNotAvail error = syscall.EADDRNOTAVAIL
	errAccess       error = syscall.EACCES
	errPerm         error = syscall.EPERM
)

// setSockopts prepares a listening socket before bind. Go already sets SO_REUSEADDR on Unix
// listeners (a restart binds over TIME_WAIT), which is what Exclusive needs: a second live
// listener on the same endpoint still fails with EADDRINUSE. Shared adds SO_REUSEPORT, whose
// number differs per system (0xf on Linux, 0x200 on darwin and the BSDs), hence x/sys/unix.
func setSockopts(fd uintptr, v6, shared bool) error {
	if v6 {
		// [::]:25 and 0.0.0.0:25 are two bindings, as on Windows: the IPv6 socket must not
		// take IPv4 too.
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return err
		}
	}
	if shared {
		return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}
	return nil
}
