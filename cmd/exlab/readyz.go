package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// exlab readyz: the container health check. It asks the admin listener's /readyz (found
// through the data directory, or given with --admin) and exits 0 when every enabled connector
// listens, 1 otherwise.
func cmdReadyz(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("readyz", stderr, "readyz [--data DIR | --admin ADDR]")
	dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
	adminFlag := fs.String("admin", "", "admin listener address (default: the one the server wrote into its data directory)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	addr := *adminFlag
	if addr == "" {
		b, err := os.ReadFile(filepath.Join(*dataDir, adminAddr))
		if err != nil {
			return errorf(stderr, "no running server found for %s: %v", *dataDir, err)
		}
		addr = strings.TrimSpace(string(b))
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/readyz")
	if err != nil {
		return errorf(stderr, "not ready: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprint(stderr, string(b))
		return 1
	}
	fmt.Fprint(stdout, string(b))
	return 0
}
