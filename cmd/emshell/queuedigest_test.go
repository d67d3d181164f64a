package emshell

import (
	"testing"

	"github.com/exlab/exlab/transport"
)

// busyQueues is a fake server whose hub has queues of several sizes.
type busyQueues struct {
	*fakeServer
	qs []transport.QueueInfo
}

func (b busyQueues) Queues() ([]transport.QueueInfo, error) { return b.qs, nil }

func TestQueueDigest(t *testing.T) {
	qs := []transport.QueueInfo{
		{Identity: `EX01\Submission`, DeliveryType: "Undefined", Status: "Ready", NextHopDomain: "Submission"},
		{Identity: `EX01\3`, DeliveryType: "SmtpDeliveryToMailbox", Status: "Ready", MessageCount: 12, NextHopDomain: "mailbox database 0123456789"},
		{Identity: `EX01\7`, DeliveryType: "DnsConnectorDelivery", Status: "Retry", MessageCount: 40, NextHopDomain: "fabrikam.test",
			LastError: "451 4.4.0 DNS query failed"},
		{Identity: `EX02\4`, DeliveryType: "DnsConnectorDelivery", Status: "Retry", MessageCount: 15, NextHopDomain: "fabrikam.test"},
		{Identity: `EX01\9`, DeliveryType: "DnsConnectorDelivery", Status: "Ready", MessageCount: 3, NextHopDomain: "tailspin.test"},
	}
	busy := func(f *fakeServer) Backend { return busyQueues{f, qs} }
	runCases(t, nil, busy, []cmdletCase{
		{name: "grouped by NextHopDomain, queues of 10 or more", script: "Get-QueueDigest -Server EX01,EX02",
			out: "\nGroupByValue                MessageCount DeferredMessageCount LockedMessageCount StaleMessageCount Details         \n" +
				"------------                ------------ -------------------- ------------------ ----------------- -------         \n" +
				"fabrikam.test                         55                    0                  0                 0 {EX01\\7, EX02\\4}\n" +
				"mailbox database 0123456789           12                    0                  0                 0 {EX01\\3}        \n\n\n"},
		{name: "one server", script: "Get-QueueDigest -Server EX02 | ft GroupByValue,MessageCount",
			out: "\nGroupByValue  MessageCount\n------------  ------------\nfabrikam.test           15\n\n\n"},
		{name: "a filter replaces the threshold", script: `Get-QueueDigest -Server EX01 -Filter "MessageCount -gt 0" | % { $_.GroupByValue + "=" + $_.MessageCount }`,
			out: "fabrikam.test=40\nmailbox database 0123456789=12\ntailspin.test=3\n"},
		{name: "grouped by Status", script: "Get-QueueDigest -Server EX01,EX02 -GroupBy Status | ft GroupByValue,MessageCount,Details",
			out: "\nGroupByValue MessageCount Details         \n------------ ------------ -------         \nRetry                  55 {EX01\\7, EX02\\4}\nReady                  12 {EX01\\3}        \n\n\n"},
		{name: "ResultSize", script: "(Get-QueueDigest -Server EX01,EX02 -ResultSize 1).GroupByValue", out: "fabrikam.test\n",
			errContains: []string{"WARNING: There are more results available than are currently displayed."}},
		{name: "DetailsLevel None", script: "(Get-QueueDigest -Server EX01 -DetailsLevel None | Select-Object -First 1).Details.Count", out: "0\n"},
		{name: "a bad GroupBy", script: "Get-QueueDigest -GroupBy Color", fails: true, errContains: []string{"Color"}},
		{name: "a bad ResultSize", script: "Get-QueueDigest -ResultSize many", fails: true, errContains: []string{"Cannot bind parameter 'ResultSize'."}},
	})
	runCases(t, nil, nil, []cmdletCase{
		{name: "quiet queues show nothing", script: "Get-QueueDigest -Server EX01", out: ""},
	})
}
