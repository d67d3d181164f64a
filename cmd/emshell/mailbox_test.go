package emshell

import "testing"

func TestMailboxCmdlets(t *testing.T) {
	const pw = `(ConvertTo-SecureString -String "Lab#Pass1" -AsPlainText -Force)`
	runCases(t, nil, nil, []cmdletCase{
		{name: "Get-Mailbox's table", script: "Get-Mailbox",
			out: "\nName                      Alias                ServerName       ProhibitSendQuota\n" +
				"----                      -----                ----------       -----------------\n" +
				"Administrator             administrator        ex01             Unlimited        \n" +
				"User One                  user1                ex01             Unlimited        \n\n\n"},
		{name: "long names are cut as Exchange cuts them", script: `New-Mailbox -Name "SystemMailbox{1f05a927-f89d-4056-8e35-b8e90bdc0abf}" -Alias "SystemMailbox{1f05a927-f89d}" -Password ` + pw,
			writes: 1, contains: []string{"SystemMailbox{1f05a927... SystemMailbox{1f0... ex01             Unlimited"}},
		{name: "by a secondary address, with its prefix", script: `(Get-Mailbox "smtp:admin@contoso.test").Name`, out: "Administrator\n"},
		{name: "by alias and by Identity", script: `(Get-Mailbox user1).PrimarySmtpAddress; (Get-Mailbox "contoso.test/Users/User One").Alias`,
			out: "user1@contoso.test\nuser1\n"},
		{name: "Format-List addresses as Exchange writes them", script: `Get-Mailbox Administrator | fl Name,EmailAddresses,Identity`,
			out: "\n\nName           : Administrator\nEmailAddresses : {SMTP:administrator@contoso.test, smtp:admin@contoso.test}\nIdentity       : contoso.test/Users/Administrator\n\n\n\n"},
		{name: "the password is never shown", script: `Get-Mailbox Administrator | fl *; Get-Mailbox | Select-Object * | Out-String`,
			lacks: []string{"P@ssw0rd", "Password"}},
		{name: "ResultSize", script: `(Get-Mailbox -ResultSize 1).Name`, out: "Administrator\n",
			errContains: []string{"WARNING: There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter."}},
		{name: "ResultSize Unlimited", script: `@(Get-Mailbox -ResultSize Unlimited).Count`, out: "2\n"},
		{name: "an unknown identity", script: `Get-Mailbox nobody`, fails: true,
			errContains: []string{"The operation couldn't be performed because object 'nobody' couldn't be found on 'ex01.contoso.test'.",
				"[Get-Mailbox], ManagementObjectNotFoundException", "Microsoft.Exchange.Management.RecipientTasks.GetMailbox"}},
		{name: "New- with -PrimarySmtpAddress", script: `New-Mailbox -Name "Lab User" -PrimarySmtpAddress "lab.user@contoso.test" -Password ` + pw, writes: 1,
			added:    []string{"  - Name: Lab User", "    PrimarySmtpAddress: lab.user@contoso.test", "    Password: Lab#Pass1"},
			contains: []string{"Lab User                  lab.user             ex01             Unlimited"}},
		{name: "New- with -UserPrincipalName", script: `New-Mailbox -Name "Lab Two" -UserPrincipalName "lab2@contoso.test" -Password ` + pw + ` | Out-Null; (Get-Mailbox lab2).Name`,
			writes: 1, out: "Lab Two\n", added: []string{"    PrimarySmtpAddress: lab2@contoso.test"}},
		{name: "New- with -Alias takes the default domain", script: `New-Mailbox "Lab Three" -Alias lab3 -Password ` + pw, writes: 1,
			added: []string{"    PrimarySmtpAddress: lab3@contoso.test"}},
		{name: "New- without a password", script: `New-Mailbox -Name x -PrimarySmtpAddress "x@contoso.test" -Password "plain"`, fails: true,
			errContains: []string{"Password"}},
		{name: "New- in a domain that is not accepted", script: `New-Mailbox -Name x -PrimarySmtpAddress "x@fabrikam.test" -Password ` + pw, fails: true,
			errContains: []string{"the domain of x@fabrikam.test is not an accepted domain"}},
		{name: "New- with an address in use", script: `New-Mailbox -Name x -PrimarySmtpAddress "admin@contoso.test" -Password ` + pw, fails: true,
			errContains: []string{"admin@contoso.test is already an address of mailbox"}},
		{name: "New- -WhatIf", script: `New-Mailbox -Name x -PrimarySmtpAddress "x@contoso.test" -Password ` + pw + ` -WhatIf`,
			contains: []string{`What if: Creating mailbox "x".`}},
		{name: "Remove- by address", script: `Remove-Mailbox "user1@contoso.test" -Confirm:$false`, writes: 1,
			removed: []string{"  - Name: User One", "    PrimarySmtpAddress: user1@contoso.test"}},
		{name: "Remove- from the pipeline", script: `Get-Mailbox | ? { $_.Alias -eq "user1" } | Remove-Mailbox -Confirm:$false`, writes: 1,
			removed: []string{"  - Name: User One"}},
		{name: "Remove- of an unknown mailbox", script: `Remove-Mailbox nobody -Confirm:$false`, fails: true,
			errContains: []string{"ManagementObjectNotFoundException"}},
	})
}
