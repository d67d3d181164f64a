package routing_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
)

// relayOrg is the embedded default plus an anonymous relay connector on its own port with the
// given RemoteIPRanges; auth adds ExternalAuthoritative instead of the ADPermission.
func relayOrg(t *testing.T, ranges string, externalAuth bool) *config.Organization {
	t.Helper()
	extra := fmt.Sprintf(`
  - Name: Anonymous Relay EX01
    Server: EX01
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:2526"]
    RemoteIPRanges: [%s]
    PermissionGroups: [AnonymousUsers]
ADPermissions:
  - Identity: EX01\Anonymous Relay EX01
    User: NT AUTHORITY\ANONYMOUS LOGON
    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]

SendConnectors:`, ranges)
	if externalAuth {
		extra = fmt.Sprintf(`
  - Name: Anonymous Relay EX01
    Server: EX01
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:2526"]
    RemoteIPRanges: [%s]
    PermissionGroups: [ExchangeServers]
    AuthMechanism: [ExternalAuthoritative]

SendConnectors:`, ranges)
	}
	y := strings.Replace(string(config.DefaultYAML), "\nSendConnectors:", extra, 1)
	org, err := config.Parse("relay.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return org
}

func TestAuditRelays(t *testing.T) {
	for _, tc := range []struct {
		name         string
		ranges       string
		externalAuth bool
		how          string
		problems     []string
		open         bool
	}{
		{"one device", `"127.0.0.2"`, false, "ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient", nil, false},
		{"a /16", `"127.0.0.2", "10.0.0.0/16"`, false, "ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient",
			[]string{"10.0.0.0/16 is wider than a /24"}, false},
		{"a wide IPv6 range", `"2001:db8::/48"`, false, "ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient",
			[]string{"2001:db8::/48 is wider than a /64"}, false},
		{"the whole Internet", `"0.0.0.0-255.255.255.255"`, false, "ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient",
			[]string{"0.0.0.0-255.255.255.255 is the whole Internet: an open relay"}, true},
		{"externally secured", `"192.0.2.0/24"`, true, "ExternalAuthoritative: every client is an Externally Secured Server", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := routing.AuditRelays(relayOrg(t, tc.ranges, tc.externalAuth))
			if len(fs) != 1 {
				t.Fatalf("findings: %+v", fs)
			}
			f := fs[0]
			if f.Connector != `EX01\Anonymous Relay EX01` || f.How != tc.how || f.OpenRelay != tc.open ||
				strings.Join(f.Problems, ";") != strings.Join(tc.problems, ";") || strings.Join(f.Bindings, ",") != "0.0.0.0:2526" {
				t.Errorf("got %+v", f)
			}
		})
	}
	if fs := routing.AuditRelays(config.Default()); len(fs) != 0 {
		t.Errorf("the embedded default relays: %+v", fs)
	}
	// A disabled connector relays for no one.
	org := relayOrg(t, `"0.0.0.0-255.255.255.255"`, false)
	for i := range org.ReceiveConnectors {
		if org.ReceiveConnectors[i].Name == "Anonymous Relay EX01" {
			org.ReceiveConnectors[i].Enabled = false
		}
	}
	if fs := routing.AuditRelays(org); len(fs) != 0 {
		t.Errorf("a disabled connector: %+v", fs)
	}
}
