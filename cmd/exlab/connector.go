package main

import (
	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/format"
	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/routing"
)

// connectorCmd is exlab connector audit: routing.AuditRelays as a table or JSON, exit 1 when a
// connector relays for the whole Internet.
func (a *app) connectorCmd() *cobra.Command {
	c := group("connector", "receive connector checks")
	var cfgPath string
	var asJSON bool
	audit := &cobra.Command{Use: "audit", Short: "the open-relay audit: every enabled connector on which anonymous clients may relay",
		Args: cobra.NoArgs, RunE: runE(func([]string) error {
			org, err := svc.LoadOrg(cfgPath)
			if err != nil {
				return err
			}
			findings := routing.AuditRelays(org)
			open := false
			for _, f := range findings {
				open = open || f.OpenRelay
			}
			if asJSON {
				format.WriteJSON(a.stdout, findings)
			} else {
				format.Relays(a.stdout, findings)
			}
			if open {
				return exitCode(1)
			}
			return nil
		})}
	audit.Flags().StringVar(&cfgPath, "config", "", "organization file (default: the embedded default)")
	audit.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(audit)
	return c
}
