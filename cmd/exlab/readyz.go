package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
)

// readyzCmd is the container health check: the admin listener's /readyz (found through the
// data directory, or given with --admin); exit 0 when every enabled connector listens.
func (a *app) readyzCmd() *cobra.Command {
	var dataDir, addr string
	c := &cobra.Command{Use: "readyz", Short: "health check: exit 0 when every enabled connector listens, 1 otherwise", Args: cobra.NoArgs,
		RunE: runE(func([]string) error {
			text, ok, err := adminapi.Ready(dataDir, addr)
			if err != nil {
				return err
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
