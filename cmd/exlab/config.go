package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/exlab/exlab/config"
)

func configDefault(stdout io.Writer) int {
	_, _ = stdout.Write(config.DefaultYAML)
	return 0
}

// configValidate reports every problem of FILE as FILE:LINE: field: problem and exits 1, or says
// what the file holds and exits 0.
func configValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("config validate", stderr, "config validate FILE")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	org, err := config.Load(pos[0])
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
			return 1
		}
		return errorf(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "%s: valid: %d server(s), %d accepted domain(s), %d mailbox(es), %d receive connector(s), %d send connector(s)\n",
		pos[0], len(org.Servers), len(org.AcceptedDomains), len(org.Mailboxes), len(org.ReceiveConnectors), len(org.SendConnectors))
	return 0
}

func loadOrg(path string) (*config.Organization, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}
