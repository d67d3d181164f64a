package smtpreceive

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/exlab/exlab/config"
)

func TestBindErrorCauses(t *testing.T) {
	rc := &config.ReceiveConnector{Name: "Default Frontend EX01", TransportRole: config.FrontendTransport}
	b := config.Binding{Addr: netip.MustParseAddr("0.0.0.0"), Port: 25}
	wrap := func(errno error) error {
		return &net.OpError{Op: "listen", Net: "tcp4", Err: os.NewSyscallError("bind", errno)}
	}
	tests := []struct {
		err   error
		cause BindCause
		text  string
	}{
		// The platform's own errnos (sockopt_*.go): Winsock's on Windows.
		{wrap(errAddrInUse), CauseInUse, `The receive connector "Default Frontend EX01" could not bind to 0.0.0.0:25 because the address is already in use. Verify no other application is using this IP address and port.`},
		{wrap(errAddrNotAvail), CauseNotLocal, "because the address is not valid on this server"},
		{wrap(errAccess), CausePermission, "because access to the port was denied. " + permissionHint},
		{wrap(syscall.EINVAL), CauseOther, "because of an error: invalid argument."},
	}
	for _, tt := range tests {
		e := &BindError{Connectors: []*config.ReceiveConnector{rc}, Binding: b, Err: tt.err}
		if e.Cause() != tt.cause || !strings.Contains(e.EventText(rc), tt.text) {
			t.Errorf("%v: cause %s, text %q", tt.err, e.Cause(), e.EventText(rc))
		}
	}
}

// TestBindAddressNotOnHost: a binding on an address this host lacks fails with its own cause
// and the other bindings still listen.
func TestBindAddressNotOnHost(t *testing.T) {
	rc := *connector(t, "Default Frontend EX01")
	rc.Bindings = []config.Binding{{Addr: netip.MustParseAddr("192.0.2.55"), Port: 0}, {Addr: netip.MustParseAddr("127.0.0.1"), Port: 0}}
	s := &Server{Role: rc.TransportRole, NewSession: func(ci *ConnInfo) Session { return nil }}
	ls, errs := s.Listen([]*config.ReceiveConnector{&rc}, 0, false)
	if len(ls) != 1 || len(errs) != 1 || errs[0].Cause() != CauseNotLocal {
		t.Fatalf("listening %v, errors %v", ls, errs)
	}
	for _, l := range s.listeners {
		l.l.Close()
	}
}

func TestFindPortOwner(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	// FindPortOwner skips its own process (a connector never conflicts with itself), so it
	// must find nothing here; a child process holding a port is found in the e2e tests.
	if o := FindPortOwner(config.Binding{Addr: netip.MustParseAddr("127.0.0.1"), Port: port}); o != nil {
		t.Errorf("found %+v, want nothing (own process)", o)
	}
}
