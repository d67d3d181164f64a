package emshell

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
)

// labScript is the setup of an application relay lab written the way an Exchange admin writes
// it (spec §2.4's relay connector with its AD permission, a send connector to a smart host,
// compressed retry settings, test mailboxes from a list, checks with Get- and Where-Object).
const labScript = `# Lab: application relay through EX01, outbound via a smart host
$server = "EX01"
$relay  = "Anonymous Relay $server"
$apps   = "192.0.2.10","192.0.2.11"

New-ReceiveConnector -Name $relay -TransportRole FrontendTransport -Custom ` + "`" + `
    -Bindings 0.0.0.0:25 -RemoteIPRanges $apps -Server $server | Out-Null
Set-ReceiveConnector $relay -PermissionGroups AnonymousUsers
Get-ReceiveConnector $relay | Add-ADPermission -User "NT AUTHORITY\ANONYMOUS LOGON" ` + "`" + `
    -ExtendedRights "Ms-Exch-SMTP-Accept-Any-Recipient" | Out-Null

# Verify as the documentation does
Get-ADPermission $relay -User "NT AUTHORITY\ANONYMOUS LOGON" |
    where {($_.Deny -eq $false) -and ($_.IsInherited -eq $false)} |
    Format-Table User,ExtendedRights

# Outbound
if (-not (Get-SendConnector | ? { $_.Name -eq "Smart Host" })) {
    New-SendConnector -Name "Smart Host" -Usage Custom -AddressSpaces "SMTP:*;1" ` + "`" + `
        -SmartHosts "[192.0.2.25]" -DNSRoutingEnabled $false | Out-Null
}
Set-SendConnector "Smart Host" -ProtocolLoggingLevel Verbose

# Retry fast: a lab compresses days into seconds
Set-TransportService $server -MessageRetryInterval 00:00:30 -TransientFailureRetryInterval 00:00:10 ` + "`" + `
    -MessageExpirationTimeout 00:10:00
Set-FrontendTransportService $server -IntraOrgConnectorProtocolLoggingLevel Verbose

# Test mailboxes
$pw = ConvertTo-SecureString -String "Lab#Pass1" -AsPlainText -Force
foreach ($n in 1..3) {
    New-Mailbox -Name "Test User $n" -Alias "test$n" -Password $pw | Out-Null
}
$count = @(Get-Mailbox | ? { $_.Alias -like "test*" }).Count
Write-Host "Test mailboxes: $count"
Get-Mailbox test2 | fl Name,PrimarySmtpAddress

$ts = Get-TransportService $server
Write-Host "Retry every $($ts.MessageRetryInterval), expire after $($ts.MessageExpirationTimeout)"
Get-QueueDigest -Server $server -Filter "MessageCount -gt 0" | ft GroupByValue,MessageCount
Remove-Mailbox test3 -Confirm:$false
`

func TestLabScript(t *testing.T) {
	if n := strings.Count(labScript, "\n"); n < 30 {
		t.Fatalf("the script has %d lines", n)
	}
	f := newFake()
	var out, errs bytes.Buffer
	if err := New(f).Run(context.Background(), labScript, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	for _, want := range []string{
		relayCheck[1 : len(relayCheck)-2],
		"Test mailboxes: 3\n",
		"Name               : Test User 2\nPrimarySmtpAddress : test2@contoso.test\n",
		"Retry every 00:00:30, expire after 00:10:00\n",
		"GroupByValue                MessageCount\n------------                ------------\nmailbox database 0123456789            2\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if errs.Len() != 0 {
		t.Errorf("errors:\n%s", errs.String())
	}
	org, err := config.Parse("org.yaml", f.src)
	if err != nil {
		t.Fatal(err)
	}
	if len(org.ADPermissions) != 1 || org.ADPermissions[0].Identity != `EX01\Anonymous Relay EX01` {
		t.Errorf("ADPermissions: %+v", org.ADPermissions)
	}
	if len(org.SendConnectors) != 1 || org.SendConnectors[0].ProtocolLoggingLevel != config.LoggingVerbose || org.SendConnectors[0].DNSRoutingEnabled {
		t.Errorf("SendConnectors: %+v", org.SendConnectors)
	}
	if srv := org.Server("EX01"); srv.MessageRetryInterval.Duration().Seconds() != 30 || srv.MessageExpirationTimeout.Duration().Minutes() != 10 {
		t.Errorf("server: %+v", srv)
	}
	if len(org.Mailboxes) != 4 {
		t.Errorf("%d mailboxes, want 4 (2 + 3 new - 1 removed)", len(org.Mailboxes))
	}
}
