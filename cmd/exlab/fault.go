package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/format"
	svc "github.com/exlab/exlab/cmd/server"
)

// exlab fault set|list|clear and exlab maintenance on|off|status: fault injection and the
// HubTransport component state of a running server, through its admin listener.

func (a *app) faultCmd() *cobra.Command {
	c := group("fault", "fault injection on the running server")
	var dataDir string
	var r adminapi.FaultRule
	set := &cobra.Command{Use: "set", Short: "add a fault-injection rule (a rule of the same --name is replaced)", Args: cobra.NoArgs,
		Long: "STEP is one of Connect, Ehlo, StartTls, Auth, Mail, Rcpt, Data, EndOfData, Proxy.", RunE: runE(func([]string) error {
			body, err := r.Body() // a rule that is not one is refused before the server is asked
			if err != nil {
				return err
			}
			cl, err := svc.Running(dataDir, "")
			if err != nil {
				return err
			}
			n, err := cl.SetFaults(body)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%d fault rule(s) set\n", n)
			return nil
		})}
	f := set.Flags()
	f.StringVar(&r.File, "file", "", "read the rules from a YAML or JSON file (the configuration's Faults entries)")
	f.StringVar(&r.Name, "name", "", "the rule's name (a rule of the same name is replaced)")
	f.StringVar(&r.Connector, "connector", "", "receive connector name or identity (default: every connector)")
	f.StringVar(&r.Step, "step", "", "Connect, Ehlo, StartTls, Auth, Mail, Rcpt, Data, EndOfData or Proxy")
	f.StringVar(&r.Reply, "reply", "", `reply to give instead, e.g. "451 4.7.0 Temporary server error. Please try again later. PRX3"`)
	f.StringVar(&r.ReplyId, "reply-id", "", "reply of the spec's table to give instead, e.g. R64")
	f.StringVar(&r.Delay, "delay", "", "wait this long (hh:mm:ss[.fff]) before going on")
	f.BoolVar(&r.Disconnect, "disconnect", false, "close the connection without a reply")
	f.StringVar(&r.BytesPerSecond, "bandwidth", "", "from this step on, move the session's bytes (read and written together) at most this fast (bytes per second; 64 KB form allowed)")
	f.StringVar(&r.Probability, "probability", "", "chance of firing, 0-1 or 0%-100% (default 1)")
	f.IntVar(&r.Count, "count", 0, "fire at most this many times (0: no limit)")
	f.StringVar(&r.Sender, "sender", "", "only for senders matching this pattern (*@example.org)")
	f.StringVar(&r.Recipient, "recipient", "", "only for recipients matching this pattern")
	f.StringVar(&r.RemoteIPRange, "client", "", "only for clients in this range (an address, CIDR or a-b range)")
	var form string
	list := &cobra.Command{Use: "list", Short: "the rules with how often each fired and may still fire", Args: cobra.NoArgs}
	list.RunE = runE(func([]string) error {
		cl, err := svc.Running(dataDir, "")
		if err != nil {
			return err
		}
		rows, err := cl.Faults()
		if err != nil {
			return err
		}
		return format.Faults(a.stdout, outputFormat(list, form), rows)
	})
	formatFlags(list, &form, "table", "table or json")
	clear := &cobra.Command{Use: "clear [NAME]", Short: "remove the rule NAME, or every rule", Args: cobra.MaximumNArgs(1),
		RunE: runE(func(args []string) error {
			cl, err := svc.Running(dataDir, "")
			if err != nil {
				return err
			}
			name := strings.Join(args, "")
			n, err := cl.ClearFaults(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%d fault rule(s) cleared\n", n)
			if name != "" && n == 0 {
				return fmt.Errorf("no fault rule is named %q", name)
			}
			return nil
		})}
	for _, s := range []*cobra.Command{set, list, clear} {
		dataFlag(s, &dataDir, "data directory of the running server")
		c.AddCommand(s)
	}
	return c
}

// maintenanceCmd: Set-ServerComponentState -Component HubTransport -State Inactive|Active.
func (a *app) maintenanceCmd() *cobra.Command {
	c := group("maintenance", "Set-ServerComponentState HubTransport Inactive|Active: MAIL gets 412 4.3.2 while on")
	var dataDir string
	for _, x := range []struct{ use, short string }{{"on", "HubTransport Inactive"}, {"off", "HubTransport Active"}, {"status", "the HubTransport state"}} {
		sub := &cobra.Command{Use: x.use, Short: x.short, Args: cobra.NoArgs, RunE: runE(func([]string) error {
			cl, err := svc.Running(dataDir, "")
			if err != nil {
				return err
			}
			var st adminapi.ComponentState
			if x.use == "status" {
				st, err = cl.Maintenance()
			} else {
				st, err = cl.SetMaintenance(x.use == "on")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s %s\n", st.Component, st.State)
			return nil
		})}
		dataFlag(sub, &dataDir, "data directory of the running server")
		c.AddCommand(sub)
	}
	return c
}
