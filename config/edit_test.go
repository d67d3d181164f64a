package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
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
			name: "Bindings as the other connectors write them; a list none has as this object's first list",
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
+    RemoteIPRanges:
+      - 127.0.0.2
+      - 127.0.0.3`,
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

// writeOrg writes src as an organization file (and an old .bak) in a new directory, both
// with an mtime in the past so that a rewrite shows.
func writeOrg(t *testing.T, src []byte) (path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "exlab.yaml")
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, f := range []struct {
		name string
		data []byte
	}{{path, src}, {path + ".bak", []byte("# the backup of an earlier edit\n")}} {
		if err := os.WriteFile(f.name, f.data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f.name, past, past); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

type fileState struct {
	data  []byte
	mtime time.Time
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{b, fi.ModTime()}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// A change that fails validation changes nothing: neither the file nor its .bak (bytes and
// mtime), and Parse's Problems come back naming the file and the field.
func TestEditFileInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(d *Document) error
		field string // the Problem's Field
		msg   string // in its Message
	}{
		{
			name: "a bad value",
			edit: func(d *Document) error {
				return d.Find("ReceiveConnectors", "Default EX01").Set("MaxMessageSize", "lots")
			},
			field: "ReceiveConnectors[3].MaxMessageSize",
			msg:   `"lots" is not a size`,
		},
		{
			name:  "a value out of range",
			edit:  func(d *Document) error { return d.Find("ReceiveConnectors", "Default EX01").Set("MaxHopCount", 501) },
			field: "ReceiveConnectors[3].MaxHopCount",
			msg:   "501 is outside the range 1-500",
		},
		{
			name: "a binding conflict between roles (the seed: New-ReceiveConnector on 25 without -TransportRole FrontendTransport)",
			edit: func(d *Document) error {
				_, err := d.Add("ReceiveConnectors", Field{"Name", "Relay EX01"}, Field{"Server", "EX01"}, Field{"TransportRole", HubTransport},
					Field{"Bindings", []string{"0.0.0.0:25"}}, Field{"RemoteIPRanges", []string{"127.0.0.2"}})
				return err
			},
			field: "ReceiveConnectors[5].Bindings",
			msg:   "ReceiveConnectorRoleConflictException",
		},
		{
			name: "a binding conflict within a role",
			edit: func(d *Document) error {
				_, err := d.Add("ReceiveConnectors", Field{"Name", "Second Frontend EX01"}, Field{"Server", "EX01"}, Field{"TransportRole", FrontendTransport},
					Field{"Bindings", []string{"0.0.0.0:25"}})
				return err
			},
			field: "ReceiveConnectors[5].Bindings",
			msg:   "A Receive connector must have a unique combination of a local IP address & port bindings and remote IP address ranges.",
		},
		{
			name: "a duplicate Name by renaming",
			edit: func(d *Document) error {
				return d.Find("ReceiveConnectors", "Client Proxy EX01").Set("Name", "Default EX01")
			},
			field: "ReceiveConnectors[4].Name",
			msg:   `a receive connector named "Default EX01" already exists on server EX01`,
		},
		{
			name: "a duplicate accepted domain",
			edit: func(d *Document) error {
				_, err := d.Add("AcceptedDomains", Field{"DomainName", "CONTOSO.test"})
				return err
			},
			field: "AcceptedDomains[1].DomainName",
			msg:   "already defined",
		},
		{
			name:  "removing what validation needs",
			edit:  func(d *Document) error { d.Remove("AcceptedDomains", "contoso.test"); return nil },
			field: "AcceptedDomains",
			msg:   "at least one accepted domain is needed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeOrg(t, DefaultYAML)
			before, beforeBak := stateOf(t, path), stateOf(t, path+".bak")
			names := dirNames(t, filepath.Dir(path))
			o, err := EditFile(path, tc.edit)
			if o != nil || err == nil {
				t.Fatalf("EditFile = %v, %v; want Problems", o, err)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T %v is not Problems", err, err)
			}
			found := false
			for _, p := range ps {
				if p.File == path && p.Field == tc.field && strings.Contains(p.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem %s: %s … %s in\n%v", path, tc.field, tc.msg, err)
			}
			if after := stateOf(t, path); !reflect.DeepEqual(after, before) {
				t.Errorf("the file changed:\n%s", after.data)
			}
			if after := stateOf(t, path+".bak"); !reflect.DeepEqual(after, beforeBak) {
				t.Errorf("the .bak changed:\n%s", after.data)
			}
			if got := dirNames(t, filepath.Dir(path)); !reflect.DeepEqual(got, names) {
				t.Errorf("directory holds %v, was %v", got, names)
			}
		})
	}
}

// An edit that EditFile cannot even make (an unknown parameter, a missing object) changes
// nothing either, and names the parameter.
func TestEditFileRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(d *Document) error
		want string
	}{
		{"unknown parameter", func(d *Document) error { return d.Find("ReceiveConnectors", "Default EX01").Set("MaxMessageSise", 1) },
			"MaxMessageSise: unknown parameter of ReceiveConnector (did you mean MaxMessageSize?)"},
		{"unknown nested parameter", func(d *Document) error { return d.Set([]string{"Servers", "EX01", "BackPressure", "Enabeld"}, true) },
			"Enabeld: unknown parameter of BackPressure (did you mean Enabled?)"},
		{"unknown object", func(d *Document) error { return d.Set([]string{"ReceiveConnectors", "Nope", "Enabled"}, true) },
			`ReceiveConnectors: there is no object named "Nope"`},
		{"unknown list", func(d *Document) error { _, err := d.Add("Connectors", Field{"Name", "x"}); return err },
			`"Connectors" is not a list of objects`},
		{"unknown parameter in Add", func(d *Document) error {
			_, err := d.Add("Mailboxes", Field{"Name", "x"}, Field{"Passwort", "y"})
			return err
		}, "Passwort: unknown parameter of Mailbox (did you mean Password?)"},
		{"a value that cannot be written", func(d *Document) error {
			return d.Find("Mailboxes", "User One").Set("Password", struct{ X int }{1})
		}, "Password: cannot write a struct"},
		{"a parameter that is an object", func(d *Document) error { return d.Set([]string{"Servers", "EX01", "BackPressure"}, true) },
			"BackPressure: is an object; set its parameters one by one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeOrg(t, DefaultYAML)
			before := stateOf(t, path)
			_, err := EditFile(path, tc.edit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("EditFile error %v; want %q", err, tc.want)
			}
			if after := stateOf(t, path); !reflect.DeepEqual(after, before) {
				t.Errorf("the file changed")
			}
		})
	}
}

// A failed edit inside a Document is all or nothing: the text is as before it.
func TestDocumentEditAllOrNothing(t *testing.T) {
	d, err := ParseDocument(DefaultFileName, DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add("ReceiveConnectors", Field{"Name", "x"}, Field{"Server", "EX01"}, Field{"Bogus", 1}); err == nil {
		t.Fatal("Add with an unknown parameter succeeded")
	}
	if d.Changed() {
		t.Errorf("the document changed:\n%s", lineDiff(string(DefaultYAML), d.text()))
	}
	if d.Find("ReceiveConnectors", "x") != nil {
		t.Error("the half-added connector is there")
	}
}

func TestEditFileWrites(t *testing.T) {
	path := writeOrg(t, DefaultYAML)
	o, err := EditFile(path, func(d *Document) error {
		return d.Find("ReceiveConnectors", "Default Frontend EX01").Set("MaxMessageSize", "50 MB")
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rc(t, o, "Default Frontend EX01").MaxMessageSize; got != 50<<20 {
		t.Errorf("returned MaxMessageSize = %d", got)
	}
	if o.File != path {
		t.Errorf("File = %q", o.File)
	}
	now := stateOf(t, path)
	if !strings.Contains(string(now.data), "    MaxMessageSize: 50 MB\n") || len(now.data) != len(DefaultYAML)-len("36 MB (37,748,736 bytes)")+len("50 MB") {
		t.Errorf("the file holds:\n%s", now.data)
	}
	if bak := stateOf(t, path+".bak"); string(bak.data) != string(DefaultYAML) {
		t.Errorf(".bak holds:\n%s", bak.data)
	}
	if got := dirNames(t, filepath.Dir(path)); !reflect.DeepEqual(got, []string{"exlab.yaml", "exlab.yaml.bak"}) {
		t.Errorf("directory holds %v: a temporary file was left behind", got)
	}
	for _, p := range []string{path, path + ".bak"} {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s has mode %v, want the file's 0640", p, fi.Mode().Perm())
		}
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutLines(loaded), withoutLines(o)) {
		t.Error("Load of the written file differs from what EditFile returned")
	}

	// A second edit: the .bak holds the first edit's result.
	first := now
	if _, err := EditFile(path, func(d *Document) error { return d.Set([]string{"Organization", "Name"}, "Lab 2") }); err != nil {
		t.Fatal(err)
	}
	if bak := stateOf(t, path+".bak"); string(bak.data) != string(first.data) {
		t.Errorf(".bak does not hold the previous content:\n%s", bak.data)
	}

	// An edit that changes nothing writes nothing.
	before, beforeBak := stateOf(t, path), stateOf(t, path+".bak")
	if _, err := EditFile(path, func(d *Document) error { return d.Set([]string{"Organization", "Name"}, "Lab 2") }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stateOf(t, path), before) || !reflect.DeepEqual(stateOf(t, path+".bak"), beforeBak) {
		t.Error("an edit without change rewrote the file")
	}
}

// Concurrent EditFile calls run one after the other: each sees the one before, none is lost.
func TestEditFileConcurrent(t *testing.T) {
	path := writeOrg(t, DefaultYAML)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := EditFile(path, func(d *Document) error {
				_, err := d.Add("Mailboxes", Field{"Name", fmt.Sprintf("User %d", i+10)},
					Field{"PrimarySmtpAddress", fmt.Sprintf("user%d@contoso.test", i+10)}, Field{"Password", "P@ssw0rd"})
				return err
			})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			// A read-modify-write of one value: lost updates would show as a count below n.
			_, err := EditFile(path, func(d *Document) error {
				c := d.Find("ReceiveConnectors", "Default EX01")
				v, _ := c.Get("MaxRecipientsPerMessage")
				var cur int
				fmt.Sscan(v.(string), &cur)
				return c.Set("MaxRecipientsPerMessage", cur+1)
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	o, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Mailboxes) != 2+n {
		t.Errorf("%d mailboxes, want %d", len(o.Mailboxes), 2+n)
	}
	if got := rc(t, o, "Default EX01").MaxRecipientsPerMessage; got != 5000+n {
		t.Errorf("MaxRecipientsPerMessage = %d, want %d", got, 5000+n)
	}
	if got := dirNames(t, filepath.Dir(path)); !reflect.DeepEqual(got, []string{"exlab.yaml", "exlab.yaml.bak"}) {
		t.Errorf("directory holds %v", got)
	}
}

// Values are written as Exchange prints them, and quoted only where YAML needs it.
func TestEditValues(t *testing.T) {
	for _, tc := range []struct {
		param string
		value any
		line  string
	}{
		{"MaxMessageSize", ByteSize(10 << 20), "MaxMessageSize: 10 MB (10,485,760 bytes)"},
		{"MaxMessageSize", int64(100000), "MaxMessageSize: 97.656 KB (100,000 bytes)"},
		{"MaxMessageSize", "25MB", "MaxMessageSize: 25MB"},
		{"MaxHeaderSize", uint64(1 << 20), "MaxHeaderSize: 1 MB (1,048,576 bytes)"},
		{"ConnectionTimeout", TimeSpan(90 * time.Minute), `ConnectionTimeout: "01:30:00"`},
		{"ConnectionTimeout", 36 * time.Hour, `ConnectionTimeout: "1.12:00:00"`},
		{"MaxInboundConnection", Unlimited, "MaxInboundConnection: Unlimited"},
		{"MaxInboundConnection", N(100), "MaxInboundConnection: 100"},
		{"MaxRecipientsPerMessage", 300, "MaxRecipientsPerMessage: 300"},
		{"RequireTLS", true, "RequireTLS: true"},
		{"Banner", "220 relay.contoso.test ready", "Banner: 220 relay.contoso.test ready"},
		{"Comment", "true", `Comment: "true"`},
		{"Comment", "null", `Comment: "null"`},
		{"Comment", "", `Comment: ""`},
		{"Comment", "a: b # c", `Comment: "a: b # c"`},
		{"Comment", `say "hi"\now`, `Comment: say "hi"\now`},
		{"Comment", "tab\there", `Comment: "tab\there"`},
		{"Comment", "@home", `Comment: "@home"`},
		{"Comment", "Relais für Geräte", "Comment: Relais für Geräte"},
		{"Fqdn", "relay.contoso.test", "Fqdn: relay.contoso.test"},
		{"SizeEnabled", SizeEnabledWithoutValue, "SizeEnabled: EnabledWithoutValue"},
		{"RemoteIPRanges", []IPRange{AllRemoteIPRanges()[1]}, "RemoteIPRanges: [0.0.0.0-255.255.255.255]"},
		{"RemoteIPRanges", []string{}, "RemoteIPRanges: []"},
		{"AuthMechanism", AuthTls, "AuthMechanism: [Tls]"},
		{"PermissionGroups", []any{"AnonymousUsers", PermissionGroup("Partners")}, "PermissionGroups: [AnonymousUsers, Partners]"},
	} {
		t.Run(fmt.Sprintf("%s=%v", tc.param, tc.value), func(t *testing.T) {
			d, err := ParseDocument("t.yaml", []byte("ReceiveConnectors:\n  - Name: A\n"))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Find("ReceiveConnectors", "A").Set(tc.param, tc.value); err != nil {
				t.Fatal(err)
			}
			want := "ReceiveConnectors:\n  - Name: A\n    " + tc.line + "\n"
			if got := d.text(); got != want {
				t.Errorf("got\n%swant\n%s", got, want)
			}
			got, ok := d.Find("ReceiveConnectors", "A").Get(tc.param)
			if !ok {
				t.Fatal("Get finds nothing")
			}
			// What Get reads back is what was meant.
			var text string
			switch g := got.(type) {
			case string:
				text = g
			case []string:
				text = "[" + strings.Join(g, ", ") + "]"
			}
			if s, isStr := tc.value.(string); isStr && text != s {
				t.Errorf("Get = %q, want %q", text, s)
			}
		})
	}
}

func TestDocumentObjects(t *testing.T) {
	d, err := ParseDocument(DefaultFileName, DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	objs := d.Objects("receiveConnectors")
	if len(objs) != 5 || objs[4].Name() != "Client Proxy EX01" || objs[0].Kind() != "ReceiveConnectors" {
		t.Fatalf("Objects = %d", len(objs))
	}
	if d.Find("Mailboxes", "USER ONE") == nil || d.Find("Mailboxes", "nobody") != nil || d.Find("NoSuchKind", "x") != nil {
		t.Error("Find")
	}
	// Handles follow removals: the one removed fails, the later ones shift.
	proxy, client := objs[4], objs[1]
	if err := d.RemoveObject(client); err != nil {
		t.Fatal(err)
	}
	if err := client.Set("Enabled", false); err == nil {
		t.Error("Set on a removed object succeeded")
	}
	if proxy.Name() != "Client Proxy EX01" {
		t.Errorf("handle after removal names %q", proxy.Name())
	}
	if err := proxy.Set("Enabled", false); err != nil {
		t.Fatal(err)
	}
	if v, ok := proxy.Get("enabled"); !ok || v != "false" {
		t.Errorf("Get = %v, %v", v, ok)
	}
	if _, ok := proxy.Get("Comment"); ok {
		t.Error("Get of a parameter the file omits says ok")
	}
	if d.Remove("ReceiveConnectors", "Client Frontend EX01") {
		t.Error("Remove of a removed connector says true")
	}
	// The last object of a list leaves an empty flow list.
	for _, o := range d.Objects("Mailboxes") {
		if err := d.RemoveObject(o); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(d.text(), "\nMailboxes: []\n\nReceiveConnectors:\n") {
		t.Errorf("no empty Mailboxes list:\n%s", d.text())
	}
	if v, ok := d.Get([]string{"Mailboxes"}); !ok || len(v.([]string)) != 0 {
		t.Errorf("Get(Mailboxes) = %v, %v", v, ok)
	}
}

func TestDocumentLineEndings(t *testing.T) {
	src := "Organization:\r\n  Name: Lab  # the name\r\nServers:\r\n  - Name: EX01\r\n    Fqdn: ex01.contoso.test"
	d, err := ParseDocument("crlf.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]string{"Organization", "Name"}, "Lab Two"); err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]string{"Servers", "EX01", "Version"}, Version2016); err != nil {
		t.Fatal(err)
	}
	got, _ := d.Bytes()
	want := "Organization:\r\n  Name: Lab Two  # the name\r\nServers:\r\n  - Name: EX01\r\n    Fqdn: ex01.contoso.test\r\n    Version: 2016\r\n"
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// A file that mixes CR LF and LF keeps each line's ending.
func TestDocumentMixedLineEndings(t *testing.T) {
	src := "Organization:\r\n  Name: Lab\r\nServers:\n  - Name: EX01\n"
	d, err := ParseDocument("mixed.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]string{"Servers", "EX01", "Fqdn"}, "ex01.contoso.test"); err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]string{"Organization", "Name"}, "Lab 2"); err != nil {
		t.Fatal(err)
	}
	want := "Organization:\r\n  Name: Lab 2\r\nServers:\n  - Name: EX01\n    Fqdn: ex01.contoso.test\n"
	if got := d.text(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// A file that is not YAML, or not a mapping, is refused with the line.
func TestParseDocumentErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"Servers: [\n", "x.yaml:"},
		{"- a\n- b\n", "x.yaml:1: (file): the file must be a block mapping"},
	} {
		_, err := ParseDocument("x.yaml", []byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q…", tc.src, err, tc.want)
		}
	}
	// An empty file can be filled.
	d, err := ParseDocument("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add("Servers", Field{"Name", "EX01"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]string{"Organization", "Name"}, "Lab"); err != nil {
		t.Fatal(err)
	}
	if got := d.text(); got != "Organization:\n  Name: Lab\n\nServers:\n  - Name: EX01\n" {
		t.Errorf("got %q", got)
	}
}

// The shapes YAML allows, each edited in place: small files, whole expected output.
func TestDocumentShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		edit func(d *Document) error
		want string // "" with err: the error's text
		err  string
	}{
		{
			name: "null value filled",
			src:  "Servers:\n  - Name: EX01\n    Fqdn:   # to do\n",
			edit: func(d *Document) error { return d.Set([]string{"Servers", "EX01", "Fqdn"}, "ex01.contoso.test") },
			want: "Servers:\n  - Name: EX01\n    Fqdn: ex01.contoso.test   # to do\n",
		},
		{
			name: "null mapping filled",
			src:  "Servers:\n  - Name: EX01\n    BackPressure:\n",
			edit: func(d *Document) error { return d.Set([]string{"Servers", "EX01", "BackPressure", "Enabled"}, false) },
			want: "Servers:\n  - Name: EX01\n    BackPressure:\n      Enabled: false\n",
		},
		{
			name: "empty flow mapping filled",
			src:  "Servers:\n  - Name: EX01\n    BackPressure: {}  # none\n",
			edit: func(d *Document) error { return d.Set([]string{"Servers", "EX01", "BackPressure", "Enabled"}, false) },
			want: "Servers:\n  - Name: EX01\n    BackPressure: # none\n      Enabled: false\n",
		},
		{
			name: "a flow mapping is refused",
			src:  "Servers:\n  - Name: EX01\n    BackPressure: {Enabled: true}\n",
			edit: func(d *Document) error { return d.Set([]string{"Servers", "EX01", "BackPressure", "Enabled"}, false) },
			err:  "BackPressure: is written as a flow mapping {…}; write it as a block to edit it",
		},
		{
			name: "a flow list of objects is refused",
			src:  "Mailboxes: [{Name: a, PrimarySmtpAddress: a@contoso.test}]\n",
			edit: func(d *Document) error { _, err := d.Add("Mailboxes", Field{"Name", "b"}); return err },
			err:  "Mailboxes: the list at line 1 is written in flow style",
		},
		{
			name: "the first key of an item removed: the next moves onto the dash",
			src:  "Faults:\n  - Name: f1\n    Step: Connect\n    Action: Disconnect\n",
			edit: func(d *Document) error { return d.Find("Faults", "f1").Set("Name", nil) },
			want: "Faults:\n  - Step: Connect\n    Action: Disconnect\n",
		},
		{
			name: "a key before all others in table order goes first, not onto the dash line",
			src:  "TransportConfig:\n  TLSReceiveDomainSecureList: [fabrikam.test]\nServerComponentState:\n  HubTransport: Active\n",
			edit: func(d *Document) error { return d.Set([]string{"Organization", "Name"}, "Lab") },
			want: "Organization:\n  Name: Lab\nTransportConfig:\n  TLSReceiveDomainSecureList: [fabrikam.test]\nServerComponentState:\n  HubTransport: Active\n",
		},
		{
			name: "a scalar list becomes a flow list",
			src:  "ReceiveConnectors:\n  - Name: A\n    AuthMechanism: Tls, Integrated   # two\n",
			edit: func(d *Document) error { return d.Find("ReceiveConnectors", "A").Set("AuthMechanism", []string{"Tls"}) },
			want: "ReceiveConnectors:\n  - Name: A\n    AuthMechanism: [Tls]             # two\n",
		},
		{
			name: "a multi-line flow list rewritten on one line",
			src:  "ReceiveConnectors:\n  - Name: A\n    Bindings: [\"0.0.0.0:25\",\n      \"[::]:25\"]  # both\n    Enabled: true\n",
			edit: func(d *Document) error {
				return d.Find("ReceiveConnectors", "A").Set("Bindings", []string{"0.0.0.0:2525"})
			},
			want: "ReceiveConnectors:\n  - Name: A\n    Bindings: [\"0.0.0.0:2525\"] # both\n    Enabled: true\n",
		},
		{
			name: "a block list replaced by a scalar's flow form when emptied",
			src:  "ReceiveConnectors:\n  - Name: A\n    RemoteIPRanges:   # who\n      - 10.0.0.1\n      - 10.0.0.2\n    Enabled: true\n",
			edit: func(d *Document) error { return d.Find("ReceiveConnectors", "A").Set("RemoteIPRanges", []string{}) },
			want: "ReceiveConnectors:\n  - Name: A\n    RemoteIPRanges: [] # who\n    Enabled: true\n",
		},
		{
			name: "a block scalar replaced",
			src:  "ReceiveConnectors:\n  - Name: A\n    Comment: |\n      line one\n      line two\n    Enabled: true\n",
			edit: func(d *Document) error { return d.Find("ReceiveConnectors", "A").Set("Comment", "one line") },
			want: "ReceiveConnectors:\n  - Name: A\n    Comment: one line\n    Enabled: true\n",
		},
		{
			name: "a quoted key and a value with a colon",
			src:  "ReceiveConnectors:\n  - \"Name\": 'A'\n    \"Banner\": \"220 a: b\"\n",
			edit: func(d *Document) error { return d.Find("ReceiveConnectors", "A").Set("Banner", "220 c") },
			want: "ReceiveConnectors:\n  - \"Name\": 'A'\n    \"Banner\": \"220 c\"\n",
		},
		{
			name: "keys in another case are found and kept",
			src:  "receiveconnectors:\n  - name: A\n    maxmessagesize: 10MB\n",
			edit: func(d *Document) error { return d.Find("ReceiveConnectors", "a").Set("MaxMessageSize", "20MB") },
			want: "receiveconnectors:\n  - name: A\n    maxmessagesize: 20MB\n",
		},
		{
			name: "deeper indentation is followed",
			src:  "Mailboxes:\n    -   Name: a\n        PrimarySmtpAddress: a@contoso.test\n",
			edit: func(d *Document) error {
				_, err := d.Add("Mailboxes", Field{"Name", "b"}, Field{"Password", "x"})
				return err
			},
			want: "Mailboxes:\n    -   Name: a\n        PrimarySmtpAddress: a@contoso.test\n    -   Name: b\n        Password: x\n",
		},
		{
			name: "non-ASCII before a value",
			src:  "Mailboxes:\n  - Name: Jürgen\n    Password: alt   # ändern\n",
			edit: func(d *Document) error { return d.Find("Mailboxes", "jürgen").Set("Password", "neu") },
			want: "Mailboxes:\n  - Name: Jürgen\n    Password: neu   # ändern\n",
		},
		{
			name: "the only object removed leaves []",
			src:  "Mailboxes:   # lab users\n  - Name: a\n    Password: x\nServers: []\n",
			edit: func(d *Document) error {
				if !d.Remove("Mailboxes", "a") {
					return errors.New("not found")
				}
				return nil
			},
			want: "Mailboxes: [] # lab users\nServers: []\n",
		},
		{
			name: "a quote inside a plain scalar of a flow list",
			src:  "Mailboxes:\n  - Name: ob\n    EmailAddresses: [o'brien@contoso.test, \"x]@contoso.test\"]  # two\n",
			edit: func(d *Document) error {
				return d.Find("Mailboxes", "ob").Set("EmailAddresses", []string{"o'brien@contoso.test"})
			},
			want: "Mailboxes:\n  - Name: ob\n    EmailAddresses: [o'brien@contoso.test]                     # two\n",
		},
		{
			name: "a comment less indented after an object is not the object's",
			src:  "ReceiveConnectors:\n  - Name: A\n    Enabled: true\n# - Name: B (to do)\n\nServers: []\n",
			edit: func(d *Document) error { return d.Find("ReceiveConnectors", "A").Set("Comment", "first") },
			want: "ReceiveConnectors:\n  - Name: A\n    Enabled: true\n    Comment: first\n# - Name: B (to do)\n\nServers: []\n",
		},
		{
			name: "a certificate found by FriendlyName",
			src:  "Certificates:\n  - FriendlyName: lab\n    CertificateFile: a.pem\n",
			edit: func(d *Document) error { return d.Find("Certificates", "LAB").Set("Services", []string{"SMTP", "IIS"}) },
			want: "Certificates:\n  - FriendlyName: lab\n    CertificateFile: a.pem\n    Services: [SMTP, IIS]\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDocument("s.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			err = tc.edit(d)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if d.Changed() {
					t.Errorf("a refused edit changed the text:\n%s", d.text())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.text(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestEditFileSymlink(t *testing.T) {
	path := writeOrg(t, DefaultYAML)
	link := filepath.Join(t.TempDir(), "org.yaml")
	if err := os.Symlink(path, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if _, err := EditFile(link, func(d *Document) error { return d.Set([]string{"Organization", "Name"}, "Linked") }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if b := stateOf(t, path); !strings.Contains(string(b.data), "Name: Linked") {
		t.Errorf("the target was not edited:\n%s", b.data)
	}
	if b := stateOf(t, path+".bak"); string(b.data) != string(DefaultYAML) {
		t.Error("no .bak beside the target")
	}
}

// Receive connectors are found by Identity too, as Exchange takes EX01\Relay for -Identity.
func TestDocumentFindIdentity(t *testing.T) {
	src := "Servers:\n  - Name: EX01\n  - Name: EX02\nReceiveConnectors:\n  - Name: Relay\n    Server: EX01\n  - Name: Relay\n    Server: ex02\n"
	d, err := ParseDocument("id.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.FindAll("ReceiveConnectors", "relay")); got != 2 {
		t.Errorf("FindAll(relay) = %d, want 2", got)
	}
	o := d.Find("ReceiveConnectors", `EX02\Relay`)
	if o == nil || o.Index() != 1 || o.Identity() != `ex02\Relay` {
		t.Fatalf("Find(EX02\\Relay) = %+v", o)
	}
	one, err := ParseDocument("one.yaml", []byte("Servers:\n  - Name: EX01\nReceiveConnectors:\n  - Name: Relay\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o := one.Find("ReceiveConnectors", `ex01\relay`); o == nil || o.Identity() != `EX01\Relay` {
		t.Errorf("a connector without Server is on the only server: %+v", o)
	}
}

// Every parameter with a default can be written with its default's spelling, and Parse reads
// back the default: the renderer and the decoder agree on every type of the tables.
func TestEditEveryDefault(t *testing.T) {
	lists := map[string]string{"ReceiveConnector": "ReceiveConnectors", "Server": "Servers", "SendConnector": "SendConnectors",
		"AcceptedDomain": "AcceptedDomains", "Mailbox": "Mailboxes", "BackPressure": "Servers", "Fault": "Faults", "DkimSigningConfig": "SendConnectors"}
	prefix := map[string]string{"BackPressure": "BackPressure.", "DkimSigningConfig": "DkimSigning."}
	base, _, err := EditBytes(DefaultFileName, DefaultYAML, func(d *Document) error {
		// A new object of each kind, with what validation needs and nothing else: every
		// other parameter has its default, so writing the default must change nothing.
		for _, add := range []struct {
			kind   string
			fields []Field
		}{
			{"SendConnectors", []Field{{"Name", "Internet"}, {"AddressSpaces", "SMTP:*;1"}}},
			{"Faults", []Field{{"Name", "f"}, {"Step", StepConnect}, {"Action", FaultDisconnect}}},
			{"Servers", []Field{{"Name", "EX02"}, {"Fqdn", "ex02.contoso.test"}}},
			{"AcceptedDomains", []Field{{"DomainName", "fabrikam.test"}}},
			{"ReceiveConnectors", []Field{{"Name", "Test EX02"}, {"Server", "EX02"}, {"TransportRole", HubTransport}, {"Bindings", "0.0.0.0:2599"}}},
		} {
			if _, err := d.Add(add.kind, add.fields...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(DefaultFileName, base)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, obj := range Objects() {
		kind, ok := lists[obj.Name]
		if !ok {
			continue
		}
		for _, p := range obj.Params {
			if p.Default == "" {
				continue
			}
			param := prefix[obj.Name] + p.Name
			n++
			t.Run(obj.Name+"."+p.Name, func(t *testing.T) {
				out, o, err := EditBytes(DefaultFileName, base, func(d *Document) error {
					objs := d.Objects(kind)
					return objs[len(objs)-1].Set(param, p.Default)
				})
				if err != nil {
					t.Fatalf("Set(%s, %q): %v", param, p.Default, err)
				}
				if lineDiff(string(base), string(out)) == "" {
					t.Fatalf("nothing written")
				}
				if !reflect.DeepEqual(withoutLines(o), withoutLines(want)) {
					t.Errorf("Set(%s, %q) changed the organization:\n%s", param, p.Default, lineDiff(string(base), string(out)))
				}
			})
		}
	}
	if n < 80 {
		t.Errorf("only %d parameters with defaults", n)
	}
}

// WriteFile: a server on the embedded default gets a file of its own, and a later write
// keeps the previous content in the .bak.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "exlab.yaml")
	out, _, err := EditBytes(DefaultFileName, DefaultYAML, func(d *Document) error {
		return d.Set([]string{"ServerComponentState", "HubTransport"}, ComponentInactive)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, out); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); !reflect.DeepEqual(got, []string{"exlab.yaml"}) {
		t.Errorf("directory holds %v; a new file has no .bak", got)
	}
	if err := WriteFile(path, DefaultYAML); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(t, path); string(got.data) != string(DefaultYAML) {
		t.Error("WriteFile did not write")
	}
	if got := stateOf(t, path+".bak"); string(got.data) != string(out) {
		t.Error(".bak does not hold the previous content")
	}
	if got := dirNames(t, dir); !reflect.DeepEqual(got, []string{"exlab.yaml", "exlab.yaml.bak"}) {
		t.Errorf("directory holds %v", got)
	}
}

// The seed scenario of issue 16 as the cmdlets write it: New-ReceiveConnector without
// -TransportRole FrontendTransport on port 25 of a multi-role server is refused in the
// default BindingConflictMode, and written once the role is the frontend's.
func ExampleEditBytes() {
	newRelay := func(role TransportRole) func(d *Document) error {
		return func(d *Document) error {
			_, err := d.Add("ReceiveConnectors", Field{"Name", "Relay EX01"}, Field{"Server", "EX01"},
				Field{"TransportRole", role}, Field{"Bindings", []string{"0.0.0.0:25"}}, Field{"RemoteIPRanges", []string{"127.0.0.2"}})
			return err
		}
	}
	_, _, err := EditBytes(DefaultFileName, DefaultYAML, newRelay(HubTransport))
	fmt.Println(strings.Contains(err.Error(), "ReceiveConnectorRoleConflictException"))

	out, o, err := EditBytes(DefaultFileName, DefaultYAML, newRelay(FrontendTransport))
	if err != nil {
		panic(err)
	}
	fmt.Println(lineDiff(string(DefaultYAML), string(out)))
	fmt.Println(len(o.ReceiveConnectors), o.ReceiveConnectors[5].Identity())
	// Output:
	// true
	// +
	// +  - Name: Relay EX01
	// +    Server: EX01
	// +    TransportRole: FrontendTransport
	// +    Bindings: ["0.0.0.0:25"]
	// +    RemoteIPRanges: ["127.0.0.2"]
	// 6 EX01\Relay EX01
}
