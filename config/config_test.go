package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsExchange2019OutOfTheBox(t *testing.T) {
	o := Default()
	if len(o.Servers) != 1 || o.Servers[0].Name != "EX01" || o.Servers[0].Fqdn != "ex01.contoso.test" {
		t.Fatalf("servers: %+v", o.Servers)
	}
	if len(o.AcceptedDomains) != 1 || o.AcceptedDomains[0].DomainName != "contoso.test" ||
		o.AcceptedDomains[0].DomainType != Authoritative || !o.AcceptedDomains[0].Default {
		t.Errorf("accepted domains: %+v", o.AcceptedDomains)
	}
	want := []struct {
		name   string
		role   TransportRole
		port   int
		groups string
	}{
		{"Default Frontend EX01", FrontendTransport, 25, "[AnonymousUsers ExchangeServers ExchangeLegacyServers]"},
		{"Client Frontend EX01", FrontendTransport, 587, "[ExchangeUsers]"},
		{"Outbound Proxy Frontend EX01", FrontendTransport, 717, "[ExchangeServers]"},
		{"Default EX01", HubTransport, 2525, "[ExchangeUsers ExchangeServers ExchangeLegacyServers]"},
		{"Client Proxy EX01", HubTransport, 465, "[ExchangeUsers ExchangeServers]"},
	}
	if len(o.ReceiveConnectors) != len(want) {
		t.Fatalf("%d connectors", len(o.ReceiveConnectors))
	}
	for i, w := range want {
		rc := o.ReceiveConnectors[i]
		if rc.Name != w.name || rc.TransportRole != w.role || rc.Bindings[0].Port != w.port || len(rc.Bindings) != 2 {
			t.Errorf("connector %d: %s %s %v", i, rc.Name, rc.TransportRole, rc.Bindings)
		}
		if g := strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(toString(rc.PermissionGroups), ",", " "), "")), " "); g != w.groups {
			t.Errorf("%s PermissionGroups %s, want %s", rc.Name, g, w.groups)
		}
		// Setup-made connectors carry a real server's values (spec §1.1).
		if rc.MaxHopCount != 60 || rc.MaxLocalHopCount != 5 || rc.MaxMessageSize != 37748736 ||
			rc.ConnectionTimeout != TimeSpan(10*time.Minute) || rc.ConnectionInactivityTimeout != TimeSpan(5*time.Minute) ||
			rc.MaxInboundConnection != N(5000) || rc.MaxLogonFailures != 3 || rc.MaxProtocolErrors != N(5) ||
			rc.MaxHeaderSize != 256<<10 || !rc.Enabled || rc.Fqdn != "ex01.contoso.test" {
			t.Errorf("%s defaults: %+v", rc.Name, rc)
		}
	}
	hub := o.ReceiveConnectors[3]
	if hub.SizeEnabled != SizeEnabledWithoutValue || hub.MaxRecipientsPerMessage != 5000 ||
		!hub.MaxInboundConnectionPerSource.Unlimited || hub.MaxInboundConnectionPercentagePerSource != 100 {
		t.Errorf("Default EX01: %+v", hub)
	}
	if o.ReceiveConnectors[0].ProtocolLoggingLevel != LoggingVerbose || o.ReceiveConnectors[1].MessageRateLimit != N(5) ||
		o.ReceiveConnectors[2].TarpitInterval != 0 {
		t.Error("per-connector values of default-org.yaml were not kept")
	}
	if len(o.Mailboxes) != 2 || o.Mailboxes[0].Password != "P@ssw0rd" {
		t.Errorf("mailboxes: %+v", o.Mailboxes)
	}
}

func toString(gs []PermissionGroup) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = string(g)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestDefaultMatchesSpecShape: the embedded default is the spec's default-org.yaml.
func TestDefaultMatchesSpecShape(t *testing.T) {
	b, err := os.ReadFile("../../shared/spec/default-org.yaml")
	if err != nil {
		t.Fatalf("the spec must be beside the checkout (../shared, as CI lays it): %v", err)
	}
	if string(b) != string(DefaultYAML) {
		t.Error("config/default.yaml differs from ../shared/spec/default-org.yaml")
	}
}

func TestValues(t *testing.T) {
	sizes := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"36 MB (37,748,736 bytes)", 37748736, true},
		{"35 MB (36,700,160 bytes)", 36700160, true},
		{"36 MB", 37748736, true},
		{"36MB", 37748736, true},
		{"256 KB (262,144 bytes)", 262144, true},
		{"36700160", 36700160, true},
		{"1.5 GB", 1610612736, true},
		{"36 XB", 0, false},
		{"lots", 0, false},
	}
	for _, tt := range sizes {
		var b ByteSize
		err := b.parseExchange(tt.in)
		if (err == nil) != tt.ok || b != tt.want {
			t.Errorf("ByteSize(%q) = %d, %v", tt.in, b, err)
		}
	}
	if s := ByteSize(37748736).String(); s != "36 MB (37,748,736 bytes)" {
		t.Errorf("String() = %q", s)
	}
	times := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:10:00", 10 * time.Minute, true},
		{"00:00:05", 5 * time.Second, true},
		{"1.00:00:00", 24 * time.Hour, true},
		{"2.04:30:00", 52*time.Hour + 30*time.Minute, true},
		{"00:00:00.5", 500 * time.Millisecond, true},
		{"10 minutes", 0, false},
		{"00:61:00", 0, false},
	}
	for _, tt := range times {
		d, err := ParseTimeSpan(tt.in)
		if (err == nil) != tt.ok || d != tt.want {
			t.Errorf("ParseTimeSpan(%q) = %v, %v", tt.in, d, err)
		}
	}
	if s := FormatTimeSpan(52*time.Hour + 30*time.Minute); s != "2.04:30:00" {
		t.Errorf("FormatTimeSpan = %q", s)
	}
	ranges := []struct {
		in        string
		in1, out1 string
		ok        bool
	}{
		{"192.168.1.75", "192.168.1.75", "192.168.1.76", true},
		{"192.168.1.0-192.168.1.255", "192.168.1.100", "192.168.2.1", true},
		{"192.168.1.0/24", "192.168.1.100", "192.168.2.1", true},
		{"2001:db8::/32", "2001:db8::1", "2001:db9::1", true},
		{"fe80::1%13", "fe80::1", "fe80::2", true},
		{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1", "127.0.0.1", true},
		{"10.0.0.9-10.0.0.1", "", "", false},
		{"nope", "", "", false},
	}
	for _, tt := range ranges {
		var r IPRange
		err := r.parseExchange(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("IPRange(%q): %v", tt.in, err)
			continue
		}
		if !tt.ok {
			continue
		}
		if !r.Contains(netip.MustParseAddr(tt.in1)) || r.Contains(netip.MustParseAddr(tt.out1)) {
			t.Errorf("IPRange(%q): contains %s=%v, %s=%v", tt.in, tt.in1, r.Contains(netip.MustParseAddr(tt.in1)), tt.out1, r.Contains(netip.MustParseAddr(tt.out1)))
		}
	}
}

// TestBadConfigs: every broken file in testdata/bad reports exactly the errors listed in its
// "# want:" comments, as FILE:LINE: field: problem (chasquid's t-20-bad_configs idea).
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, _ := os.ReadFile(f)
			var want []string
			for _, l := range strings.Split(string(b), "\n") {
				if w, ok := strings.CutPrefix(l, "# want: "); ok {
					want = append(want, f+":"+w)
				}
			}
			_, err := Load(f)
			if err == nil {
				t.Fatal("loaded without error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
