//go:build linux

package smtpreceive

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/exlab/exlab/config"
)

// permissionHint ends Event 1020's text for a bind refused with EACCES or EPERM.
const permissionHint = "Ports below 1024 need root or the CAP_NET_BIND_SERVICE capability " +
	"(setcap cap_net_bind_service=+ep exlab), or run exlab with --port-offset."

// PortOwnerUnavailable says why FindPortOwner cannot name a port's owner on this system, or ""
// where it can (on Linux it reads /proc, which is always there).
func PortOwnerUnavailable() string { return "" }

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
