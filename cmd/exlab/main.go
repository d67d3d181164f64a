// Command exlab is the one exlab binary: the Exchange transport services (serve, frontend,
// hub), the tools that talk to a running server through its admin listener (config apply,
// queue, message, fault, maintenance, readyz) or read a stopped one's data directory (mailbox,
// queue get, message get, tracking), the configuration tools (config, connector audit,
// certificate), the probe and the load generator (bench).
//
// It is wiring only: one file per command turns flags into calls of cmd/server (Run), the
// typed admin API client (cmd/adminapi), cmd/probe, routing.AuditRelays and bench, and prints
// their answers. The command tree is cobra's, which gives every command --help and
// `exlab completion bash|zsh|fish|powershell`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// app is what every command writes to.
type app struct{ stdout, stderr io.Writer }

// run executes the command line args and returns the exit status: 0, 1 when the command
// failed, 2 for a command line that is wrong (unknown command or flag, stray arguments).
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	var code exitCode
	var failed runError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &failed):
		var ps config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, err) // FILE:LINE: field: problem, as config validate prints them
		} else {
			fmt.Fprintf(stderr, "exlab: %v\n", failed.error)
		}
		return 1
	}
	fmt.Fprintf(stderr, "exlab: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
	return 2
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := group("exlab", "exlab emulates the SMTP transport of Microsoft Exchange 2013-2019")
	root.Version = currentVersion().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return err })
	root.AddCommand(a.serviceCmd("serve", "run the server's Front End Transport and Transport services", true, true),
		a.serviceCmd("frontend", "run the Front End Transport service alone (MSExchangeFrontEndTransport)", true, false),
		a.serviceCmd("hub", "run the Transport service alone (MSExchangeTransport)", false, true),
		a.configCmd(), a.mailboxCmd(), a.queueCmd(), a.messageCmd(), a.trackingCmd(), a.faultCmd(), a.maintenanceCmd(),
		a.probeCmd(), a.benchCmd(), a.shellCmd(), a.connectorCmd(), a.certificateCmd(), a.readyzCmd(),
		a.versionCmd())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// group is a command that only holds subcommands: without one it prints its usage and exits 2.
func group(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
			}
			c.SetOut(c.ErrOrStderr())
			_ = c.Usage()
			return exitCode(2)
		}}
}

// exitCode ends a command with that status; what to say has been said.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runError is a command that failed (exit 1), as opposed to a command line that is wrong.
type runError struct{ error }

func (e runError) Unwrap() error { return e.error }

// runE wraps a command's work: its errors are failures (exit 1).
func runE(f func(args []string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		err := f(args)
		var code exitCode
		if err == nil || errors.As(err, &code) {
			return err
		}
		return runError{err}
	}
}

// dataFlag is --data, the data directory of the server, on the commands that read it.
func dataFlag(c *cobra.Command, p *string, usage string) {
	c.Flags().StringVar(p, "data", "./exlab-data", usage)
}

// formatFlags are --format (table, list or json where a command has them) and --json, the
// same as --format json on every command that prints records.
func formatFlags(c *cobra.Command, format *string, def, usage string) {
	c.Flags().StringVar(format, "format", def, usage)
	c.Flags().Bool("json", false, "print JSON (the same as --format json)")
}

// outputFormat is the command's --format after --json.
func outputFormat(c *cobra.Command, format string) string {
	if j, _ := c.Flags().GetBool("json"); j {
		return "json"
	}
	return format
}
