package config

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func TestMailboxDeliveryConnectors(t *testing.T) {
	show := func(rcs []*ReceiveConnector) string {
		var out []string
		for _, rc := range rcs {
			var b []string
			for _, x := range rc.Bindings {
				b = append(b, x.String())
			}
			out = append(out, rc.Identity()+"="+strings.Join(b, ",")+" "+strings.Join(func() []string {
				var g []string
				for _, p := range rc.PermissionGroups {
					g = append(g, string(p))
				}
				return g
			}(), "+"))
		}
		return strings.Join(out, "; ")
	}
	lab := Default()
	for i := range lab.ReceiveConnectors {
		lab.ReceiveConnectors[i].Bindings = []Binding{{Addr: netip.MustParseAddr("127.0.0.1")}}
		lab.ReceiveConnectors[i].TarpitInterval = 0
	}
	for _, tc := range []struct {
		name string
		org  *Organization
		want string
	}{
		{"the default", Default(), `EX01\Default Mailbox Delivery EX01=0.0.0.0:475,[::]:475 ExchangeServers; ` +
			`EX01\Mailbox Transport 476 EX01=0.0.0.0:476,[::]:476 ; EX01\Mailbox Transport 477 EX01=0.0.0.0:477,[::]:477 `},
		{"an ephemeral lab", lab, `EX01\Default Mailbox Delivery EX01=127.0.0.1:0 ExchangeServers; ` +
			`EX01\Mailbox Transport 476 EX01=127.0.0.1:0 ; EX01\Mailbox Transport 477 EX01=127.0.0.1:0 `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcs := tc.org.MailboxDeliveryConnectors(&tc.org.Servers[0])
			if got := show(rcs); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			for _, rc := range rcs {
				if rc.TransportRole != MailboxDelivery || !rc.HasAuth(AuthExchangeServer) || rc.HasAuth(AuthBasicAuth) ||
					!rc.MaxInboundConnectionPerSource.Unlimited || rc.Fqdn != "ex01.contoso.test" {
					t.Errorf("%s: %+v", rc.Name, rc)
				}
			}
		})
	}
	if d := Default().MailboxDeliveryConnectors(&Default().Servers[0])[0].TarpitInterval; d.Duration() == 0 {
		t.Error("the default's tarpit is not Default EX01's")
	}
	if d := lab.MailboxDeliveryConnectors(&lab.Servers[0])[0].TarpitInterval; d != 0 {
		t.Errorf("a lab without tarpits gets %v", d)
	}
}

func TestMailboxDatabaseName(t *testing.T) {
	a, b := &Server{Name: "EX01"}, &Server{Name: "ex01"}
	if got := a.MailboxDatabaseName(); !regexp.MustCompile(`^Mailbox Database \d{10}$`).MatchString(got) || got != b.MailboxDatabaseName() {
		t.Errorf("%q, %q", got, b.MailboxDatabaseName())
	}
	if (&Server{Name: "EX02"}).MailboxDatabaseName() == a.MailboxDatabaseName() {
		t.Error("two servers, one database name")
	}
	if got := (&Server{Name: "EX01", MailboxDatabase: "DB01"}).MailboxDatabaseName(); got != "DB01" {
		t.Errorf("explicit name: %q", got)
	}
}
