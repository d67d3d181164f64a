//go:build windows

package smtpreceive

import (
	"golang.org/x/sys/windows"
)

// The errors a bind fails with on Windows (Winsock's own numbers; syscall.EADDRINUSE there is
// an invented errno that no Winsock call returns). WSAEACCES is also what a bind gets when
// another socket holds the endpoint with SO_EXCLUSIVEADDRUSE and this one asks to share it.
var (
	errAddrInUse    error = windows.WSAEADDRINUSE
	errAddrNotAvail error = windows.WSAEADDRNOTAVAIL
	errAccess       error = windows.WSAEACCES
	errPerm         error = windows.ERROR_ACCESS_DENIED
)

// permissionHint ends Event 1020's text for a bind refused with access denied.
const permissionHint = "Another application may hold the port for its exclusive use (SO_EXCLUSIVEADDRUSE), " +
	"or a port below 1024 is reserved for a service; run exlab with --port-offset."

// soExclusiveAddrUse is winsock2.h's SO_EXCLUSIVEADDRUSE, ((int)(~SO_REUSEADDR)); x/sys/windows
// does not define it.
const soExclusiveAddrUse = ^windows.SO_REUSEADDR

// setSockopts prepares a listening socket before bind. Windows' default lets another socket
// that sets SO_REUSEADDR take over an endpoint we listen on, silently splitting the mail
// (KB Q146157: the IMC "may start without error, but no incoming mail will be accepted"). So
// Exclusive binds with SO_EXCLUSIVEADDRUSE, as Exchange's own listeners do, and a second
// listener fails to bind; Shared binds with SO_REUSEADDR, the Windows way for two listeners to
// share one endpoint (Windows has no SO_REUSEPORT).
func setSockopts(fd uintptr, v6, shared bool) error {
	h := windows.Handle(fd)
	if v6 {
		// [::]:25 and 0.0.0.0:25 are two bindings; Windows already defaults to V6ONLY, set it
		// anyway so the behaviour never depends on a registry default.
		if err := windows.SetsockoptInt(h, windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, 1); err != nil {
			return err
		}
	}
	if shared {
		return windows.SetsockoptInt(h, windows.SOL_SOCKET, windows.SO_REUSEADDR, 1)
	}
	return windows.SetsockoptInt(h, windows.SOL_SOCKET, soExclusiveAddrUse, 1)
}
