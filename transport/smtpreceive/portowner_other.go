//go:build unix && !linux

package smtpreceive

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/exlab/exlab/config"
)

// permissionHint ends Event 1020's text for a bind refused with EACCES or EPERM.
const permissionHint = "Ports below 1024 may need root here, or run exlab with --port-offset."

// PortOwnerUnavailable says why FindPortOwner cannot name a port's owner on this system, or ""
// where it can. There is no /proc here; exlab asks lsof when it is installed (darwin ships it).
func PortOwnerUnavailable() string {
	if _, err := exec.LookPath("lsof"); err != nil {
		return "port owner lookup is not available on " + runtime.GOOS + ": lsof was not found"
	}
	return ""
}

// FindPortOwner asks lsof for the process listening on b's port (lsof matches the port on
// every address, like the Linux lookup). It returns nil where lsof is missing or does not tell.
func FindPortOwner(b config.Binding) *PortOwner {
	if PortOwnerUnavailable() != "" {
		return nil
	}
	out, err := exec.Command("lsof", "-nP", "-iTCP:"+strconv.Itoa(b.Port), "-sTCP:LISTEN", "-Fpc").Output()
	if err != nil && len(out) == 0 {
		return nil
	}
	return parseLsof(out, os.Getpid())
}

// parseLsof reads lsof -F's p (PID) and c (command) lines and returns the first process that is
// not self.
func parseLsof(out []byte, self int) *PortOwner {
	var o *PortOwner
	sc := bufio.NewScanner(bytes.NewReader(out))
scan:
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		switch line[0] {
		case 'p':
			if o != nil {
				break scan
			}
			if pid, err := strconv.Atoi(line[1:]); err == nil && pid != self {
				o = &PortOwner{PID: pid}
			}
		case 'c':
			if o != nil {
				o.Program = line[1:]
			}
		}
	}
	if o != nil {
		if cmd, err := exec.Command("ps", "-o", "command=", "-p", strconv.Itoa(o.PID)).Output(); err == nil {
			o.Cmdline = strings.TrimSpace(string(cmd))
		}
	}
	return o
}
