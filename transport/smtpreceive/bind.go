package smtpreceive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

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
	case errors.Is(e.Err, syscall.EADDRINUSE):
		return CauseInUse
	case errors.Is(e.Err, syscall.EADDRNOTAVAIL):
		return CauseNotLocal
	case errors.Is(e.Err, syscall.EACCES), errors.Is(e.Err, syscall.EPERM):
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
		return head + " because access to the port was denied. Ports below 1024 need root or the CAP_NET_BIND_SERVICE capability " +
			"(setcap cap_net_bind_service=+ep exlab), or run exlab with --port-offset."
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

// FindPortOwner looks through /proc for the process listening on b's port (and address, or a
// wildcard of its family). It returns nil where the system does not let us see it.
func FindPortOwner(b config.Binding) *PortOwner {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, port, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			p, err := strconv.ParseUint(port, 16, 16)
			if err != nil || int(p) != b.Port {
				continue
			}
			inodes[fields[9]] = true
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	self := os.Getpid()
	for _, fdDir := range procs {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(fdDir)))
		if pid == self {
			continue
		}
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
				o := &PortOwner{PID: pid}
				if comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm")); err == nil {
					o.Program = strings.TrimSpace(string(comm))
				}
				if cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline")); err == nil {
					o.Cmdline = strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
				}
				return o
			}
		}
	}
	return nil
}
