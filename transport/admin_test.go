package transport

import (
	"errors"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
)

// TestViews groups held messages into Exchange's queues (spec §8.1-8.2): a delivery queue per
// next hop with its status, Submission and Unreachable always, Poison only when it holds one.
func TestViews(t *testing.T) {
	org := config.Default()
	org.SendConnectors = []config.SendConnector{{Name: "Fabrikam", AddressSpaces: []string{"SMTP:fabrikam.example;1"}, Enabled: true,
		Port: 25, SmartHosts: []string{"relay.fabrikam.example"}}}
	srv := &org.Servers[0]
	now := time.Date(2024, 3, 13, 10, 0, 0, 0, time.UTC)
	retry := now.Add(time.Minute)
	held := []heldMessage{
		{m: &queue.Message{ID: 2, Arrived: now, NextRetryTime: retry, LastRetryTime: now.Add(-time.Minute), Recipients: []queue.Recipient{
			{Address: "a@fabrikam.example", Status: queue.StatusPending, NextHop: "Fabrikam", LastError: "451 x", LastHost: "[192.0.2.1]:25", RetryCount: 2},
			{Address: "b@elsewhere.example", Status: queue.StatusUnreachable, LastError: noRouteError},
			{Address: "user1@contoso.test", Status: queue.StatusDelivered}}}},
		{m: &queue.Message{ID: 3, Arrived: now, Recipients: []queue.Recipient{{Address: "c@contoso.test", Status: queue.StatusPending}}}, active: true},
	}
	qs, ms := views(held, org, srv, now)
	type q struct {
		next, dtype, status string
		count               int
	}
	var got []q
	for _, x := range qs {
		got = append(got, q{x.NextHopDomain, x.DeliveryType, x.Status, x.MessageCount})
	}
	want := []q{{"relay.fabrikam.example", "SmartHostConnectorDelivery", "Retry", 1}, {"Submission", "Undefined", "Active", 1},
		{"Unreachable Domain", "Unreachable", "Ready", 1}}
	if len(got) != len(want) {
		t.Fatalf("queues %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("queue %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if qs[0].NextRetryTime != retry || qs[0].LastError == "" || qs[2].LastError != noRouteError {
		t.Errorf("queue fields %+v", qs)
	}
	if len(ms) != 3 || ms[0].Status != "Retry" || ms[0].RetryCount != 2 || ms[2].Status != "Active" {
		t.Errorf("messages %+v", ms)
	}
	sub, err := filterMessages(ms, `EX01\Submission`, "EX01")
	if err != nil || len(sub) != 1 || sub[0].Identity != `EX01\Submission\3` {
		t.Errorf("Submission: %+v %v", sub, err)
	}
	if _, err := filterMessages(ms, "Submission", "EX01"); !errors.Is(err, ErrNoSuchQueue) {
		t.Errorf("a queue name without the server: %v", err)
	}

	held = append(held, heldMessage{m: &queue.Message{ID: 4, Poison: true, Recipients: []queue.Recipient{{Address: "d@fabrikam.example", Status: queue.StatusPending, NextHop: "Fabrikam"}}}})
	qs, ms = views(held, org, srv, now)
	if last := qs[len(qs)-1]; last.Identity != `EX01\Poison` || last.MessageCount != 1 {
		t.Errorf("no Poison queue: %+v", qs)
	}
	if last := ms[len(ms)-1]; last.Status != "Suspended" || !last.ExpirationTime.IsZero() {
		t.Errorf("poison message %+v", last)
	}
}

// TestParseMessageIdentity takes the number from a Get-Message identity.
func TestParseMessageIdentity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{`EX01\Submission\42`, 42, true}, {`EX01\123456\7`, 7, true}, {"9", 9, true}, {`EX01\Submission`, 0, false}, {"", 0, false},
	} {
		got, err := ParseMessageIdentity(tc.in)
		if got != tc.want || (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNoSuchMessage)) {
			t.Errorf("%q: %d, %v", tc.in, got, err)
		}
	}
}
