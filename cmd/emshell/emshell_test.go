package emshell

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport"
)

// fakeServer is a Backend over an in-memory organization file, validated on every write as the
// server's PUT /api/v1/organization does, and fixed queues.
type fakeServer struct {
	mu      sync.Mutex
	src     []byte
	writes  int
	actions []string
	maint   bool
}

func newFake() *fakeServer { return &fakeServer{src: config.DefaultYAML} }

func (f *fakeServer) Organization(context.Context) (adminapi.Organization, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return adminapi.Organization{File: "org.yaml", Source: string(f.src), ETag: adminapi.OrgETag(f.src)}, nil
}

func (f *fakeServer) SetOrganization(_ context.Context, src []byte, etag string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if etag != adminapi.OrgETag(f.src) {
		return "", &adminapi.Error{Code: adminapi.CodeConflict, Message: "changed"}
	}
	if _, err := config.Parse("org.yaml", src); err != nil {
		return "", &adminapi.Error{Code: adminapi.CodeInvalid, Message: err.Error()}
	}
	f.src = append([]byte(nil), src...)
	f.writes++
	return adminapi.OrgETag(src), nil
}

func (f *fakeServer) Queues() ([]transport.QueueInfo, error) {
	return []transport.QueueInfo{
		{Identity: `EX01\Submission`, DeliveryType: "Undefined", Status: "Ready", NextHopDomain: "Submission"},
		{Identity: `EX01\3`, DeliveryType: "SmtpDeliveryToMailbox", Status: "Retry", MessageCount: 2, NextHopDomain: "mailbox database 0123456789",
			LastError: "451 4.4.0 Primary target IP address responded with: \"421 4.3.2 Service not available.\""},
	}, nil
}

func (f *fakeServer) Messages(q string) ([]transport.MessageInfo, error) {
	t := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	return []transport.MessageInfo{{Identity: `EX01\3\1001`, FromAddress: "a@example.org", Status: "Retry", Queue: `EX01\3`, Subject: "hello", Recipients: []string{"user1@contoso.test"}, DateReceived: t}}, nil
}

func (f *fakeServer) RetryQueue(id string, _ transport.RetryMode) (int, error) {
	f.actions = append(f.actions, "retry "+id)
	if id != `EX01\3` {
		return 0, &adminapi.Error{Code: adminapi.CodeNotFound, Message: "no queue"}
	}
	return 1, nil
}

func (f *fakeServer) MessageAction(action, id string, ndr transport.NDRChoice) error {
	f.actions = append(f.actions, action+" "+id)
	return nil
}

func (f *fakeServer) SearchTracking(_ context.Context, q adminapi.TrackingQuery) ([]transport.TrackingEntry, error) {
	es := []transport.TrackingEntry{
		{"event-id": "RECEIVE", "source": "SMTP", "sender-address": "a@example.org", "recipient-address": "user1@contoso.test", "message-subject": "hello"},
		{"event-id": "DELIVER", "source": "STOREDRIVER", "sender-address": "a@example.org", "recipient-address": "user1@contoso.test", "message-subject": "hello"},
	}
	var out []transport.TrackingEntry
	for _, e := range es {
		if q.EventID == "" || strings.EqualFold(q.EventID, e["event-id"]) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeServer) EventLog(context.Context) ([]map[string]any, error) {
	return []map[string]any{
		{"TimeCreated": "2026-12-02T10:00:00Z", "EventID": float64(1020), "Source": "MSExchangeFrontEndTransport", "Level": "Error",
			"Message": "The Microsoft Exchange Frontend Transport service is rejecting messages because the service couldn't bind."},
		{"TimeCreated": "2026-12-02T10:00:01Z", "EventID": float64(1003), "Source": "MSExchangeTransport", "Level": "Error", "Message": "The configuration of one of the SMTP Receive connectors is invalid."},
		{"TimeCreated": "2026-12-02T10:00:02Z", "EventID": float64(15004), "Source": "MSExchangeTransport", "Level": "Warning", "Message": "The resource pressure increased from Normal to Medium."},
	}, nil
}

func (f *fakeServer) Certificates(context.Context) ([]adminapi.CertificateInfo, error) {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []adminapi.CertificateInfo{
		{Thumbprint: "320B72369550EE4CBE91E753F2C50E2FE65ADE08", Subject: "CN=EX01", Issuer: "CN=EX01", FriendlyName: "Microsoft Exchange",
			Services: []string{"IMAP", "POP", "IIS", "SMTP"}, NotBefore: t, NotAfter: t.AddDate(5, 0, 0), IsSelfSigned: true, Status: "Valid", DnsNameList: []string{"EX01", "ex01.contoso.test"}},
		{Thumbprint: "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567", Subject: "CN=mail.contoso.test", Issuer: "CN=Contoso CA", Services: []string{"SMTP"},
			NotBefore: t, NotAfter: t.AddDate(1, 0, 0), Status: "Valid", DnsNameList: []string{"mail.contoso.test"}},
	}, nil
}

func (f *fakeServer) Maintenance() (adminapi.ComponentState, error) {
	st := "Active"
	if f.maint {
		st = "Inactive"
	}
	return adminapi.ComponentState{Component: "HubTransport", State: st}, nil
}

func (f *fakeServer) SetMaintenance(on bool) (adminapi.ComponentState, error) {
	f.maint = on
	return f.Maintenance()
}

func run(t *testing.T, f *fakeServer, script string) (string, string, error) {
	t.Helper()
	sh := New(f)
	var out, errs bytes.Buffer
	err := sh.Run(context.Background(), script, &out, &errs)
	return out.String(), errs.String(), err
}

// TestCmdletOutput: each cmdlet's output in Exchange's format (spec §11: the default columns,
// Format-List properties, the error layout of a remote session).
func TestCmdletOutput(t *testing.T) {
	cases := []struct {
		name, script string
		out          string // exact, or "" to skip
		contains     []string
		errContains  []string
		fails        bool
	}{
		{name: "Get-ReceiveConnector's table", script: "Get-ReceiveConnector -Server EX01 | Select-Object -First 2",
			out: "\nIdentity                   Bindings                Enabled\n--------                   --------                -------\n" +
				"EX01\\Default Frontend EX01 {[::]:25, 0.0.0.0:25}   True   \nEX01\\Client Frontend EX01  {[::]:587, 0.0.0.0:587} True   \n\n\n"},
		{name: "Format-List of chosen properties", script: `Get-ReceiveConnector "Default EX01" | fl Identity,TransportRole,PermissionGroups,MaxMessageSize`,
			out: "\n\nIdentity         : EX01\\Default EX01\nTransportRole    : HubTransport\nPermissionGroups : {ExchangeUsers, ExchangeServers, ExchangeLegacyServers}\nMaxMessageSize   : 36 MB (37,748,736 bytes)\n\n\n\n"},
		{name: "identity with the server, and wildcards", script: `(Get-ReceiveConnector "EX01\Client*").Count; (Get-ReceiveConnector "*Frontend*").Count`,
			out: "2\n3\n"},
		{name: "Get-AcceptedDomain", script: "Get-AcceptedDomain",
			out: "\nName         DomainName   DomainType    Default\n----         ----------   ----------    -------\ncontoso.test contoso.test Authoritative True   \n\n\n"},
		{name: "an optional setting shows its value, not a pointer", script: "Get-AcceptedDomain | fl DomainName,AddressBookEnabled",
			out: "\n\nDomainName         : contoso.test\nAddressBookEnabled : True\n\n\n\n"},
		{name: "an unknown identity", script: "Get-ReceiveConnector Nope", fails: true,
			errContains: []string{"The operation couldn't be performed because object 'Nope' couldn't be found on 'ex01.contoso.test'.",
				"+ CategoryInfo          : NotSpecified: (:) [Get-ReceiveConnector], ManagementObjectNotFoundException",
				"[FailureCategory=Cmdlet-ManagementObjectNotFoundException] 6A5B3A1E,Microsoft.Exchange.Management.SystemConfigurationTasks.GetReceiveConnector",
				"+ PSComputerName        : ex01.contoso.test"}},
		{name: "an unknown parameter", script: "Get-ReceiveConnector -Bogus 1", fails: true,
			errContains: []string{"A parameter cannot be found that matches parameter name 'Bogus'.", "NamedParameterNotFound"}},
		{name: "a parameter conflict", script: `New-ReceiveConnector -Name "X" -Usage Custom -Internet -Bindings 0.0.0.0:2526`, fails: true,
			errContains: []string{"Parameter set cannot be resolved using the specified named parameters.", "AmbiguousParameterSet"}},
		{name: "a bad enum value", script: `Set-ReceiveConnector "Default EX01" -ProtocolLoggingLevel Loud`, fails: true,
			errContains: []string{"ProtocolLoggingLevel", "Loud"}},
		{name: "Get-Queue with an OPath filter", script: `Get-Queue -Filter "MessageCount -gt 0" | ft Identity,Status,MessageCount`,
			out: "\nIdentity Status MessageCount\n-------- ------ ------------\nEX01\\3   Retry             2\n\n\n"},
		{name: "Get-Queue default columns", script: "Get-Queue",
			contains: []string{"Identity        DeliveryType          Status MessageCount Velocity LastError", "EX01\\Submission Undefined"}},
		{name: "Get-Message", script: `Get-Queue EX01\3 | Get-Message | fl Identity,FromAddress,Recipients`,
			contains: []string{"Identity    : EX01\\3\\1001", "Recipients  : {user1@contoso.test}"}},
		{name: "Get-MessageTrackingLog", script: "Get-MessageTrackingLog -EventId DELIVER",
			contains: []string{"EventId Source      Sender        Recipients           MessageSubject", "DELIVER STOREDRIVER a@example.org {user1@contoso.test} hello"}},
		{name: "Get-ServerComponentState", script: "Get-ServerComponentState EX01 -Component HubTransport",
			contains: []string{"ex01.contoso.test HubTransport Active"}},
		{name: "Get-ExchangeServer", script: "(Get-ExchangeServer EX01).AdminDisplayVersion", out: "Version 15.2 (Build 1544.9)\n"},
		{name: "Get-WinEvent, newest first", script: `(Get-WinEvent -LogName Application | Select-Object -First 1).Id; Get-WinEvent -FilterHashtable @{LogName="Application"; Id=1020,1003} | ft Id,ProviderName,LevelDisplayName`,
			contains: []string{"15004\n", "1020 MSExchangeFrontEndTransport Error", "1003 MSExchangeTransport         Error"}},
		{name: "Get-ExchangeCertificate", script: "Get-ExchangeCertificate",
			out: "\nThumbprint                               Services Subject             \n----------                               -------- -------             \n" +
				"320B72369550EE4CBE91E753F2C50E2FE65ADE08 IP.WS..  CN=EX01             \n0A1B2C3D4E5F60718293A4B5C6D7E8F901234567 ....S..  CN=mail.contoso.test\n\n\n"},
		{name: "Get-ExchangeCertificate by thumbprint", script: "(Get-ExchangeCertificate -Thumbprint 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567).CertificateDomains",
			out: "mail.contoso.test\n"},
		{name: "Get-WinEvent of another log", script: "Get-WinEvent -LogName System", fails: true,
			errContains: []string{`There is not an event log on the localhost computer that matches "System".`}},
		{name: "Get-Help", script: "Get-Help Set-ReceiveConnector", contains: []string{"Set-ReceiveConnector", "-MaxMessageSize"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, err := run(t, newFake(), c.script)
			if (err != nil) != c.fails {
				t.Errorf("error %v, want failure %v\n%s", err, c.fails, errs)
			}
			if c.out != "" && out != c.out {
				t.Errorf("output:\n%q\nwant\n%q", out, c.out)
			}
			for _, w := range c.contains {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.errContains {
				if !strings.Contains(errs, w) {
					t.Errorf("errors lack %q:\n%s", w, errs)
				}
			}
		})
	}
}

// TestCmdletChanges: Set-/New-/Remove- change the organization file in place (only the touched
// lines), multi-valued edits apply to the current value, -WhatIf and a refused change write
// nothing.
func TestCmdletChanges(t *testing.T) {
	cases := []struct {
		name, script string
		fails        bool
		writes       int
		added        []string // lines the file gains
		removed      []string // lines it loses
		errContains  string
		// defaultDomain is the accepted domain that must be the default afterwards.
		defaultDomain string
	}{
		{name: "Set one value", script: `Set-ReceiveConnector "Default EX01" -MaxMessageSize 64MB`, writes: 1,
			added: []string{"    MaxMessageSize: 64 MB (67,108,864 bytes)"}},
		{name: "add to a multi-valued property", script: `Set-ReceiveConnector "Default Frontend EX01" -RemoteIPRanges @{Remove="::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}`, writes: 1,
			added:   []string{`    RemoteIPRanges: ["0.0.0.0-255.255.255.255"]`},
			removed: []string{`    RemoteIPRanges: ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"]`}},
		{name: "pipeline into Set-", script: `Get-ReceiveConnector -Server EX01 | Where-Object { $_.TransportRole -eq "HubTransport" } | Set-ReceiveConnector -Banner "220 lab"`, writes: 2},
		{name: "-WhatIf writes nothing", script: `Set-ReceiveConnector "Default EX01" -Enabled $false -WhatIf`, writes: 0},
		{name: "a value out of range", script: `Set-ReceiveConnector "Default EX01" -MaxRecipientsPerMessage 0`, fails: true, writes: 0, errContains: "MaxRecipientsPerMessage"},
		{name: "the role conflict on port 25", script: `New-ReceiveConnector -Name "Relay EX01" -Usage Custom -Bindings 0.0.0.0:25 -RemoteIPRanges 127.0.0.2 -Server EX01`,
			fails: true, writes: 0, errContains: `conflict with the settings on Receive connector "EX01\Default Frontend EX01". Receive connectors assigned to different Transport roles on a single server must listen on unique local IP address & port bindings.`},
		{name: "New- on the frontend", script: `New-ReceiveConnector -Name "Relay EX01" -Custom -TransportRole FrontendTransport -Bindings 0.0.0.0:25 -RemoteIPRanges 127.0.0.2`, writes: 1,
			added: []string{"  - Name: Relay EX01", "    TransportRole: FrontendTransport"}},
		{name: "Remove-", script: `Remove-ReceiveConnector "Client Proxy EX01" -Confirm:$false`, writes: 1, removed: []string{"  - Name: Client Proxy EX01"}},
		{name: "New- and Set- accepted domain", script: "New-AcceptedDomain -Name fabrikam.test -DomainName fabrikam.test -DomainType InternalRelay; Set-AcceptedDomain fabrikam.test -MakeDefault $true", writes: 2,
			added: []string{"  - Name: fabrikam.test"}, defaultDomain: "fabrikam.test"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			_, errs, err := run(t, f, c.script)
			if (err != nil) != c.fails {
				t.Errorf("error %v, want failure %v\n%s", err, c.fails, errs)
			}
			if f.writes != c.writes {
				t.Errorf("%d writes, want %d", f.writes, c.writes)
			}
			if c.errContains != "" && !strings.Contains(errs, c.errContains) {
				t.Errorf("errors lack %q:\n%s", c.errContains, errs)
			}
			before, after := lines(config.DefaultYAML), lines(f.src)
			for _, l := range c.added {
				if before[l] >= after[l] {
					t.Errorf("the file did not gain %q", l)
				}
			}
			for _, l := range c.removed {
				if before[l] <= after[l] {
					t.Errorf("the file did not lose %q", l)
				}
			}
			if c.defaultDomain != "" {
				org, err := config.Parse("org.yaml", f.src)
				if err != nil {
					t.Fatal(err)
				}
				for _, ad := range org.AcceptedDomains {
					if ad.Default != (ad.Name == c.defaultDomain) {
						t.Errorf("%s: Default %v", ad.Name, ad.Default)
					}
				}
			}
			if c.writes == 0 && !bytes.Equal(f.src, config.DefaultYAML) {
				t.Error("the file changed")
			}
			// The comments of the default are all still there.
			for l, n := range before {
				if strings.HasPrefix(strings.TrimSpace(l), "#") && after[l] != n {
					t.Errorf("comment line %q: %d → %d", l, n, after[l])
				}
			}
		})
	}
}

func lines(b []byte) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		m[l]++
	}
	return m
}

// TestQueueCmdlets: Retry-Queue, Suspend/Remove-Message reach the server, from the pipeline
// too; an unknown queue is ManagementObjectNotFoundException.
func TestQueueCmdlets(t *testing.T) {
	f := newFake()
	_, errs, err := run(t, f, `Retry-Queue EX01\3; Get-Queue EX01\3 | Get-Message | Suspend-Message; Remove-Message EX01\3\1001 -WithNDR $false -Confirm:$false; Set-ServerComponentState EX01 -Component HubTransport -State Inactive -Requester Maintenance`)
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if got := strings.Join(f.actions, "; "); got != `retry EX01\3; suspend EX01\3\1001; remove EX01\3\1001` || !f.maint {
		t.Errorf("actions %q, maintenance %v", got, f.maint)
	}
	if _, errs, err := run(t, f, `Retry-Queue EX01\99`); err == nil || !strings.Contains(errs, "ManagementObjectNotFoundException") {
		t.Errorf("unknown queue: %v\n%s", err, errs)
	}
	var ae *adminapi.Error
	_ = errors.As(err, &ae)
}

// adminScript is a lab script written the way an Exchange admin writes one: variables, foreach,
// if, pipelines into Set-, Where-Object, multi-valued edits, try/catch, fl/ft.
const adminScript = `# Relay connector for the lab's applications
$server = "EX01"
$relayName = "Relay $server"
$apps = "10.0.0.5","10.0.0.6"
Write-Host "Configuring $server"

# What listens on 25 today
foreach ($c in Get-ReceiveConnector -Server $server) {
    if ($c.TransportRole -eq "FrontendTransport" -and $c.Bindings -contains "0.0.0.0:25") {
        Write-Host "Frontend on 25: $($c.Identity)"
    }
}

$existing = Get-ReceiveConnector -Server $server | Where-Object { $_.Name -eq $relayName }
if ($existing -eq $null) {
    New-ReceiveConnector -Name $relayName -TransportRole FrontendTransport -Custom ` + "`" + `
        -Bindings 0.0.0.0:25 -RemoteIPRanges $apps -Server $server | Out-Null
}
Set-ReceiveConnector $relayName -PermissionGroups AnonymousUsers -Banner "220 relay ready"
Set-ReceiveConnector $relayName -RemoteIPRanges @{Add="10.0.0.7"; Remove="10.0.0.5"}
$relay = Get-ReceiveConnector "$server\$relayName"
$relay | fl Identity,RemoteIPRanges,PermissionGroups,Banner

# Every hub connector gets a bigger limit
Get-ReceiveConnector | ? { $_.TransportRole -eq "HubTransport" } | Set-ReceiveConnector -MaxMessageSize 50MB
$hub = @(Get-ReceiveConnector | ? { $_.MaxMessageSize -like "50 MB*" })
"Hub connectors at 50 MB: " + $hub.Count

New-AcceptedDomain -Name "fabrikam.test" -DomainName "fabrikam.test" -DomainType InternalRelay | Out-Null
Get-AcceptedDomain | Sort-Object Name | ft Name,DomainType -AutoSize

try {
    Get-ReceiveConnector "Missing" -ErrorAction Stop
} catch {
    Write-Host "Missing: not found, as expected"
}
foreach ($q in Get-Queue | Where-Object { $_.MessageCount -gt 0 }) {
    Retry-Queue $q.Identity
}
Set-ServerComponentState $server -Component HubTransport -State Inactive -Requester Maintenance
"HubTransport is " + (Get-ServerComponentState $server -Component HubTransport).State
Set-ServerComponentState $server -Component HubTransport -State Active -Requester Maintenance
`

func TestAdminScript(t *testing.T) {
	if n := strings.Count(adminScript, "\n"); n < 30 {
		t.Fatalf("the script has %d lines", n)
	}
	f := newFake()
	sh := New(f)
	var out, errs bytes.Buffer
	if err := sh.Run(context.Background(), adminScript, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	// Write-Host goes to the host, which is stdout here, in order with the output.
	for _, want := range []string{
		"Configuring EX01\n",
		"Frontend on 25: EX01\\Default Frontend EX01\n",
		"Identity         : EX01\\Relay EX01\nRemoteIPRanges   : {10.0.0.6, 10.0.0.7}\nPermissionGroups : {AnonymousUsers}\nBanner           : 220 relay ready\n",
		"Hub connectors at 50 MB: 2\n",
		"Name          DomainType   \n----          ----------   \ncontoso.test  Authoritative\nfabrikam.test InternalRelay\n",
		"Missing: not found, as expected\n",
		"HubTransport is Inactive\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := strings.Join(f.actions, "; "); got != `retry EX01\3` {
		t.Errorf("queue actions: %q", got)
	}
	if f.maint {
		t.Error("maintenance left on")
	}
	org, err := config.Parse("org.yaml", f.src)
	if err != nil {
		t.Fatal(err)
	}
	if rc := org.ReceiveConnectorByIdentity(`EX01\Relay EX01`); rc == nil || rc.TransportRole != config.FrontendTransport || len(rc.RemoteIPRanges) != 2 {
		t.Errorf("the relay connector: %+v", rc)
	}
}
