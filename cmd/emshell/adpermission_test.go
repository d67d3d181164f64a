package emshell

import (
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
)

// withRelay is the default organization with the anonymous relay connector of spec §2.4 and
// its ADPermission.
var withRelay = []byte(strings.Replace(string(config.DefaultYAML), "\nSendConnectors: []\n", `
  - Name: Relay EX01
    Server: EX01
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:25"]
    RemoteIPRanges: ["192.0.2.10"]
    PermissionGroups: [AnonymousUsers]

ADPermissions:
  - Identity: EX01\Relay EX01
    User: NT AUTHORITY\ANONYMOUS LOGON
    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]

SendConnectors: []
`, 1))

func TestADPermissionCmdlets(t *testing.T) {
	if _, err := config.Parse("org.yaml", withRelay); err != nil || !strings.Contains(string(withRelay), "ADPermissions:\n  - Identity") {
		t.Fatalf("the relay organization: %v", err)
	}
	const anon = `"NT AUTHORITY\ANONYMOUS LOGON"`
	runCases(t, withRelay, nil, []cmdletCase{
		{name: "Get- default view", script: `Get-ADPermission "Relay EX01"`,
			// The four rights AnonymousUsers grants, then the explicit entry (spec §2.1, §2.4).
			out: "\nIdentity             User                 Deny  Inherited\n--------             ----                 ----  ---------\n" + strings.Repeat("EX01\\Relay EX01      NT AUTHORITY\\ANON... False False    \n", 5) + "\n\n"},
		// spec §2.4: the verification command of MS-AR / QA-RELAY, one row per right.
		{name: "the relay check of spec §2.4", script: `Get-ADPermission "Relay EX01" -User ` + anon + ` | where {($_.Deny -eq $false) -and ($_.IsInherited -eq $false)} | Format-Table User,ExtendedRights`,
			out: relayCheck},
		{name: "Get- of another user", script: `(Get-ADPermission "EX01\Relay EX01" -User "NT AUTHORITY\Authenticated Users" | Measure-Object).Count`, out: "0\n"},
		{name: "an unknown connector", script: `Get-ADPermission "Nope"`, fails: true,
			errContains: []string{"The operation couldn't be performed because object 'Nope' couldn't be found on 'ex01.contoso.test'.", "[Get-ADPermission], ManagementObjectNotFoundException"}},
		{name: "Add- from the pipeline, spelled as admins type it", script: `Get-ReceiveConnector "Relay EX01" | Add-ADPermission -User ` + anon + ` -ExtendedRights "Ms-Exch-Bypass-Anti-Spam","ms-exch-smtp-accept-any-recipient"`,
			writes: 1, added: []string{"    ExtendedRights: [ms-Exch-Bypass-Anti-Spam]"},
			contains: []string{"EX01\\Relay EX01      NT AUTHORITY\\ANON... False False    \nEX01\\Relay EX01      NT AUTHORITY\\ANON... False False    \n"}},
		{name: "Add- of rights already held writes nothing", script: `Add-ADPermission "Relay EX01" -User ` + anon + ` -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient | Out-Null`},
		{name: "Add- -Deny", script: `Add-ADPermission "Default Frontend EX01" -User ` + anon + ` -ExtendedRights ms-Exch-SMTP-Submit -Deny | Out-Null`, writes: 1,
			added: []string{`  - Identity: EX01\Default Frontend EX01`, "    ExtendedRights: [ms-Exch-SMTP-Submit]", "    Deny: true"}},
		{name: "Add- -AccessRights GenericAll is every extended right", script: `(Add-ADPermission "Relay EX01" -User "MS Exchange\Partner Servers" -AccessRights GenericAll).Count`, writes: 1,
			out: "16\n"},
		{name: "Add- of an unknown right", script: `Add-ADPermission "Relay EX01" -User ` + anon + ` -ExtendedRights ms-Exch-Send-As`, fails: true,
			errContains: []string{`"ms-Exch-Send-As" is not an extended right of a receive connector`}},
		{name: "Add- without rights", script: `Add-ADPermission "Relay EX01" -User ` + anon, fails: true,
			errContains: []string{"You must specify either the AccessRights or the ExtendedRights parameter."}},
		{name: "Add- -WhatIf", script: `Add-ADPermission "Relay EX01" -User ` + anon + ` -ExtendedRights ms-Exch-Bypass-Anti-Spam -WhatIf`,
			contains: []string{`What if: Adding Active Directory permission for user "NT AUTHORITY\ANONYMOUS LOGON" "EX01\Relay EX01".`}},
		{name: "Remove- by parameters", script: `Remove-ADPermission "Relay EX01" -User ` + anon + ` -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient -Confirm:$false`, writes: 1,
			removed: []string{`  - Identity: EX01\Relay EX01`, "    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]"}},
		{name: "Remove- of entries piped from Get-", script: `Get-ADPermission "Relay EX01" | Remove-ADPermission -Confirm:$false`, writes: 1,
			removed: []string{"    User: NT AUTHORITY\\ANONYMOUS LOGON"}},
		{name: "Remove- of one right keeps the others", script: `Add-ADPermission "Relay EX01" -User ` + anon + ` -ExtendedRights ms-Exch-Bypass-Anti-Spam | Out-Null; ` +
			`Get-ADPermission "Relay EX01" | ? { $_.ExtendedRights -like "*Any-Recipient" } | Remove-ADPermission -Confirm:$false`, writes: 2,
			added: []string{"    ExtendedRights: [ms-Exch-Bypass-Anti-Spam]"}, removed: []string{"    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]"}},
		{name: "Remove- of what is not there", script: `Remove-ADPermission "Relay EX01" -User "NT AUTHORITY\Authenticated Users" -ExtendedRights ms-Exch-SMTP-Submit -Confirm:$false`,
			errContains: []string{"WARNING: The command completed successfully but no settings of 'EX01\\Relay EX01' have been modified."}},
	})
}

// relayCheck is the verification of spec §2.4 on the relay connector (PermissionGroups
// AnonymousUsers plus ms-Exch-SMTP-Accept-Any-Recipient): the group's rights, then the added one.
const relayCheck = "\nUser                         ExtendedRights                                   \n----                         --------------                                   \n" +
	"NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Submit}                            \n" +
	"NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Sender}                 \n" +
	"NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Authoritative-Domain-Sender}\n" +
	"NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-Accept-Headers-Routing}                 \n" +
	"NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient}              \n\n\n"
