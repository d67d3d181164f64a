package smtpreceive

import "testing"

// TestPermissionHintLinux: Event 1020's advice for EACCES on Linux is the text exlab always gave.
func TestPermissionHintLinux(t *testing.T) {
	const want = "Ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (setcap cap_net_bind_service=+ep exlab), or run exlab with --port-offset."
	if permissionHint != want || PortOwnerUnavailable() != "" {
		t.Errorf("hint %q, unavailable %q", permissionHint, PortOwnerUnavailable())
	}
}
