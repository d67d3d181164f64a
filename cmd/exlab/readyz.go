package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
	svc "github.com/exlab/exlab/cmd/server"
)

// readyzCmd is the container health check: the admin listener's /readyz (found through the
// data directory, or given with --admin); exit 0 when every enabled connector listens.
func (a *app) readyzCmd() *cobra.Command {
	var dataDir, addr string
	c := &cobra.Command{Use: "readyz", Short: "health check: exit 0 when every enabled connector listens, 1 otherwise", Args: cobra.NoArgs,
		RunE: runE(func([]string) error {
			if addr == "" {
				b, err := os.ReadFile(filepath.Join(dataDir, adminapi.AddrFile))
				if err != nil {
					return fmt.Errorf("no running server found for %s: %v", dataDir, err)
				}
				addr = strings.TrimSpace(string(b))
			} else if _, err := svc.ShiftPort(addr, 0); err != nil {
				return fmt.Errorf("--admin: %v", err)
			}
			text, ok, err := adminapi.Readyz(addr)
			if err != nil {
				return fmt.Errorf("not ready: %v", err)
			}
			if !ok {
				fmt.Fprint(a.stderr, text)
				return exitCode(1)
			}
			fmt.Fprint(a.stdout, text)
			return nil
		})}
	dataFlag(c, &dataDir, "data directory of the running server")
	c.Flags().StringVar(&addr, "admin", "", "admin listener address (default: the one the server wrote into its data directory)")
	return c
}
