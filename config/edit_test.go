package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lineDiff lists the lines only a has ("-line") and only b has ("+line"), in order, from a
// longest common subsequence of lines matched as late as possible: an edit that touches one
// line shows as that line, a block inserted after a blank line as the blank line and the block.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			if x[i-1] == y[j-1] {
				lcs[i][j] = lcs[i-1][j-1] + 1
			} else {
				lcs[i][j] = max(lcs[i-1][j], lcs[i][j-1])
			}
		}
	}
	var out []string
	i, j := len(x), len(y)
	for i > 0 || j > 0 {
		switch {
		case i > 0 && j > 0 && x[i-1] == y[j-1]:
			i, j = i-1, j-1
		case j > 0 && (i == 0 || lcs[i][j-1] >= lcs[i-1][j]):
			out = append(out, "+"+y[j-1])
			j--
		default:
			out = append(out, "-"+x[i-1])
			i--
		}
	}
	for l, r := 0, len(out)-1; l < r; l, r = l+1, r-1 {
		out[l], out[r] = out[r], out[l]
	}
	return strings.Join(out, "\n")
}

func rc(t *testing.T, o *Organization, name string) *ReceiveConnector {
	t.Helper()
	for i := range o.ReceiveConnectors {
		if o.ReceiveConnectors[i].Name == name {
			return &o.ReceiveConnectors[i]
		}
	}
	t.Fatalf("no receive connector %q", name)
	return nil
}

func find(t *testing.T, d *Document, kind, name string) *ObjectNode {
	t.Helper()
	o := d.Find(kind, name)
	if o == nil {
		t.Fatalf("no %s %q", kind, name)
	}
	return o
}

type editCase struct {
	name  string
	edit  func(t *testing.T, d *Document) error
	diff  string                              // lineDiff of the file before and after
	check func(t *testing.T, o *Organization) // the organization Parse reads from the result
}

func runEditCases(t *testing.T, file string, src []byte, cases []editCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, o, err := EditBytes(file, src, func(d *Document) error { return tc.edit(t, d) })
			if err != nil {
				t.Fatalf("EditBytes: %v", err)
			}
			if got := lineDiff(string(src), string(out)); got != strings.TrimSpace(tc.diff) {
				t.Errorf("diff:\n%s\nwant:\n%s", got, strings.TrimSpace(tc.diff))
			}
			// Round trip: the new bytes parse to the organization EditBytes returned.
			again, err := Parse(file, out)
			if err != nil {
				t.Fatalf("Parse of the result: %v", err)
			}
			if !reflect.DeepEqual(withoutLines(again), withoutLines(o)) {
				t.Errorf("Parse(result) differs from the organization EditBytes returned")
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

// withoutLines drops what Parse keeps about positions, which differ between two parses only in
// the map's identity.
func withoutLines(o *Organization) Organization {
	c := *o
	c.lines = nil
	return c
}

func TestEditDefault(t *testing.T) {
	runEditCases(t, DefaultFileName, DefaultYAML, []editCase{
		{
			name: "set a size, parameter name in any case",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "receiveconnectors", "default frontend ex01").Set("maxmessagesize", "50 MB")
			},
			diff: `
-    MaxMessageSize: 36 MB (37,748,736 bytes)
+    MaxMessageSize: 50 MB`,
			check: func(t *testing.T, o *Organization) {
				if got := rc(t, o, "Default Frontend EX01").MaxMessageSize; got != 50<<20 {
					t.Errorf("MaxMessageSize = %d", got)
				}
			},
		},
		{
			name: "a size in bytes is written as Exchange prints it",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Default Frontend EX01").Set("MaxMessageSize", 64<<20)
			},
			diff: `
-    MaxMessageSize: 36 MB (37,748,736 bytes)
+    MaxMessageSize: 64 MB (67,108,864 bytes)`,
		},
		{
			name: "a TimeSpan stays quoted",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Default Frontend EX01").Set("TarpitInterval", 10*time.Second)
			},
			diff: `
-    TarpitInterval: "00:00:05"
+    TarpitInterval: "00:00:10"`,
			check: func(t *testing.T, o *Organization) {
				if got := rc(t, o, "Default Frontend EX01").TarpitInterval; got.Duration() != 10*time.Second {
					t.Errorf("TarpitInterval = %v", got)
				}
			},
		},
		{
			name: "a new TimeSpan is quoted as in the default",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Client Frontend EX01").Set("ConnectionTimeout", "00:20:00")
			},
			diff: `
+    ConnectionTimeout: "00:20:00"`,
		},
		{
			name: "a flow list stays a flow list, quoted as before",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Client Frontend EX01").Set("Bindings", []string{"0.0.0.0:587"})
			},
			diff: `
-    Bindings: ["[::]:587", "0.0.0.0:587"]
+    Bindings: ["0.0.0.0:587"]`,
		},
		{
			name: "a list of typed values",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Client Frontend EX01").Set("AuthMechanism", []AuthMechanism{AuthTls, AuthBasicAuth})
			},
			diff: `
-    AuthMechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS]
+    AuthMechanism: [Tls, BasicAuth]`,
		},
		{
			name: "a new key goes where the parameter table orders it",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Client Frontend EX01").Set("Enabled", false)
			},
			diff: `
+    Enabled: false`,
			check: func(t *testing.T, o *Organization) {
				c := rc(t, o, "Client Frontend EX01")
				if c.Enabled {
					t.Error("still enabled")
				}
				if o.Line("ReceiveConnectors[1].Enabled") != o.Line("ReceiveConnectors[1].TransportRole")+1 {
					t.Errorf("Enabled at line %d, TransportRole at %d", o.Line("ReceiveConnectors[1].Enabled"), o.Line("ReceiveConnectors[1].TransportRole"))
				}
			},
		},
		{
			name: "nil removes the key: back to Exchange's default",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Client Frontend EX01").Set("MessageRateLimit", nil)
			},
			diff: `
-    MessageRateLimit: 5`,
			check: func(t *testing.T, o *Organization) {
				if got := rc(t, o, "Client Frontend EX01").MessageRateLimit; got != Unlimited {
					t.Errorf("MessageRateLimit = %v", got)
				}
			},
		},
		{
			name: "a line comment keeps its column",
			edit: func(t *testing.T, d *Document) error {
				return d.Set([]string{"Servers", "ex01", "BindingConflictMode"}, BindingShared)
			},
			diff: `
-    BindingConflictMode: Exclusive              # Exclusive (Event 1020) | Shared (SO_REUSEPORT)
+    BindingConflictMode: Shared                 # Exclusive (Event 1020) | Shared (SO_REUSEPORT)`,
			check: func(t *testing.T, o *Organization) {
				if o.Servers[0].BindingConflictMode != BindingShared {
					t.Errorf("BindingConflictMode = %s", o.Servers[0].BindingConflictMode)
				}
			},
		},
		{
			name: "Set-TransportService: a per-server setting and a nested one",
			edit: func(t *testing.T, d *Document) error {
				if err := d.Set([]string{"Servers", "EX01", "MessageRetryInterval"}, "00:01:00"); err != nil {
					return err
				}
				return d.Set([]string{"Servers", "EX01", "BackPressure", "Enabled"}, false)
			},
			diff: `
+    MessageRetryInterval: "00:01:00"
+    BackPressure:
+      Enabled: false`,
			check: func(t *testing.T, o *Organization) {
				s := o.Servers[0]
				if s.MessageRetryInterval.Duration() != time.Minute || s.BackPressure.Enabled {
					t.Errorf("MessageRetryInterval %v, BackPressure.Enabled %v", s.MessageRetryInterval, s.BackPressure.Enabled)
				}
				if s.BackPressure.QueueLength.MediumToHigh != 15000 {
					t.Errorf("the other BackPressure defaults are lost: %+v", s.BackPressure)
				}
			},
		},
		{
			name: "a top-level mapping the file lacks is created after the others",
			edit: func(t *testing.T, d *Document) error {
				return d.Set([]string{"servercomponentstate", "hubtransport"}, ComponentInactive)
			},
			diff: `
+
+ServerComponentState:
+  HubTransport: Inactive`,
			check: func(t *testing.T, o *Organization) {
				if o.ServerComponentState.HubTransport != ComponentInactive {
					t.Errorf("HubTransport = %q", o.ServerComponentState.HubTransport)
				}
			},
		},
		{
			name: "a value that needs quotes gets them",
			edit: func(t *testing.T, d *Document) error {
				return d.Set([]string{"Organization", "Name"}, "Fabrikam: Lab #1")
			},
			diff: `
-  Name: Contoso Lab
+  Name: "Fabrikam: Lab #1"`,
			check: func(t *testing.T, o *Organization) {
				if o.Organization.Name != "Fabrikam: Lab #1" {
					t.Errorf("Name = %q", o.Organization.Name)
				}
			},
		},
		{
			name: "New-ReceiveConnector: appended after a blank line, lists styled as the others'",
			edit: func(t *testing.T, d *Document) error {
				o, err := d.Add("ReceiveConnectors",
					Field{"RemoteIPRanges", []string{"127.0.0.2"}},
					Field{"Name", "Relay EX01"},
					Field{"Bindings", []Binding{{Addr: netip.MustParseAddr("0.0.0.0"), Port: 2526}}},
					Field{"TransportRole", HubTransport},
					Field{"Server", "EX01"},
					Field{"Comment", nil})
				if err != nil {
					return err
				}
				if o.Name() != "Relay EX01" {
					t.Errorf("Name() = %q", o.Name())
				}
				return nil
			},
			diff: `
+
+  - Name: Relay EX01
+    Server: EX01
+    TransportRole: HubTransport
+    Bindings: ["0.0.0.0:2526"]
+    RemoteIPRanges: ["127.0.0.2"]`,
			check: func(t *testing.T, o *Organization) {
				c := rc(t, o, "Relay EX01")
				if c.TransportRole != HubTransport || len(c.RemoteIPRanges) != 1 || c.MaxMessageSize != 36<<20 {
					t.Errorf("%+v", c)
				}
			},
		},
		{
			name: "New-SendConnector into an empty list []",
			edit: func(t *testing.T, d *Document) error {
				_, err := d.Add("SendConnectors", Field{"Name", "Internet"}, Field{"AddressSpaces", []string{"SMTP:*;1"}},
					Field{"SmartHosts", []string{"[127.0.0.1]:2626"}}, Field{"DNSRoutingEnabled", false})
				return err
			},
			diff: `
-SendConnectors: []
+SendConnectors:
+  - Name: Internet
+    AddressSpaces: [SMTP:*;1]
+    DNSRoutingEnabled: false
+    SmartHosts: ["[127.0.0.1]:2626"]`,
			check: func(t *testing.T, o *Organization) {
				if len(o.SendConnectors) != 1 || o.SendConnectors[0].SmartHosts[0] != "[127.0.0.1]:2626" {
					t.Errorf("%+v", o.SendConnectors)
				}
			},
		},
		{
			name: "Add-ADPermission creates its list where default-org.yaml has it",
			edit: func(t *testing.T, d *Document) error {
				if _, err := d.Add("ReceiveConnectors", Field{"Name", "Relay EX01"}, Field{"Server", "EX01"}, Field{"TransportRole", "FrontendTransport"},
					Field{"Bindings", []string{"0.0.0.0:25"}}, Field{"RemoteIPRanges", []string{"192.0.2.10"}}, Field{"PermissionGroups", []string{"AnonymousUsers"}}); err != nil {
					return err
				}
				_, err := d.Add("ADPermissions", Field{"Identity", `EX01\Relay EX01`}, Field{"User", `NT AUTHORITY\ANONYMOUS LOGON`},
					Field{"ExtendedRights", []string{"ms-Exch-SMTP-Accept-Any-Recipient"}})
				return err
			},
			diff: `
+
+  - Name: Relay EX01
+    Server: EX01
+    TransportRole: FrontendTransport
+    Bindings: ["0.0.0.0:25"]
+    RemoteIPRanges: ["192.0.2.10"]
+    PermissionGroups: [AnonymousUsers]
+
+ADPermissions:
+  - Identity: EX01\Relay EX01
+    User: NT AUTHORITY\ANONYMOUS LOGON
+    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]`,
			check: func(t *testing.T, o *Organization) {
				if len(o.ADPermissions) != 1 || o.ADPermissions[0].Identity != `EX01\Relay EX01` {
					t.Errorf("%+v", o.ADPermissions)
				}
			},
		},
		{
			name: "New-Mailbox: no blank line where the list has none",
			edit: func(t *testing.T, d *Document) error {
				_, err := d.Add("Mailboxes", Field{"Name", "User Two"}, Field{"PrimarySmtpAddress", "user2@contoso.test"}, Field{"Password", "P@ss: w0rd"})
				return err
			},
			diff: `
+  - Name: User Two
+    PrimarySmtpAddress: user2@contoso.test
+    Password: "P@ss: w0rd"`,
			check: func(t *testing.T, o *Organization) {
				if len(o.Mailboxes) != 3 || o.Mailboxes[2].Password != "P@ss: w0rd" {
					t.Errorf("%+v", o.Mailboxes)
				}
			},
		},
		{
			name: "Remove-ReceiveConnector takes its blank line with it",
			edit: func(t *testing.T, d *Document) error {
				if !d.Remove("ReceiveConnectors", "client frontend ex01") {
					t.Error("Remove found nothing")
				}
				return nil
			},
			diff: `
-
-  - Name: Client Frontend EX01
-    Server: EX01
-    TransportRole: FrontendTransport
-    Bindings: ["[::]:587", "0.0.0.0:587"]
-    RemoteIPRanges: ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"]
-    AuthMechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS]
-    PermissionGroups: [ExchangeUsers]
-    MessageRateLimit: 5
-    MessageRateSource: User
-    EnableAuthGSSAPI: true
-    ProtocolLoggingLevel: None`,
			check: func(t *testing.T, o *Organization) {
				if len(o.ReceiveConnectors) != 4 {
					t.Errorf("%d connectors", len(o.ReceiveConnectors))
				}
			},
		},
		{
			name: "Remove-Mailbox of the first, with its line comment",
			edit: func(t *testing.T, d *Document) error {
				if !d.Remove("Mailboxes", "administrator") {
					t.Error("Remove found nothing")
				}
				return nil
			},
			diff: `
-  - Name: Administrator
-    PrimarySmtpAddress: administrator@contoso.test
-    EmailAddresses: [smtp:admin@contoso.test]
-    Password: P@ssw0rd                          # lab credentials, never for production`,
		},
		{
			name: "Set-ReceiveConnector -Name keeps the connector's place",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Default EX01").Set("Name", "Default Hub EX01")
			},
			diff: `
-  - Name: Default EX01
+  - Name: Default Hub EX01`,
			check: func(t *testing.T, o *Organization) {
				if o.ReceiveConnectors[3].Name != "Default Hub EX01" {
					t.Errorf("ReceiveConnectors[3] is %q", o.ReceiveConnectors[3].Name)
				}
			},
		},
		{
			name: "the seed repair: -TransportRole FrontendTransport",
			edit: func(t *testing.T, d *Document) error {
				o, err := d.Add("ReceiveConnectors", Field{"Name", "Relay EX01"}, Field{"Server", "EX01"}, Field{"TransportRole", "HubTransport"},
					Field{"Bindings", []string{"0.0.0.0:2526"}}, Field{"RemoteIPRanges", []string{"127.0.0.2"}})
				if err != nil {
					return err
				}
				return o.Set("TransportRole", FrontendTransport)
			},
			diff: `
+
+  - Name: Relay EX01
+    Server: EX01
+    TransportRole: FrontendTransport
+    Bindings: ["0.0.0.0:2526"]
+    RemoteIPRanges: ["127.0.0.2"]`,
		},
	})
}

func TestEditCommented(t *testing.T) {
	file := filepath.Join("testdata", "edit", "commented.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	runEditCases(t, file, src, []editCase{
		{
			name: "a single-quoted TimeSpan stays single-quoted, its comment in its column",
			edit: func(t *testing.T, d *Document) error {
				return d.Set([]string{"Servers", "EX02", "MessageRetryInterval"}, "00:00:30")
			},
			diff: `
-    MessageRetryInterval: '00:01:00'   # lab: retry fast
+    MessageRetryInterval: '00:00:30'   # lab: retry fast`,
		},
		{
			name: "a block list stays a block list; unchanged items keep their lines and comments",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Default Frontend EX02").Set("Bindings", []string{"0.0.0.0:25", "[::]:25"})
			},
			diff: `
+      - "[::]:25"`,
			check: func(t *testing.T, o *Organization) {
				if got := rc(t, o, "Default Frontend EX02").Bindings; len(got) != 2 || got[1].String() != "[::]:25" {
					t.Errorf("Bindings = %v", got)
				}
			},
		},
		{
			name: "an item removed from a block list",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "ReceiveConnectors", "Default EX02").Set("Bindings", []string{"[::]:2525"})
			},
			diff: `
-      - "0.0.0.0:2525"`,
			check: func(t *testing.T, o *Organization) {
				if got := rc(t, o, "Default EX02").Bindings; len(got) != 1 || got[0].String() != "[::]:2525" {
					t.Errorf("Bindings = %v", got)
				}
			},
		},
		{
			name: "an accepted domain found by its DomainName",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "AcceptedDomains", "FABRIKAM.test").Set("DomainType", InternalRelay)
			},
			diff: `
-    DomainType: Authoritative
+    DomainType: InternalRelay`,
		},
		{
			name: "a double-quoted value stays double-quoted",
			edit: func(t *testing.T, d *Document) error {
				return find(t, d, "Mailboxes", "admin").Set("Password", "N3w")
			},
			diff: `
-    Password: "P@ssw0rd"
+    Password: "N3w"`,
		},
		{
			name: "a new block list in a file that writes Bindings as blocks",
			edit: func(t *testing.T, d *Document) error {
				_, err := d.Add("ReceiveConnectors", Field{"Name", "Relay EX02"}, Field{"Server", "EX02"}, Field{"TransportRole", "FrontendTransport"},
					Field{"Bindings", []string{"0.0.0.0:2526"}}, Field{"RemoteIPRanges", []string{"127.0.0.2", "127.0.0.3"}})
				return err
			},
			diff: `
+
+  - Name: Relay EX02
+    Server: EX02
+    TransportRole: FrontendTransport
+    Bindings:
+      - "0.0.0.0:2526"
+    RemoteIPRanges: [127.0.0.2, 127.0.0.3]`,
		},
		{
			name: "removing the first object keeps the comment of the next and the head of the list",
			edit: func(t *testing.T, d *Document) error {
				if !d.Remove("ReceiveConnectors", "Default Frontend EX02") {
					t.Error("Remove found nothing")
				}
				return nil
			},
			diff: `
-  # Internet mail.
-  - Name: Default Frontend EX02
-    Server: EX02
-    TransportRole: FrontendTransport
-    Bindings:
-      - "0.0.0.0:25"   # IPv4 only in this lab
-    PermissionGroups: [AnonymousUsers, ExchangeServers]
-    MaxMessageSize: 10 MB
-`,
		},
		{
			name: "a new send connector list goes before the file's closing comment",
			edit: func(t *testing.T, d *Document) error {
				_, err := d.Add("SendConnectors", Field{"Name", "Smart host"}, Field{"AddressSpaces", []string{"SMTP:*;1"}},
					Field{"DNSRoutingEnabled", false}, Field{"SmartHosts", []string{"[127.0.0.1]:2626"}})
				return err
			},
			diff: `
+
+SendConnectors:
+  - Name: Smart host
+    AddressSpaces: [SMTP:*;1]
+    DNSRoutingEnabled: false
+    SmartHosts: ["[127.0.0.1]:2626"]`,
		},
		{
			name: "removing a nested value removes its emptied parent",
			edit: func(t *testing.T, d *Document) error {
				if err := d.Set([]string{"Servers", "EX02", "BackPressure", "QueueLength", "LowToMedium"}, 100); err != nil {
					return err
				}
				if err := d.Set([]string{"Servers", "EX02", "BackPressure", "QueueLength", "MediumToLow"}, 50); err != nil {
					return err
				}
				if v, ok := d.Get([]string{"Servers", "EX02", "BackPressure", "QueueLength", "LowToMedium"}); !ok || v != "100" {
					t.Errorf("Get = %v, %v", v, ok)
				}
				if err := d.Set([]string{"Servers", "EX02", "BackPressure", "QueueLength", "LowToMedium"}, nil); err != nil {
					return err
				}
				return d.Set([]string{"Servers", "EX02", "BackPressure", "QueueLength", "MediumToLow"}, nil)
			},
			diff: ``,
		},
	})
}
