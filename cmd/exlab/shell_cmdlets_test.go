package main

import (
	"strings"
	"testing"
	"time"
)

// TestShellCmdletsLive: the AD permission, mailbox, send connector and transport service
// cmdlets of `exlab shell` change the running server, as they change Exchange through Active
// Directory: Add-ADPermission of ms-Exch-SMTP-Accept-Any-Recipient for ANONYMOUS LOGON opens
// Default Frontend to relay (spec §2.4), Remove-ADPermission closes it again, a mailbox made
// with New-Mailbox takes mail at once, and every Get- shows the new value.
func TestShellCmdletsLive(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	shell := func(script string) string {
		t.Helper()
		out, errOut, code := exlab(t, "shell", "--data", s.data, "-c", script)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", script, code, out, errOut)
		}
		return out
	}
	rcpt := func(to string) string {
		t.Helper()
		e := dialEdges(t, fe)
		e.cmd("EHLO client.example.org\r\n")
		e.cmd("MAIL FROM:<app@example.org>\r\n")
		r, _ := e.cmd("RCPT TO:<" + to + ">\r\n")
		e.cmd("QUIT\r\n")
		return r
	}
	const relayRefused = "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"
	if got := rcpt("someone@fabrikam.test"); got != relayRefused {
		t.Fatalf("before Add-ADPermission: %q", got)
	}

	const anon = `"NT AUTHORITY\ANONYMOUS LOGON"`
	out := shell(`Get-ReceiveConnector "Default Frontend EX01" | Add-ADPermission -User ` + anon + ` -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient`)
	if !strings.Contains(out, `EX01\Default Fron... NT AUTHORITY\ANON... False False`) {
		t.Errorf("Add-ADPermission printed:\n%s", out)
	}
	waitUntil(t, 15*time.Second, "relay after Add-ADPermission", func() bool {
		return strings.HasPrefix(rcpt("someone@fabrikam.test"), "250 2.1.5")
	})
	out = shell(`Get-ADPermission "Default Frontend EX01" -User ` + anon + ` | ft User,ExtendedRights`)
	if !strings.Contains(out, `NT AUTHORITY\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient}`) {
		t.Errorf("Get-ADPermission:\n%s", out)
	}

	shell(`Get-ADPermission "Default Frontend EX01" | Remove-ADPermission -Confirm:$false`)
	waitUntil(t, 15*time.Second, "no relay after Remove-ADPermission", func() bool { return rcpt("someone@fabrikam.test") == relayRefused })
	// What is left is what the PermissionGroups grant: no Accept-Any-Recipient for anonymous.
	if out := shell(`@(Get-ADPermission "Default Frontend EX01" -User ` + anon + ` | ? { $_.ExtendedRights -like "*Any-Recipient" }).Count`); out != "0\n" {
		t.Errorf("entries left after Remove-ADPermission: %q", out)
	}

	// A new mailbox takes mail as soon as New-Mailbox returns.
	out = shell(`New-Mailbox -Name "Lab User" -PrimarySmtpAddress "lab.user@contoso.test" -Password (ConvertTo-SecureString -String "Lab#Pass1" -AsPlainText -Force)`)
	if !strings.Contains(out, "Lab User                  lab.user             ex01             Unlimited") {
		t.Errorf("New-Mailbox printed:\n%s", out)
	}
	e := dialEdges(t, fe)
	e.cmd("EHLO client.example.org\r\n")
	e.cmd("MAIL FROM:<app@example.org>\r\n")
	if r, _ := e.cmd("RCPT TO:<lab.user@contoso.test>\r\n"); !strings.HasPrefix(r, "250") {
		t.Fatalf("RCPT: %q", r)
	}
	e.cmd("DATA\r\n")
	if r, _ := e.cmd("Subject: for the new mailbox\r\n\r\nhello\r\n.\r\n"); !strings.HasPrefix(r, "250") {
		t.Fatalf("end of data: %q", r)
	}
	e.cmd("QUIT\r\n")
	if out := waitMailbox(t, s.data, "lab.user@contoso.test", 1); !strings.Contains(out, "for the new mailbox") {
		t.Errorf("mailbox list:\n%s", out)
	}

	// Send connector and transport service settings persist and Get- shows them at once.
	out = shell(`New-SendConnector -Name "To Fabrikam" -AddressSpaces "SMTP:fabrikam.test;1" -SmartHosts "[127.0.0.1]:2626" -DNSRoutingEnabled $false | Out-Null
Set-TransportService EX01 -MessageRetryInterval 00:00:10
Set-FrontendTransportService EX01 -IntraOrgConnectorProtocolLoggingLevel None
(Get-SendConnector "To Fabrikam").SourceTransportServers
(Get-TransportService EX01).MessageRetryInterval
(Get-FrontendTransportService EX01).IntraOrgConnectorProtocolLoggingLevel
Remove-Mailbox "lab.user@contoso.test" -Confirm:$false
@(Get-Mailbox).Count`)
	if out != "EX01\n00:00:10\nNone\n2\n" {
		t.Errorf("after the changes: %q", out)
	}
}
