package routing

import (
	"fmt"

	"github.com/exlab/exlab/config"
)

// RelayFinding is one enabled receive connector on which anonymous clients may relay.
type RelayFinding struct {
	Connector      string
	Bindings       []string
	RemoteIPRanges []string
	How            string   // why anonymous clients may relay
	Problems       []string // ranges wider than a /24 (IPv6: /64), the whole Internet
	OpenRelay      bool     // it relays for the whole Internet
}

// AuditRelays is the open-relay audit the seeds run with Get-ADPermission | where
// {$_.ExtendedRights -like "*Accept-Any-Recipient*"}: the enabled connectors on which an
// anonymous client may relay, because anonymous sessions hold ms-Exch-SMTP-Accept-Any-Recipient
// (an ADPermission for ANONYMOUS LOGON) or every session is treated as an Externally Secured
// Server (ExternalAuthoritative) (spec §2.4). A connector that does so for the whole Internet is
// an open relay.
func AuditRelays(org *config.Organization) []RelayFinding {
	var out []RelayFinding
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		if !rc.Enabled || !SessionRights(rc, Anonymous, org.ADPermissions).Has(AcceptAnyRecipient) {
			continue
		}
		how := `ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient`
		if rc.HasAuth(config.AuthExternalAuthoritative) {
			how = "ExternalAuthoritative: every client is an Externally Secured Server"
		}
		f := RelayFinding{Connector: rc.Identity(), How: how}
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
