package emshell

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
)

// cmdletCase is one script against the validating fake server: its output (exact when out is
// set), its errors, how many times it wrote the organization, and the lines the file gained and
// lost.
type cmdletCase struct {
	name, script string
	fails        bool
	writes       int
	out          string
	contains     []string
	lacks        []string
	errContains  []string
	added        []string
	removed      []string
}

func runCases(t *testing.T, start []byte, backend func(*fakeServer) Backend, cases []cmdletCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			if start != nil {
				f.src = append([]byte(nil), start...)
			}
			var b Backend = f
			if backend != nil {
				b = backend(f)
			}
			sh := New(b)
			var out, errs bytes.Buffer
			err := sh.Run(context.Background(), c.script, &out, &errs)
			if (err != nil) != c.fails {
				t.Errorf("error %v, want failure %v\n%s", err, c.fails, errs.String())
			}
			if c.out != "" && out.String() != c.out {
				t.Errorf("output:\n%q\nwant\n%q", out.String(), c.out)
			}
			for _, w := range c.contains {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range c.lacks {
				if strings.Contains(out.String()+errs.String(), w) {
					t.Errorf("output shows %q:\n%s", w, out.String())
				}
			}
			for _, w := range c.errContains {
				if !strings.Contains(errs.String(), w) {
					t.Errorf("errors lack %q:\n%s", w, errs.String())
				}
			}
			if f.writes != c.writes {
				t.Errorf("%d writes, want %d", f.writes, c.writes)
			}
			before := config.DefaultYAML
			if start != nil {
				before = start
			}
			if c.writes == 0 && !bytes.Equal(f.src, before) {
				t.Error("the file changed")
			}
			bl, al := lines(before), lines(f.src)
			for _, l := range c.added {
				if bl[l] >= al[l] {
					t.Errorf("the file did not gain %q:\n%s", l, f.src)
				}
			}
			for _, l := range c.removed {
				if bl[l] <= al[l] {
					t.Errorf("the file did not lose %q", l)
				}
			}
			for l, n := range bl {
				if strings.HasPrefix(strings.TrimSpace(l), "#") && al[l] != n {
					t.Errorf("comment line %q: %d → %d", l, n, al[l])
				}
			}
		})
	}
}

// withSendConnector is the default organization with one send connector.
var withSendConnector = []byte(strings.Replace(string(config.DefaultYAML), "SendConnectors: []\n",
	"SendConnectors:\n  - Name: Internet\n    AddressSpaces: [\"SMTP:*;1\"]\n    SourceTransportServers: [EX01]\n    SmartHosts: [\"[127.0.0.1]:2626\"]\n    DNSRoutingEnabled: false\n", 1))

func TestSendConnectorCmdlets(t *testing.T) {
	if bytes.Equal(withSendConnector, config.DefaultYAML) {
		t.Fatal("the default has no empty SendConnectors list to fill")
	}
	runCases(t, withSendConnector, nil, []cmdletCase{
		{name: "Get- default view", script: "Get-SendConnector",
			out: "\nIdentity AddressSpaces Enabled\n-------- ------------- -------\nInternet {SMTP:*;1}    True   \n\n\n"},
		{name: "Format-List of chosen properties", script: "Get-SendConnector Internet | fl Identity,SmartHosts,DNSRoutingEnabled,Port,MaxMessageSize",
			out: "\n\nIdentity          : Internet\nSmartHosts        : {[127.0.0.1]:2626}\nDNSRoutingEnabled : False\nPort              : 25\nMaxMessageSize    : 35 MB (36,700,160 bytes)\n\n\n\n"},
		{name: "an unknown identity", script: "Get-SendConnector Nope", fails: true,
			errContains: []string{"The operation couldn't be performed because object 'Nope' couldn't be found on 'ex01.contoso.test'.",
				"[Get-SendConnector], ManagementObjectNotFoundException", "Microsoft.Exchange.Management.SystemConfigurationTasks.GetSendConnector"}},
		{name: "Set- one value and a multi-valued add", script: `Set-SendConnector Internet -Port 2525 -AddressSpaces @{Add="SMTP:fabrikam.test;5"}`, writes: 1,
			added: []string{"    Port: 2525", `    AddressSpaces: ["SMTP:*;1", "SMTP:fabrikam.test;5"]`}, removed: []string{`    AddressSpaces: ["SMTP:*;1"]`}},
		{name: "Set- from the pipeline", script: `Get-SendConnector | Set-SendConnector -ProtocolLoggingLevel Verbose`, writes: 1,
			added: []string{"    ProtocolLoggingLevel: Verbose"}},
		{name: "Set- -WhatIf writes nothing", script: `Set-SendConnector Internet -Enabled $false -WhatIf`,
			contains: []string{`What if: Setting Send connector "Internet".`}},
		{name: "a refused change writes nothing", script: `Set-SendConnector Internet -Port 70000`, fails: true, errContains: []string{"Port"}},
		{name: "a bad address space", script: `Set-SendConnector Internet -AddressSpaces "X400:c=US;1"`, fails: true,
			errContains: []string{"only SMTP address spaces are supported", "DataValidationException"}},
		{name: "New- with the server as the source", script: `New-SendConnector -Name "To Fabrikam" -Internet -AddressSpaces "SMTP:fabrikam.test;1"`, writes: 1,
			added: []string{"  - Name: To Fabrikam", "    SourceTransportServers: [EX01]", `    AddressSpaces: ["SMTP:fabrikam.test;1"]`},
			out:   "\nIdentity    AddressSpaces          Enabled\n--------    -------------          -------\nTo Fabrikam {SMTP:fabrikam.test;1} True   \n\n\n"},
		{name: "New- of an existing name", script: `New-SendConnector -Name Internet -AddressSpaces "SMTP:*;1"`, fails: true,
			errContains: []string{"Active Directory operation failed on ex01.contoso.test. The object 'CN=Internet,CN=Connections,", ",DC=contoso,DC=test' already exists.", "ADObjectAlreadyExistsException"}},
		{name: "Remove-", script: `Remove-SendConnector Internet -Confirm:$false`, writes: 1, removed: []string{"  - Name: Internet"}},
		{name: "Remove- -WhatIf", script: `Get-SendConnector Internet | Remove-SendConnector -WhatIf`,
			contains: []string{`What if: Removing Send connector "Internet".`}},
		{name: "Get-Help", script: "Get-Help New-SendConnector",
			contains: []string{"Use the New-SendConnector cmdlet to create a new Send connector.", "-AddressSpaces", "-SmartHosts"}},
	})
}

// TestNewCmdletsHelp: Get-Help of each cmdlet of this family prints Microsoft's synopsis
// (learn.microsoft.com's first sentence) and its parameters; the changers take -WhatIf.
func TestNewCmdletsHelp(t *testing.T) {
	cases := []struct {
		cmdlet, synopsis string
		params           []string
	}{
		{"Get-SendConnector", "Use the Get-SendConnector cmdlet to view the settings for a Send connector.", []string{"-Identity"}},
		{"Set-SendConnector", "Use the Set-SendConnector cmdlet to modify a Send connector.", []string{"-AddressSpaces", "-WhatIf"}},
		{"Remove-SendConnector", "Use the Remove-SendConnector cmdlet to delete a Send connector.", []string{"-Confirm"}},
		{"Get-Mailbox", "Use the Get-Mailbox cmdlet to view mailbox objects and attributes", []string{"-ResultSize"}},
		{"New-Mailbox", "Use the New-Mailbox cmdlet to create mailboxes and user accounts at the same time.", []string{"-Password", "-PrimarySmtpAddress", "-UserPrincipalName", "-WhatIf"}},
		{"Remove-Mailbox", "Use the Remove-Mailbox cmdlet to delete mailboxes and the associated user accounts.", []string{"-Permanent"}},
		{"Get-ADPermission", "Use the Get-ADPermission cmdlet to get permissions on an Active Directory object.", []string{"-User"}},
		{"Add-ADPermission", "Use the Add-ADPermission cmdlet to add permissions to an Active Directory object.", []string{"-ExtendedRights", "-AccessRights", "-Deny", "-WhatIf"}},
		{"Remove-ADPermission", "Use the Remove-ADPermission cmdlet to remove permissions from an Active Directory object.", []string{"-ExtendedRights"}},
		{"Get-TransportService", "Use the Get-TransportService cmdlet to view the settings of the Transport service", nil},
		{"Set-TransportService", "Use the Set-TransportService cmdlet to modify the settings of the Transport service", []string{"-MessageRetryInterval", "-MessageTrackingLogEnabled", "-ReceiveProtocolLogPath"}},
		{"Get-FrontendTransportService", "Use the Get-FrontEndTransportService cmdlet to view the configuration of the Front End Transport service", nil},
		{"Set-FrontendTransportService", "Use the Set-FrontEndTransportService cmdlet to modify the configuration of the Front End Transport service", []string{"-IntraOrgConnectorProtocolLoggingLevel", "-ReceiveProtocolLogMaxAge"}},
		{"Get-QueueDigest", "Use the Get-QueueDigest cmdlet to view information about message delivery queues", []string{"-GroupBy", "-DetailsLevel", "-ResultSize"}},
	}
	for _, c := range cases {
		t.Run(c.cmdlet, func(t *testing.T) {
			out, errs, err := run(t, newFake(), "Get-Help "+c.cmdlet)
			if err != nil {
				t.Fatalf("%v\n%s", err, errs)
			}
			if !strings.Contains(strings.Join(strings.Fields(out), " "), c.synopsis) {
				t.Errorf("no synopsis %q:\n%s", c.synopsis, out)
			}
			for _, p := range c.params {
				if !strings.Contains(out, p) {
					t.Errorf("no %s:\n%s", p, out)
				}
			}
		})
	}
	out, _, _ := run(t, newFake(), "Get-Help Set-FrontendTransportService")
	if strings.Contains(out, "-MessageRetryInterval") {
		t.Errorf("Set-FrontendTransportService offers a hub setting:\n%s", out)
	}
}
