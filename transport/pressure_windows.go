//go:build windows

package transport

import "golang.org/x/sys/windows"

// diskUsed is the used space of the volume holding dir, in percent as Explorer shows it (used
// against what this account may still write, like df's Avail on Unix).
func diskUsed(dir string) func() (int64, error) {
	return func() (int64, error) {
		p, err := windows.UTF16PtrFromString(dir)
		if err != nil {
			return 0, err
		}
		var avail, total, free uint64
		if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
			return 0, err
		}
		used := float64(total - free)
		if used+float64(avail) == 0 {
			return 0, nil
		}
		return int64(used*100/(used+float64(avail)) + 0.5), nil
	}
}
