package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/emshell"
	svc "github.com/exlab/exlab/cmd/server"
)

// exlab shell: the Exchange Management Shell against the running server of --data.
func (a *app) shellCmd() *cobra.Command {
	var dataDir, command, file, history, cfgPath, serverName string
	c := &cobra.Command{Use: "shell", Short: "the Exchange Management Shell: transport cmdlets against the running server", Args: cobra.NoArgs,
		Long: "Without -c or -f: an interactive prompt ([PS] C:\\Windows\\system32>) with history and tab completion. " +
			"-c runs a command line, -f a script file; a terminating error exits 1."}
	c.RunE = runE(func([]string) error {
		var sh *emshell.Shell
		if cl := adminapi.Dial(dataDir); cl != nil {
			sh = emshell.New(cl)
		} else {
			// A stopped server: the organization file and the data directory, as Exchange's
			// cmdlets still change Active Directory while a server is down.
			off := &svc.Offline{DataDir: dataDir, ConfigPath: cfgPath, ServerName: serverName}
			fmt.Fprintf(a.stderr, "WARNING: no server runs on %s: changes go to %s and take effect when it starts; queue actions need the running server.\n",
				dataDir, off.File())
			sh = emshell.New(off)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		src := command
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			src = string(b)
		}
		if command == "" && file == "" {
			if history == "" {
				history = filepath.Join(dataDir, "shell.history")
			}
			return sh.Interactive(ctx, os.Stdin, a.stdout, history)
		}
		if err := sh.Run(ctx, src, a.stdout, a.stderr); err != nil {
			return exitCode(1) // the engine printed the error as PowerShell does
		}
		return nil
	})
	f := c.Flags()
	dataFlag(c, &dataDir, "data directory of the running server")
	f.StringVarP(&command, "command", "c", "", "run this command line and exit")
	f.StringVarP(&file, "file", "f", "", "run this script file (.ps1) and exit")
	f.StringVar(&history, "history", "", "the interactive history file (default DATA/shell.history)")
	f.StringVar(&cfgPath, "config", "", "with no server running: the organization file to change (default DATA/organization.yaml, else the embedded default)")
	f.StringVar(&serverName, "server", "", "with no server running: the server of the organization (default: the first)")
	return c
}
