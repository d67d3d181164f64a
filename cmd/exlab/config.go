package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"

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

// loadServer loads the organization (the embedded default when path is "") and picks the
// server to act as: the one named, or the first.
func loadServer(path, name string) (*config.Organization, *config.Server, error) {
	org, err := loadOrg(path)
	if err != nil {
		return nil, nil, err
	}
	srv := &org.Servers[0]
	if name != "" {
		if srv = org.Server(name); srv == nil {
			return nil, nil, fmt.Errorf("exlab: --server: %q is not a server of %s", name, org.File)
		}
	}
	return org, srv, nil
}

func loadOrg(path string) (*config.Organization, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// configApply validates FILE and has the running server (through its admin listener) apply it,
// as SIGHUP does for the server's own --config file.
func configApply(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("config apply", stderr, "config apply FILE [--data DIR]")
	dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	if code := configValidate(pos, io.Discard, stderr); code != 0 {
		return code
	}
	abs, err := filepath.Abs(pos[0])
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	c := dialAdmin(*dataDir)
	if c == nil {
		return errorf(stderr, "no running server answers for %s (exlab serve or exlab hub; for exlab frontend send SIGHUP)", *dataDir)
	}
	if _, err := c.do(http.MethodPost, "/config/apply?path="+url.QueryEscape(abs)); err != nil {
		return errorf(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "%s: applied\n", pos[0])
	return 0
}
