//go:build windows

package smtpreceive

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/exlab/exlab/config"
)

// iphlpapi's GetExtendedTcpTable is what netstat -ano reads; x/sys/windows has no wrapper.
var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

const (
	tcpTableOwnerPIDListener = 3 // TCP_TABLE_OWNER_PID_LISTENER: listening sockets with their PID
	// Row sizes: MIB_TCPROW_OWNER_PID is six DWORDs; MIB_TCP6ROW_OWNER_PID is a 16-byte
	// address, scope, port, 16-byte remote address, scope, port, state, PID.
	tcp4RowSize = 24
	tcp6RowSize = 56
)

// PortOwnerUnavailable says why FindPortOwner cannot name a port's owner on this system, or ""
// where it can (on Windows it asks iphlpapi.dll, which every Windows has).
func PortOwnerUnavailable() string {
	if err := procGetExtendedTcpTable.Find(); err != nil {
		return "port owner lookup is not available: " + err.Error()
	}
	return ""
}

// FindPortOwner asks GetExtendedTcpTable for the process listening on b's port (and address,
// or a wildcard of its family), as netstat -ano shows it. Program is the executable's name
// (exlab.exe), Cmdline its full path where the process may be opened (another process's command
// line is not readable without reading its memory). It returns nil where Windows does not tell.
func FindPortOwner(b config.Binding) *PortOwner {
	self := uint32(os.Getpid())
	for _, fam := range []uint32{windows.AF_INET, windows.AF_INET6} {
		table := tcpTable(fam)
		if len(table) < 4 {
			continue
		}
		n := int(binary.LittleEndian.Uint32(table))
		rows, size := table[4:], tcp4RowSize
		if fam == windows.AF_INET6 {
			size = tcp6RowSize
		}
		for i := 0; i < n && (i+1)*size <= len(rows); i++ {
			addr, port, pid := tcpRow(fam, rows[i*size:(i+1)*size])
			if port != b.Port || pid == self || !sameEndpoint(addr, b.Addr) {
				continue
			}
			return processOwner(pid)
		}
	}
	return nil
}

// sameEndpoint says whether a listener on local would take b's connections.
func sameEndpoint(local, b netip.Addr) bool {
	if !b.IsValid() || local.Is4() != b.Is4() {
		return !b.IsValid()
	}
	return local == b || local.IsUnspecified() || b.IsUnspecified()
}

// tcpTable is GetExtendedTcpTable's listener table of one family, or nil.
func tcpTable(family uint32) []byte {
	size := uint32(16 << 10)
	for range 4 {
		buf := make([]byte, size)
		r, _, _ := procGetExtendedTcpTable.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)),
			0, uintptr(family), tcpTableOwnerPIDListener, 0)
		switch windows.Errno(r) {
		case 0:
			return buf[:min(int(size), len(buf))]
		case windows.ERROR_INSUFFICIENT_BUFFER:
			size += 4 << 10 // the table may grow between the two calls
			continue
		}
		return nil
	}
	return nil
}

// tcpRow decodes one MIB_TCPROW_OWNER_PID or MIB_TCP6ROW_OWNER_PID. Addresses and ports are
// in network byte order; the port sits in the low 16 bits of its DWORD.
func tcpRow(family uint32, row []byte) (netip.Addr, int, uint32) {
	le := binary.LittleEndian
	if family == windows.AF_INET {
		addr := netip.AddrFrom4([4]byte(row[4:8]))
		return addr, int(binary.BigEndian.Uint16(row[8:10])), le.Uint32(row[20:24])
	}
	addr := netip.AddrFrom16([16]byte(row[0:16]))
	return addr, int(binary.BigEndian.Uint16(row[20:22])), le.Uint32(row[52:56])
}

// processOwner names pid from the process snapshot (which names even processes we may not
// open, such as System) and, where allowed, its image path.
func processOwner(pid uint32) *PortOwner {
	o := &PortOwner{PID: int(pid)}
	if snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0); err == nil {
		var e windows.ProcessEntry32
		e.Size = uint32(unsafe.Sizeof(e))
		for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
			if e.ProcessID == pid {
				o.Program = windows.UTF16ToString(e.ExeFile[:])
				break
			}
		}
		windows.CloseHandle(snap)
	}
	if h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid); err == nil {
		buf := make([]uint16, windows.MAX_LONG_PATH)
		n := uint32(len(buf))
		if windows.QueryFullProcessImageName(h, 0, &buf[0], &n) == nil {
			o.Cmdline = windows.UTF16ToString(buf[:n])
			if o.Program == "" {
				o.Program = filepath.Base(o.Cmdline)
			}
		}
		windows.CloseHandle(h)
	}
	return o
}
