package transport

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
)

// TestRetryInterval is spec §8.3's sequence: glitch retries, transient retries, then the
// connection-failure or message interval.
func TestRetryInterval(t *testing.T) {
	srv := config.Default().Servers[0]
	q := &scheduler{server: &srv}
	for _, tc := range []struct {
		failures    int
		connFailure bool
		want        time.Duration
	}{
		{1, true, time.Minute}, {4, false, time.Minute}, // QueueGlitchRetryCount 4 × 00:01:00
		{5, true, 5 * time.Minute}, {10, false, 5 * time.Minute}, // TransientFailureRetryCount 6 × 00:05:00
		{11, true, 10 * time.Minute}, // OutboundConnectionFailureRetryInterval
		{11, false, 5 * time.Minute}, // MessageRetryInterval (exlab: 5 min, spec [D])
	} {
		if got := q.retryInterval(tc.failures, tc.connFailure); got != tc.want {
			t.Errorf("failure %d (connection failure %v): %v, want %v", tc.failures, tc.connFailure, got, tc.want)
		}
	}
}

// TestPoisonThreshold: a record found InFlight at start counts once; at PoisonThreshold (2)
// the message goes to the Poison queue with Event 10001, is not attempted and does not expire,
// and Resume-Message releases it.
func TestPoisonThreshold(t *testing.T) {
	org := config.Default()
	org.SendConnectors = []config.SendConnector{{Name: "Internet", AddressSpaces: []string{"SMTP:*;1"}, Enabled: true, Port: 25,
		SmartHosts: []string{"[127.0.0.1]:1"}}}
	srv := &org.Servers[0]
	srv.MessageExpirationTimeout = config.TimeSpan(time.Millisecond)
	dir := t.TempDir()
	run := func(check func(h *Hub, st *queue.Store)) string {
		st, err := queue.Open(dir, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var logs bytes.Buffer
		h := New(Options{Org: org, Server: srv, Store: st, Resolver: routing.New(org), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err := h.sched.start(); err != nil {
			t.Fatal(err)
		}
		check(h, st)
		h.sched.stop()
		return logs.String()
	}
	m := &queue.Message{ID: 42, MessageID: "<p@x>", From: "a@example.org", Subject: "crashes", Arrived: time.Now().Add(-time.Hour),
		Recipients: []queue.Recipient{{Address: "b@example.net", Status: queue.StatusPending, NextHop: "Internet"}},
		InFlight:   true, PoisonCount: 1}
	// Left by a run that died during its second attempt.
	st, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Submit(queue.Submission{Message: m, Body: []byte("Subject: crashes\r\n\r\nx\r\n")}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	logs := run(func(h *Hub, st *queue.Store) {
		// A fixed wait on purpose: the test proves that nothing happens to a poison message
		// (no attempt, no expiry), and an absence has no condition to wait on; 200ms gives a
		// wrongly scheduled attempt or expiry the time to show.
		time.Sleep(200 * time.Millisecond)
		qs := h.Queues()
		var poison *QueueInfo
		for i := range qs {
			if qs[i].Identity == `EX01\Poison` {
				poison = &qs[i]
			}
		}
		if poison == nil || poison.MessageCount != 1 || poison.NextHopDomain != "Poison Message" || poison.DeliveryType != "Undefined" {
			t.Fatalf("queues: %+v", qs)
		}
		ms, _ := h.Messages(`EX01\Poison`)
		if len(ms) != 1 || ms[0].Status != "Suspended" || !ms[0].ExpirationTime.IsZero() {
			t.Errorf("poison message: %+v", ms)
		}
		if err := h.MessageAction("resume", `EX01\Poison\42`, WithoutNDR); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			done := true
			_ = st.Messages(func(*queue.Message) bool { done = false; return false })
			if done {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Error("the resumed message was neither attempted nor expired")
	})
	if !strings.Contains(logs, "EventID=10001") || !strings.Contains(logs, "1 messages have reached or exceeded the configured poison threshold of 2") {
		t.Errorf("no Event 10001:\n%s", logs)
	}
}

// TestPressureTransitions walks one resource through Exchange's four transitions (spec §8.5,
// UsedDiskSpace of Exchange 2019: 90/99/94/88).
func TestPressureTransitions(t *testing.T) {
	th := config.PressureThresholds{LowToMedium: 90, MediumToHigh: 99, HighToMedium: 94, MediumToLow: 88}
	level := pressureLow
	for _, step := range []struct {
		used int64
		want int32
	}{
		{50, pressureLow}, {89, pressureLow}, {90, pressureMedium}, {89, pressureMedium}, // hysteresis down to 88
		{88, pressureLow}, {99, pressureHigh}, {95, pressureHigh}, {94, pressureMedium}, {98, pressureMedium},
		{99, pressureHigh}, {80, pressureLow},
	} {
		level = next(level, step.used, th)
		if level != step.want {
			t.Fatalf("at %d%%: %s, want %s", step.used, levelNames[level], levelNames[step.want])
		}
	}
	p := &pressure{}
	p.level.Store(pressureMedium)
	if !p.refuses(false) || p.refuses(true) {
		t.Error("Medium refuses non-Exchange sources only")
	}
	p.level.Store(pressureHigh)
	if !p.refuses(true) {
		t.Error("High refuses Exchange servers too")
	}
}
