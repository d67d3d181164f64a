package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/format"
	"github.com/exlab/exlab/cmd/probe"
	svc "github.com/exlab/exlab/cmd/server"
)

// probeCmd checks what answers on each binding of the configuration (or on the given ports);
// the judgements are cmd/probe's.
func (a *app) probeCmd() *cobra.Command {
	var cfgPath, serverName, host string
	var ports []int
	var offset, n int
	var timeout time.Duration
	var asJSON bool
	c := &cobra.Command{Use: "probe", Short: "check every binding: listening, owner, banner and EHLO against the connector (exit 1 when anything is wrong)",
		Args: cobra.NoArgs, RunE: runE(func([]string) error {
			org, srv, err := svc.LoadServer(cfgPath, serverName)
			if err != nil {
				return err
			}
			if len(ports) == 0 {
				if err := svc.CheckPortOffset(org, srv, offset); err != nil {
					return err
				}
			}
			targets, err := probe.Targets(org, srv, host, ports, offset)
			if err != nil {
				return err
			}
			var results []probe.Result
			bad := false
			for _, t := range targets {
				r := probe.Check(context.Background(), org, srv, t, n, timeout)
				bad = bad || len(r.Problems) > 0
				results = append(results, r)
			}
			if asJSON {
				format.WriteJSON(a.stdout, results)
			} else {
				format.Probe(a.stdout, results)
			}
			if bad {
				return exitCode(1)
			}
			return nil
		})}
	f := c.Flags()
	f.StringVar(&cfgPath, "config", "", "organization file whose bindings to check (default: the embedded default)")
	f.StringVar(&serverName, "server", "", "which server of the organization (default: the first)")
	f.StringVar(&host, "host", "", "probe this host instead of each binding's address (wildcards become 127.0.0.1)")
	f.IntSliceVar(&ports, "port", nil, "probe this port instead of the configuration's bindings (repeatable, or comma-separated)")
	f.IntVar(&offset, "port-offset", 0, "the --port-offset the server runs with")
	f.IntVar(&n, "connections", 10, "sessions per binding")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "per-session timeout")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
