package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
)

// auditFinding is one connector that lets anonymous clients relay.
type auditFinding struct {
	Connector      string
	Bindings       []string
	RemoteIPRanges []string
	How            string   // why anonymous clients may relay
	Problems       []string // ranges wider than a /24, the whole Internet
	OpenRelay      bool
}

// cmdConnector is `exlab connector audit`: the open-relay check the seeds run with
// Get-ADPermission | where {$_.ExtendedRights -like "*Accept-Any-Recipient*"}.
func cmdConnector(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "audit" {
		fmt.Fprint(stderr, "Usage: exlab connector audit [--config FILE] [--json]\n")
		return 2
	}
	fs := newFlagSet("connector audit", stderr, "connector audit [--config FILE] [--json]")
	cfgPath := fs.String("config", "", "organization file (default: the embedded default)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return 2
	}
	org, err := loadOrg(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	findings := auditRelays(org)
	open := false
	for _, f := range findings {
		open = open || f.OpenRelay
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(findings)
	} else if len(findings) == 0 {
		fmt.Fprintln(stdout, "no receive connector lets anonymous clients relay")
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "Connector\tBindings\tRemoteIPRanges\tHow\tVerdict")
		for _, f := range findings {
			verdict := "relay limited to these ranges"
			if len(f.Problems) > 0 {
				verdict = strings.Join(f.Problems, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Connector, strings.Join(f.Bindings, ","), strings.Join(f.RemoteIPRanges, ","), f.How, verdict)
		}
		tw.Flush()
	}
	if open {
		return 1
	}
	return 0
}

// auditRelays lists the enabled connectors on which an anonymous client may relay: anonymous
// sessions holding ms-Exch-SMTP-Accept-Any-Recipient (an ADPermission for ANONYMOUS LOGON), or
// every session treated as an Externally Secured Server (ExternalAuthoritative) (spec §2.4).
// A connector that does so for the whole Internet is an open relay.
func auditRelays(org *config.Organization) []auditFinding {
	var out []auditFinding
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		if !rc.Enabled {
			continue
		}
		how := ""
		switch {
		case routing.SessionRights(rc, routing.Anonymous, org.ADPermissions).Has(routing.AcceptAnyRecipient):
			how = `ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient`
			if rc.HasAuth(config.AuthExternalAuthoritative) {
				how = "ExternalAuthoritative: every client is an Externally Secured Server"
			}
		default:
			continue
		}
		f := auditFinding{Connector: rc.Identity(), How: how}
		for _, b := range rc.Bindings {
			f.Bindings = append(f.Bindings, b.String())
		}
		for _, r := range rc.RemoteIPRanges {
			f.RemoteIPRanges = append(f.RemoteIPRanges, r.String())
			switch {
			case r.Lo.Is4() && r.Size() >= 1<<32, !r.Lo.Is4() && r.Size() >= 1<<127:
				f.Problems = append(f.Problems, fmt.Sprintf("%s is the whole Internet: an open relay", r))
				f.OpenRelay = true
			case r.Lo.Is4() && r.Size() > 256:
				f.Problems = append(f.Problems, fmt.Sprintf("%s is wider than a /24", r))
			case !r.Lo.Is4() && r.Size() > 1<<64:
				f.Problems = append(f.Problems, fmt.Sprintf("%s is wider than a /64", r))
			}
		}
		out = append(out, f)
	}
	return out
}
