package emshell

import (
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
)

// hubOnly is the default organization with a second server that runs only the hub.
var hubOnly = []byte(strings.Replace(string(config.DefaultYAML), "\nAcceptedDomains:\n",
	"  - Name: EX02\n    Fqdn: ex02.contoso.test\n    Roles: [HubTransport]\n\nAcceptedDomains:\n", 1))

func TestTransportServiceCmdlets(t *testing.T) {
	runCases(t, nil, nil, []cmdletCase{
		{name: "Get-TransportService's table", script: "Get-TransportService",
			out: "\nName MessageTrackingLogEnabled MessageRetryInterval MessageExpirationTimeout\n---- ------------------------- -------------------- ------------------------\n" +
				"EX01 True                      00:05:00             2.00:00:00              \n\n\n"},
		{name: "Format-List of the retry settings (spec §8.3)", script: "Get-TransportService EX01 | fl *Retry*",
			out: "\n\nMessageRetryInterval                   : 00:05:00\nOutboundConnectionFailureRetryInterval : 00:10:00\nQueueGlitchRetryCount                  : 4\n" +
				"QueueGlitchRetryInterval               : 00:01:00\nTransientFailureRetryCount             : 6\nTransientFailureRetryInterval          : 00:05:00\n\n\n\n"},
		{name: "the Front End Transport service has only its own settings", script: "Get-FrontendTransportService ex01.contoso.test | fl",
			contains: []string{"IntraOrgConnectorProtocolLoggingLevel : Verbose", "ReceiveProtocolLogMaxAge              : 30.00:00:00", "Name                                  : EX01"},
			lacks:    []string{"MessageRetryInterval", "MessageTrackingLog"}},
		{name: "an unknown server", script: "Get-TransportService EX09", fails: true,
			errContains: []string{"The operation couldn't be performed because object 'EX09' couldn't be found on 'ex01.contoso.test'.", "[Get-TransportService], ManagementObjectNotFoundException"}},
		{name: "Set-TransportService: retry and tracking settings", script: `Set-TransportService EX01 -MessageRetryInterval 00:00:10 -MessageTrackingLogEnabled $false -MessageTrackingLogMaxFileSize 20MB -ExternalDNSServers 127.0.0.1:5353`,
			writes: 1, added: []string{`    MessageRetryInterval: "00:00:10"`, "    MessageTrackingLogEnabled: false", "    MessageTrackingLogMaxFileSize: 20 MB (20,971,520 bytes)"}},
		{name: "Set- then Get- shows the new value", script: `Get-TransportService | Set-TransportService -PoisonThreshold 5; (Get-TransportService EX01).PoisonThreshold`,
			writes: 1, out: "5\n", added: []string{"    PoisonThreshold: 5"}},
		{name: "a value out of range writes nothing", script: `Set-TransportService EX01 -QueueGlitchRetryCount 16`, fails: true, errContains: []string{"QueueGlitchRetryCount"}},
		{name: "a bad boolean", script: `Set-TransportService EX01 -MessageTrackingLogEnabled maybe`, fails: true, errContains: []string{"MessageTrackingLogEnabled"}},
		{name: "-WhatIf", script: `Set-TransportService EX01 -PoisonThreshold 3 -WhatIf`, contains: []string{`What if: Setting Transport service "EX01".`}},
		{name: "Set-FrontendTransportService", script: `Set-FrontendTransportService EX01 -IntraOrgConnectorProtocolLoggingLevel None -ReceiveProtocolLogMaxAge 7.00:00:00`,
			writes: 1, added: []string{"    IntraOrgConnectorProtocolLoggingLevel: None", `    ReceiveProtocolLogMaxAge: "7.00:00:00"`}},
		{name: "Set-FrontendTransportService refuses hub settings", script: `Set-FrontendTransportService EX01 -MessageRetryInterval 00:00:10`, fails: true,
			errContains: []string{"A parameter cannot be found that matches parameter name 'MessageRetryInterval'."}},
		{name: "a bad enum value", script: `Set-FrontendTransportService EX01 -IntraOrgConnectorProtocolLoggingLevel Loud`, fails: true,
			errContains: []string{"Loud"}},
	})
	runCases(t, hubOnly, nil, []cmdletCase{
		{name: "a hub-only server has no Front End Transport service", script: "(Get-FrontendTransportService).Name; (Get-TransportService).Name", out: "EX01\nEX01\nEX02\n"},
		{name: "Set- of the second server", script: "Set-TransportService EX02 -PoisonThreshold 4", writes: 1, added: []string{"    PoisonThreshold: 4"}},
		{name: "Set-FrontendTransportService of a hub-only server", script: "Set-FrontendTransportService EX02 -IntraOrgConnectorProtocolLoggingLevel None", fails: true,
			errContains: []string{"ManagementObjectNotFoundException"}},
	})
}
