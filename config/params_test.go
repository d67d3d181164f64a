package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParamTables: every parameter of every object has one row, every row names a parameter,
// and every default parses, is spelled as Exchange prints it and lies within its own range.
func TestParamTables(t *testing.T) {
	for _, obj := range Objects() {
		rows := map[string]bool{}
		for _, p := range obj.Params {
			if rows[p.Name] {
				t.Errorf("%s.%s: two rows", obj.Name, p.Name)
			}
			rows[p.Name] = true
		}
		for i := 0; i < obj.typ.NumField(); i++ {
			f := obj.typ.Field(i)
			if !f.IsExported() || f.Tag.Get("exlab") == "-" {
				continue
			}
			covered := rows[f.Name]
			for r := range rows {
				covered = covered || strings.HasPrefix(r, f.Name+".")
			}
			if !covered {
				t.Errorf("%s.%s has no row in the parameter table", obj.Name, f.Name)
			}
		}
		v := reflect.New(obj.typ).Elem()
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", obj.Name, r)
				}
			}()
			obj.applyDefaults(v)
		}()
		var withDefault []Param
		for _, p := range obj.Params {
			if p.Default == "" {
				continue
			}
			withDefault = append(withDefault, p)
			switch x := field(v, p.Name).Interface().(type) {
			case ByteSize:
				if x.String() != p.Default {
					t.Errorf("%s.%s: default %q is printed %q", obj.Name, p.Name, p.Default, x)
				}
			case TimeSpan:
				if x.String() != p.Default {
					t.Errorf("%s.%s: default %q is printed %q", obj.Name, p.Name, p.Default, x)
				}
			}
		}
		d := &decoder{}
		Object{Params: withDefault}.checkParams(checker{o: &Organization{}, d: d}, obj.Name, v)
		for _, p := range d.problems {
			t.Errorf("a default is refused by its own table: %s: %s", p.Field, p.Message)
		}
	}
}

// TestDefaultsAsBefore pins the defaults the tables give to the values New-ReceiveConnector,
// New-SendConnector and Set-TransportService have (spec §1.1, §7, §8.3, §8.5), as they were
// written by hand before the tables.
func TestDefaultsAsBefore(t *testing.T) {
	var rc ReceiveConnector
	rc.setDefaults()
	wantRC := ReceiveConnector{
		Enabled: true, RemoteIPRanges: AllRemoteIPRanges(), AuthMechanism: []AuthMechanism{AuthTls}, MaxMessageSize: 36 << 20,
		SizeEnabled: SizeEnabledWithValue, MaxRecipientsPerMessage: 200, MaxInboundConnection: N(5000),
		MaxInboundConnectionPerSource: N(20), MaxInboundConnectionPercentagePerSource: 2, MessageRateLimit: Unlimited,
		MessageRateSource: RateSourceIPAddress, ConnectionTimeout: TimeSpan(10 * time.Minute),
		ConnectionInactivityTimeout: TimeSpan(5 * time.Minute), TarpitInterval: TimeSpan(5 * time.Second),
		AuthTarpitInterval: TimeSpan(5 * time.Second), MaxAcknowledgementDelay: TimeSpan(30 * time.Second),
		MaxHeaderSize: 256 << 10, MaxHopCount: 30, MaxLocalHopCount: 8, MaxLogonFailures: 3, MaxProtocolErrors: N(5),
		ProtocolLoggingLevel: LoggingNone, PipeliningEnabled: true, ChunkingEnabled: true, EightBitMimeEnabled: true,
		BinaryMimeEnabled: true, DeliveryStatusNotificationEnabled: true, EnhancedStatusCodesEnabled: true, SmtpUtf8Enabled: true,
	}
	var s Server
	s.setDefaults()
	wantS := Server{
		Roles: []TransportRole{FrontendTransport, HubTransport}, Version: Version2019, BindingConflictMode: BindingExclusive,
		ProxyConnectTimeout: TimeSpan(15 * time.Second), ProxyCommandTimeout: TimeSpan(60 * time.Second), ProxyPoolSize: 64,
		Site: "Default-First-Site-Name", BindRetryInterval: TimeSpan(10 * time.Second), MaxConcurrentMailboxDeliveries: 20, MailboxDeliveryTransport: MailboxDeliveryMemory, MailboxDeliveryConnectorProtocolLoggingLevel: LoggingNone,
		QueueGlitchRetryCount: 4, QueueGlitchRetryInterval: TimeSpan(time.Minute), TransientFailureRetryCount: 6,
		TransientFailureRetryInterval: TimeSpan(5 * time.Minute), OutboundConnectionFailureRetryInterval: TimeSpan(10 * time.Minute),
		MessageRetryInterval: TimeSpan(5 * time.Minute), MessageExpirationTimeout: TimeSpan(48 * time.Hour),
		DelayNotificationTimeout: TimeSpan(4 * time.Hour), PoisonMessageDetectionEnabled: true,
		ReceiveProtocolLogMaxFileSize: 10 << 20, ReceiveProtocolLogMaxDirectorySize: 250 << 20,
		ReceiveProtocolLogMaxAge: TimeSpan(30 * 24 * time.Hour), IntraOrgConnectorProtocolLoggingLevel: LoggingVerbose,
		SendProtocolLogMaxFileSize: 10 << 20, SendProtocolLogMaxDirectorySize: 250 << 20, SendProtocolLogMaxAge: TimeSpan(30 * 24 * time.Hour),
		MessageTrackingLogEnabled: true, MessageTrackingLogMaxFileSize: 10 << 20, MessageTrackingLogMaxDirectorySize: 1000 << 20,
		MessageTrackingLogMaxAge: TimeSpan(30 * 24 * time.Hour), MessageTrackingLogSubjectLoggingEnabled: true, PoisonThreshold: 2,
		BackPressure: BackPressure{Enabled: true, ResourceMeteringInterval: TimeSpan(2 * time.Second),
			UsedDiskSpace: PressureThresholds{LowToMedium: 90, MediumToHigh: 99, HighToMedium: 94, MediumToLow: 88},
			QueueLength:   PressureThresholds{LowToMedium: 9999, MediumToHigh: 15000, HighToMedium: 10000, MediumToLow: 2000}},
	}
	var sc SendConnector
	sc.setDefaults()
	wantSC := SendConnector{Enabled: true, Port: 25, DNSRoutingEnabled: true, MaxMessageSize: 35 << 20, ProtocolLoggingLevel: LoggingNone,
		SmartHostAuthMechanism: SmartHostNone, SmtpMaxMessagesPerConnection: 20}
	var ad AcceptedDomain
	ad.setDefaults()
	var f Fault
	f.setDefaults()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"ReceiveConnector", rc, wantRC}, {"Server", s, wantS}, {"SendConnector", sc, wantSC},
		{"AcceptedDomain", ad, AcceptedDomain{DomainType: Authoritative}}, {"Fault", f, Fault{Probability: 1}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s defaults:\n got %+v\nwant %+v", c.name, c.got, c.want)
		}
	}
}

// TestRangeChecks: the table-driven checks report with the messages validation always had.
func TestRangeChecks(t *testing.T) {
	const head = "Servers:\n  - Name: EX01\n    Fqdn: ex01.contoso.test\n"
	const domains = "AcceptedDomains:\n  - DomainName: contoso.test\n"
	const rc = "ReceiveConnectors:\n  - Name: R\n    TransportRole: FrontendTransport\n    Bindings: [\"0.0.0.0:0\"]\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"above zero", head + "    ProxyConnectTimeout: 00:00:00\n" + domains, "t.yaml:4: Servers[0].ProxyConnectTimeout: must be above 00:00:00"},
		{"not negative", head + "    BindRetryInterval: -00:00:01\n" + domains, "t.yaml:4: Servers[0].BindRetryInterval: must not be negative"},
		{"zero retry", head + "    BindRetryInterval: 00:00:00\n" + domains, ""},
		{"int range", head + "    PoisonThreshold: 11\n" + domains, "t.yaml:4: Servers[0].PoisonThreshold: 11 is outside the range 1-10"},
		{"nested", head + "    BackPressure:\n      ResourceMeteringInterval: 00:00:00\n" + domains,
			"t.yaml:5: Servers[0].BackPressure.ResourceMeteringInterval: must be above 00:00:00"},
		{"enum list", head + "    Roles: [HubTransport, Edge]\n" + domains,
			"t.yaml:4: Servers[0].Roles[1]: \"Edge\" is not one of FrontendTransport, HubTransport"},
		{"timespan range", head + domains + rc + "    TarpitInterval: 00:11:00\n",
			"t.yaml:10: ReceiveConnectors[0].TarpitInterval: 00:11:00 is outside the range 00:00:00-00:10:00"},
		{"timespan min", head + domains + rc + "    ConnectionTimeout: 00:00:00\n    ConnectionInactivityTimeout: 00:00:00\n",
			"t.yaml:10: ReceiveConnectors[0].ConnectionTimeout: 00:00:00 is outside the range 00:00:01-1.00:00:00\n" +
				"t.yaml:11: ReceiveConnectors[0].ConnectionInactivityTimeout: 00:00:00 is outside the range 00:00:01-1.00:00:00\n" +
				"t.yaml:11: ReceiveConnectors[0].ConnectionInactivityTimeout: must be less than ConnectionTimeout (00:00:00)"},
		{"limit", head + domains + rc + "    MaxInboundConnection: 0\n",
			"t.yaml:10: ReceiveConnectors[0].MaxInboundConnection: 0 is outside the range 1-2147483647"},
		{"unlimited", head + domains + rc + "    MaxInboundConnection: Unlimited\n    MaxProtocolErrors: Unlimited\n", ""},
		{"size", head + domains + rc + "    MaxMessageSize: 64 KB\n", ""},
		{"size below", head + domains + rc + "    MaxMessageSize: 65535\n",
			"t.yaml:10: ReceiveConnectors[0].MaxMessageSize: 65535 is outside the range 65536-2147483647"},
		{"optional enum", head + domains + "ServerComponentState:\n  HubTransport: Paused\n",
			"t.yaml:7: ServerComponentState.HubTransport: \"Paused\" is not one of Active, Inactive"},
		{"case-insensitive enum", head + domains + "Certificates:\n  - CertificateFile: x.pem\n    Services: [smtp, Iis]\n", "(file)"},
		{"send connector", head + domains + "SendConnectors:\n  - Name: S\n    Port: 0\n    TlsAuthLevel: Strict\n    RequireTLS: true\n",
			"t.yaml:8: SendConnectors[0].Port: 0 is outside the range 1-65535\n" +
				"t.yaml:9: SendConnectors[0].TlsAuthLevel: \"Strict\" is not one of EncryptionOnly, CertificateValidation, DomainValidation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("t.yaml", []byte(tt.yaml))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tt.want == "(file)" {
				// Decode reads no file: the missing certificate is not noticed, and its Services pass.
				if err != nil {
					t.Errorf("Decode: %v", err)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestLoadFilesAfterValidation: Decode reads no file; LoadFiles reads the key and reports a
// broken one as FILE:LINE: field: problem; Load does both.
func TestLoadFilesAfterValidation(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "org.yaml")
	yaml := "Servers:\n  - Name: EX01\n    Fqdn: ex01.contoso.test\nAcceptedDomains:\n  - DomainName: contoso.test\n" +
		"SendConnectors:\n  - Name: S\n    AddressSpaces: [\"SMTP:*;1\"]\n    DkimSigning:\n      Enabled: true\n" +
		"      Domain: contoso.test\n      Selector: lab\n      PrivateKeyFile: key.pem\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := Decode(cfg, []byte(yaml))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if o.SendConnectors[0].DkimSigning.Signer != nil {
		t.Fatal("Decode loaded the key")
	}
	want := cfg + `:13: SendConnectors[0].DkimSigning.PrivateKeyFile: "key.pem": no such file or directory`
	if err := o.LoadFiles(dir); err == nil || err.Error() != want {
		t.Errorf("LoadFiles: %v\nwant %s", err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	want = cfg + `:13: SendConnectors[0].DkimSigning.PrivateKeyFile: "key.pem" holds no PEM block`
	if _, err := Load(cfg); err == nil || err.Error() != want {
		t.Errorf("Load: %v\nwant %s", err, want)
	}
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if o, err = Load(cfg); err != nil || o.SendConnectors[0].DkimSigning.Signer == nil {
		t.Errorf("Load with a good key: %v", err)
	}
}

// TestAcceptedDomainMatches: one rule decides for validation and routing; a mailbox in a
// subdomain of an accepted domain with MatchSubDomains validates.
func TestAcceptedDomainMatches(t *testing.T) {
	tests := []struct {
		domain, mailbox string
		matchSub        bool
		ok              bool
	}{
		{"contoso.test", "a@contoso.test", false, true},
		{"contoso.test", "a@CONTOSO.test", false, true},
		{"contoso.test", "a@sales.contoso.test", true, true},
		{"contoso.test", "a@eu.sales.contoso.test", true, true},
		{"contoso.test", "a@sales.contoso.test", false, false},
		{"contoso.test", "a@notcontoso.test", true, false},
		{"*.contoso.test", "a@sales.contoso.test", false, true},
		{"*.contoso.test", "a@contoso.test", false, false},
	}
	for _, tt := range tests {
		ad := AcceptedDomain{DomainName: tt.domain, MatchSubDomains: tt.matchSub}
		_, dom, _ := strings.Cut(tt.mailbox, "@")
		if got := ad.Matches(dom); got != tt.ok {
			t.Errorf("%s (MatchSubDomains %v).Matches(%s) = %v", tt.domain, tt.matchSub, dom, got)
		}
		yaml := "Servers:\n  - Name: EX01\n    Fqdn: ex01.contoso.test\nAcceptedDomains:\n  - DomainName: \"" + tt.domain + "\"\n" +
			"    MatchSubDomains: " + map[bool]string{true: "true", false: "false"}[tt.matchSub] + "\n" +
			"  - DomainName: fabrikam.test\nMailboxes:\n  - PrimarySmtpAddress: " + tt.mailbox + "\n"
		_, err := Decode("t.yaml", []byte(yaml))
		if tt.ok && err != nil {
			t.Errorf("%s in %s (MatchSubDomains %v): %v", tt.mailbox, tt.domain, tt.matchSub, err)
		}
		want := "t.yaml:9: Mailboxes[0].PrimarySmtpAddress: the domain of " + tt.mailbox + " is not an accepted domain"
		if !tt.ok && (err == nil || err.Error() != want) {
			t.Errorf("%s in %s (MatchSubDomains %v): %v, want %s", tt.mailbox, tt.domain, tt.matchSub, err, want)
		}
	}
}

// TestReferenceIsCurrent: docs/config-reference.md is what the tables generate.
func TestReferenceIsCurrent(t *testing.T) {
	path := filepath.Join("..", ReferenceFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make generate` to write it)", err)
	}
	if string(b) != string(Reference()) {
		t.Errorf("%s is stale: the parameter tables in config/params.go changed; run `make generate` "+
			"(or go run ./config/gendoc) at the repository root and commit the result", ReferenceFile)
	}
}
