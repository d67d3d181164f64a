package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/config"
)

func (a *app) configCmd() *cobra.Command {
	c := group("config", "the organization file: print the default, validate, apply to a running server")
	c.AddCommand(&cobra.Command{Use: "default", Short: "print the embedded default organization", Args: cobra.NoArgs,
		Run: func(*cobra.Command, []string) { _, _ = a.stdout.Write(config.DefaultYAML) }})
	c.AddCommand(&cobra.Command{Use: "validate FILE", Short: "report every problem as FILE:LINE: field: problem (exit 1), or summarise a valid file",
		Args: cobra.ExactArgs(1), RunE: runE(func(args []string) error { return a.validate(args[0], a.stdout) })})
	var dataDir string
	apply := &cobra.Command{Use: "apply FILE", Short: "validate FILE and have the running server apply it, as SIGHUP does for its --config",
		Args: cobra.ExactArgs(1), RunE: runE(func(args []string) error {
			if err := a.validate(args[0], io.Discard); err != nil {
				return err
			}
			abs, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			cl := adminapi.Dial(dataDir)
			if cl == nil {
				return fmt.Errorf("no running server answers for %s (exlab serve or exlab hub; for exlab frontend send SIGHUP)", dataDir)
			}
			if err := cl.ApplyConfig(abs); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: applied\n", args[0])
			return nil
		})}
	dataFlag(apply, &dataDir, "data directory of the running server")
	c.AddCommand(apply)
	return c
}

// validate reports every problem of file on stderr (exit 1), or says on out what it holds.
func (a *app) validate(file string, out io.Writer) error {
	org, err := config.Load(file)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(a.stderr, p.String())
			}
			return exitCode(1)
		}
		return err
	}
	fmt.Fprintf(out, "%s: valid: %d server(s), %d accepted domain(s), %d mailbox(es), %d receive connector(s), %d send connector(s)\n",
		file, len(org.Servers), len(org.AcceptedDomains), len(org.Mailboxes), len(org.ReceiveConnectors), len(org.SendConnectors))
	return nil
}
