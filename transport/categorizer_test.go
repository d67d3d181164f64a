package transport

import (
	"reflect"
	"testing"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpwire"
)

// TestCategorize is the categorizer's decision per recipient on the default organization
// (contoso.test authoritative; administrator@ with the alias admin@, user1@) plus a smart-host
// connector for fabrikam.example and a connector without hosts for nohosts.example.
func TestCategorize(t *testing.T) {
	org := config.Default()
	org.SendConnectors = []config.SendConnector{
		{Name: "Fabrikam", AddressSpaces: []string{"SMTP:fabrikam.example;1"}, Enabled: true, Port: 25, SmartHosts: []string{"[127.0.0.1]:2500"}},
		{Name: "Nowhere", AddressSpaces: []string{"SMTP:nohosts.example;1"}, Enabled: true, Port: 25},
	}
	resolver := routing.New(org)
	r74 := smtpwire.Fixed(smtpwire.R74).Text
	pending := func(addr string, notify ...string) queue.Recipient {
		return queue.Recipient{Address: addr, Status: queue.StatusPending, Notify: notify}
	}
	type want struct {
		rcpts      []queue.Recipient
		deliveries map[string][]string // mailbox → To
		failed     []string
		delivered  []string
		events     []string // FAIL events' recipients
	}
	for _, tc := range []struct {
		name  string
		rcpts []queue.Recipient
		want  want
	}{
		{"mailbox", []queue.Recipient{pending("user1@contoso.test")}, want{
			rcpts:      []queue.Recipient{{Address: "user1@contoso.test", Status: queue.StatusDelivered, Mailbox: "user1@contoso.test"}},
			deliveries: map[string][]string{"user1@contoso.test": {"user1@contoso.test"}},
		}},
		{"two addresses of one mailbox make one delivery", []queue.Recipient{pending("admin@contoso.test"), pending("Administrator@contoso.test", "SUCCESS")}, want{
			rcpts: []queue.Recipient{
				{Address: "admin@contoso.test", Status: queue.StatusDelivered, Mailbox: "administrator@contoso.test"},
				{Address: "Administrator@contoso.test", Status: queue.StatusDelivered, Mailbox: "administrator@contoso.test", Notify: []string{"SUCCESS"}},
			},
			deliveries: map[string][]string{"administrator@contoso.test": {"admin@contoso.test", "Administrator@contoso.test"}},
			delivered:  []string{"Administrator@contoso.test"},
		}},
		{"unknown in an authoritative domain fails with R74", []queue.Recipient{pending("nobody@contoso.test")}, want{
			rcpts:  []queue.Recipient{{Address: "nobody@contoso.test", Status: queue.StatusFailed, LastError: r74}},
			failed: []string{"nobody@contoso.test"}, events: []string{"nobody@contoso.test"},
		}},
		{"external with a connector gets its next hop", []queue.Recipient{pending("a@fabrikam.example")}, want{
			rcpts: []queue.Recipient{{Address: "a@fabrikam.example", Status: queue.StatusPending, NextHop: "Fabrikam"}},
		}},
		{"a connector without smart hosts or DNS routing is no route", []queue.Recipient{pending("a@nohosts.example")}, want{
			rcpts: []queue.Recipient{{Address: "a@nohosts.example", Status: queue.StatusUnreachable, LastError: noRouteError}},
		}},
		{"external without a connector is unreachable", []queue.Recipient{pending("a@elsewhere.example")}, want{
			rcpts: []queue.Recipient{{Address: "a@elsewhere.example", Status: queue.StatusUnreachable, LastError: noRouteError}},
		}},
		{"routed and finished recipients are left alone", []queue.Recipient{
			{Address: "b@fabrikam.example", Status: queue.StatusPending, NextHop: "Gone"},
			{Address: "user1@contoso.test", Status: queue.StatusFailed, LastError: "x"},
		}, want{
			rcpts: []queue.Recipient{
				{Address: "b@fabrikam.example", Status: queue.StatusPending, NextHop: "Gone"},
				{Address: "user1@contoso.test", Status: queue.StatusFailed, LastError: "x"},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &queue.Message{ID: 7, MessageID: "<m@x>", From: "s@example.org", Subject: "hi", Size: 10,
				HeaderPrefix: "Received: x\r\n", Recipients: tc.rcpts}
			got := categorize(m, resolver, "EX01")
			if !reflect.DeepEqual(m.Recipients, tc.want.rcpts) {
				t.Errorf("recipients\n got %+v\nwant %+v", m.Recipients, tc.want.rcpts)
			}
			deliveries := map[string][]string{}
			for _, d := range got.Deliveries {
				if d.ID != 7 || d.MessageID != "<m@x>" || d.Size != 10+int64(len("Received: x\r\n")) {
					t.Errorf("delivery %+v", d)
				}
				deliveries[d.Mailbox] = d.To
			}
			if len(got.Deliveries) != len(deliveries) {
				t.Errorf("%d deliveries for %d mailboxes", len(got.Deliveries), len(deliveries))
			}
			if len(deliveries) == 0 {
				deliveries = nil
			}
			if !reflect.DeepEqual(deliveries, tc.want.deliveries) {
				t.Errorf("deliveries %v, want %v", deliveries, tc.want.deliveries)
			}
			addrs := func(rs []queue.Recipient) []string {
				var out []string
				for _, r := range rs {
					out = append(out, r.Address)
				}
				return out
			}
			if a := addrs(got.Failed); !reflect.DeepEqual(a, tc.want.failed) {
				t.Errorf("failed %v, want %v", a, tc.want.failed)
			}
			if a := addrs(got.Delivered); !reflect.DeepEqual(a, tc.want.delivered) {
				t.Errorf("delivered %v, want %v", a, tc.want.delivered)
			}
			var events []string
			for _, e := range got.Events {
				if e.ID != "FAIL" || e.Source != "ROUTING" || e.Status != r74 {
					t.Errorf("event %+v", e)
				}
				events = append(events, e.Recipients...)
			}
			if !reflect.DeepEqual(events, tc.want.events) {
				t.Errorf("events %v, want %v", events, tc.want.events)
			}
		})
	}
}

// TestCategorizeRelaysToSourceServers: a domain only another server's connector routes goes to
// that connector's source servers (SmtpRelayToConnectorSourceServers); a connector of this
// server wins over it, and none at all is no route.
func TestCategorizeRelaysToSourceServers(t *testing.T) {
	org := config.Default()
	org.SendConnectors = []config.SendConnector{
		{Name: "Via EX02", AddressSpaces: []string{"SMTP:fabrikam.example;1"}, Enabled: true, Port: 25, SmartHosts: []string{"[127.0.0.1]:2500"}, SourceTransportServers: []string{"EX02"}},
		{Name: "Mine", AddressSpaces: []string{"SMTP:mine.example;1"}, Enabled: true, Port: 25, SmartHosts: []string{"[127.0.0.1]:2500"}, SourceTransportServers: []string{"EX01"}},
		{Name: "Mine too", AddressSpaces: []string{"SMTP:mine.example;1"}, Enabled: true, Port: 25, SmartHosts: []string{"[127.0.0.1]:2500"}, SourceTransportServers: []string{"EX02"}},
	}
	resolver := routing.New(org)
	for _, tc := range []struct{ rcpt, hop string }{
		{"a@fabrikam.example", "SmtpRelayToConnectorSourceServers:Via EX02"},
		{"a@mine.example", "Mine"},
		{"a@elsewhere.example", ""},
	} {
		m := &queue.Message{ID: 1, Recipients: []queue.Recipient{{Address: tc.rcpt, Status: queue.StatusPending}}}
		categorizeWith(m, resolver, "EX01", mailboxHop("DB01"))
		if got := m.Recipients[0].NextHop; got != tc.hop {
			t.Errorf("%s: NextHop %q, want %q", tc.rcpt, got, tc.hop)
		}
		if tc.hop == "" && m.Recipients[0].Status != queue.StatusUnreachable {
			t.Errorf("%s: %s, want Unreachable", tc.rcpt, m.Recipients[0].Status)
		}
	}
}
