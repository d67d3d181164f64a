package smtpreceive

import (
	"errors"
	"fmt"
	"os"

	"github.com/exlab/exlab/config"
)

// BindCause tells apart why a binding failed (issue 4: the causes an admin must see).
type BindCause string

const (
	CauseInUse      BindCause = "AddressInUse"
	CauseNotLocal   BindCause = "AddressNotOnThisHost"
	CausePermission BindCause = "PermissionDenied"
	CauseOther      BindCause = "Other"
)

// Cause classifies the error.
func (e *BindError) Cause() BindCause {
	switch {
	case errors.Is(e.Err, errAddrInUse):
		return CauseInUse
	case errors.Is(e.Err, errAddrNotAvail):
		return CauseNotLocal
	case errors.Is(e.Err, errAccess), errors.Is(e.Err, errPerm):
		return CausePermission
	}
	return CauseOther
}

// EventText is Event 1020's text for connector rc (spec §10: MEDHA's wording for the address in
// use; the other causes are exlab's wording in the same shape, since Microsoft's 2013+ texts
// are not public).
func (e *BindError) EventText(rc *config.ReceiveConnector) string {
	head := fmt.Sprintf("The receive connector %q could not bind to %s", rc.Name, e.Binding)
	switch e.Cause() {
	case CauseInUse:
		return head + " because the address is already in use. Verify no other application is using this IP address and port."
	case CauseNotLocal:
		return head + " because the address is not valid on this server. Verify that the IP address is assigned to a network adapter of this server."
	case CausePermission:
		return head + " because access to the port was denied. " + permissionHint
	}
	return head + fmt.Sprintf(" because of an error: %v.", unwrapSyscall(e.Err))
}

func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// PortOwner is the process that holds a listening TCP port, as netstat -ano or ss -ltnp show it.
type PortOwner struct {
	PID     int
	Program string
	Cmdline string
}
