// Command exlab is the one exlab binary: the Exchange transport services (serve), the
// configuration tools (config), the mailbox viewer (mailbox) and the load generator (bench).
// It parses flags and wires packages together; it holds no logic of its own.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `exlab emulates the SMTP transport of Microsoft Exchange 2013-2019.

Usage:
  exlab serve [--config FILE] [--data DIR] [--port-offset N] [--server NAME] [--admin ADDR]
  exlab frontend [same flags]   the Front End Transport service alone
  exlab hub [same flags]        the Transport service alone
  exlab config default
  exlab config validate FILE
  exlab config apply FILE [--data DIR]
  exlab mailbox list [--data DIR] [ADDRESS]
  exlab mailbox show ADDRESS [--data DIR] [--id N]
  exlab queue get [--data DIR] [--format table|list|json]
  exlab queue retry IDENTITY [--resubmit] [--data DIR]
  exlab message get [--queue IDENTITY] [--data DIR] [--format table|list|json]
  exlab message suspend|resume|remove IDENTITY [--with-ndr] [--data DIR]
  exlab tracking search [--data DIR] [--sender A] [--recipient A] [--start T] [--end T] [--event-id ID] [--message-id ID]
  exlab fault set --step STEP (--reply TEXT | --reply-id ID | --delay T | --disconnect | --bandwidth B) [--connector C] [--probability P] [--count N] [--sender P] [--recipient P] [--client R] [--name N] [--data DIR]
  exlab fault set --file RULES.yaml [--data DIR]
  exlab fault list [--data DIR] [--format table|json]
  exlab fault clear [NAME] [--data DIR]
  exlab maintenance on|off|status [--data DIR]   Set-ServerComponentState HubTransport Inactive|Active
  exlab probe [--config FILE] [--host H] [--port P …] [--port-offset N] [--connections N] [--json]
  exlab bench --target HOST:PORT [flags]   (exlab bench --help for its flags)
  exlab connector audit [--config FILE] [--json]
  exlab certificate new [--data DIR] [--not-before DATE] [--not-after DATE]
  exlab readyz [--data DIR | --admin ADDR]   exit 0 when every connector listens (health check)
  exlab version

Run "exlab COMMAND --help" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "frontend":
		return cmdFrontend(args[1:], stdout, stderr)
	case "hub":
		return cmdHub(args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "readyz":
		return cmdReadyz(args[1:], stdout, stderr)
	case "queue":
		return cmdQueue(args[1:], stdout, stderr)
	case "message":
		return cmdMessage(args[1:], stdout, stderr)
	case "tracking":
		return cmdTracking(args[1:], stdout, stderr)
	case "mailbox":
		return cmdMailbox(args[1:], stdout, stderr)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "connector":
		return cmdConnector(args[1:], stdout, stderr)
	case "certificate":
		return cmdCertificate(args[1:], stdout, stderr)
	case "probe":
		return cmdProbe(args[1:], stdout, stderr)
	case "fault":
		return cmdFault(args[1:], stdout, stderr)
	case "maintenance":
		return cmdMaintenance(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "exlab", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "exlab: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parseInterspersed parses flags that may come before, between or after positional
// arguments (exlab mailbox show ADDRESS --data DIR) and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name string, stderr io.Writer, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: exlab %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "Usage: exlab config default | exlab config validate FILE | exlab config apply FILE [--data DIR]\n")
		return 2
	}
	switch args[0] {
	case "default":
		return configDefault(stdout)
	case "validate":
		return configValidate(args[1:], stdout, stderr)
	case "apply":
		return configApply(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "exlab config: unknown subcommand %q (default, validate, apply)\n", args[0])
	return 2
}

func errorf(stderr io.Writer, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprint(stderr, "exlab: "+msg)
	return 1
}
