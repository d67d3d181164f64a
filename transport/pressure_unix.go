//go:build unix

package transport

import "syscall"

// diskUsed is the used space of the volume holding dir, in percent as df shows it.
func diskUsed(dir string) func() (int64, error) {
	return func() (int64, error) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			return 0, err
		}
		used := float64(st.Blocks - st.Bfree)
		avail := float64(st.Bavail)
		if used+avail == 0 {
			return 0, nil
		}
		return int64(used*100/(used+avail) + 0.5), nil
	}
}
