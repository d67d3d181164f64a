package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestFaultInjection sets, lists and clears faults at run time with exlab fault, and checks
// what a client sees for each kind: a reply (literal and by spec row), a delay, a disconnect,
// a bandwidth limit, at each step, with counts, matches and probability; each injection is
// counted in /metrics and logged. Maintenance mode answers MAIL with 412 4.3.2.
func TestFaultInjection(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	fault := func(args ...string) string {
		t.Helper()
		out, errOut, code := exlab(t, append(append([]string{"fault"}, args...), "--data", s.data)...)
		if code != 0 {
			t.Fatalf("exlab fault %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	send := func(to string, body string) error {
		return sendMail(t, fe, "a@example.org", []string{to}, body)
	}
	smtpCode := func(err error) string {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
		}
		if err == nil {
			return "ok"
		}
		return "error: " + err.Error()
	}

	// A reply at RCPT, for one recipient pattern, twice.
	fault("set", "--name", "busy", "--connector", "Default Frontend EX01", "--step", "Rcpt",
		"--reply", "451 4.7.1 Try again later, closing", "--recipient", "user1@*", "--count", "2")
	for i, want := range []string{"451 4.7.1 Try again later, closing", "451 4.7.1 Try again later, closing", "ok"} {
		if got := smtpCode(send("user1@contoso.test", "Subject: f\r\n\r\nx\r\n")); got != want {
			t.Fatalf("message %d: %s, want %s", i+1, got, want)
		}
	}
	if err := send("admin@contoso.test", "Subject: f\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("another recipient: %v", err)
	}
	if out := fault("list"); !strings.Contains(out, "busy") || !regexpMatch(`busy\s+Default Frontend EX01\s+Rcpt\s+Reply\s+451 4.7.1 Try again later, closing\s+1\s+2\s+2`, out) {
		t.Fatalf("fault list:\n%s", out)
	}
	fault("clear", "busy")

	// A spec row at the connect step replaces the banner and ends the session.
	fault("set", "--name", "down", "--step", "Connect", "--reply-id", "R05")
	runTranscript(t, fe, "S: 421 4.3.2 Service not available, closing transmission channel\nS. \n")
	fault("clear", "down")

	// A delay at MAIL; probability 0 never fires.
	fault("set", "--name", "never", "--step", "Mail", "--disconnect", "--probability", "0")
	fault("set", "--name", "slow", "--step", "Mail", "--delay", "00:00:01", "--sender", "*@example.org")
	start := time.Now()
	if err := send("user1@contoso.test", "Subject: slow\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("delayed MAIL took %v", d)
	}
	fault("clear")

	// A disconnect at EHLO: no reply, the connection closes.
	fault("set", "--step", "Ehlo", "--disconnect", "--count", "1")
	runTranscript(t, fe, "S~ 220 .*\nC: EHLO client.example\nS. \n")

	// A reply at the end of data: the message is refused and not delivered.
	waitMailbox(t, s.data, "user1@contoso.test", 2)
	fault("set", "--name", "eod", "--step", "EndOfData", "--reply", "554 5.6.0 Corrupt message content", "--count", "1")
	if got := smtpCode(send("user1@contoso.test", "Subject: refused\r\n\r\nx\r\n")); !strings.Contains(got, "5.6.0 Corrupt message content") {
		t.Fatalf("end of data: %s", got)
	}
	// The proxy hop: PRX3 as the spec's row, counted as a proxy failure.
	fault("set", "--name", "prx", "--step", "Proxy", "--reply-id", "R64", "--count", "1")
	if got := smtpCode(send("user1@contoso.test", "Subject: prx\r\n\r\nx\r\n")); !strings.Contains(got, "4.7.0 Temporary server error. Please try again later. PRX3") {
		t.Fatalf("proxy: %s", got)
	}
	if err := send("user1@contoso.test", "Subject: after\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 3)

	// A bandwidth limit from DATA on: 6,000 bytes at 2,000 bytes/s take two seconds or more.
	fault("set", "--name", "slowlink", "--step", "Data", "--bandwidth", "2000", "--count", "1")
	start = time.Now()
	if err := send("admin@contoso.test", "Subject: big\r\n\r\n"+strings.Repeat(strings.Repeat("b", 98)+"\r\n", 60)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("6,000 bytes at 2,000 bytes/s took %v", d)
	}

	// exlab bench counts what the faults did and --expect asserts it: two RCPTs refused with
	// the spec's R41 (452 4.5.3), three messages accepted.
	fault("set", "--name", "rcptlimit", "--step", "Rcpt", "--reply-id", "R41", "--count", "2")
	out, errOut, code := exlab(t, "bench", "--target", fe, "--messages", "5", "--sessions", "1", "--per-session", "1",
		"--expect", "250 2.6.0=3,452 4.5.3=2,5xx=0")
	if code != 0 || !strings.Contains(errOut, "expect 452 4.5.3=2: got 2, ok") {
		t.Fatalf("bench --expect: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = exlab(t, "bench", "--target", fe, "--messages", "2", "--sessions", "1", "--expect", "452 4.5.3>=1")
	if code != 1 || !strings.Contains(errOut, "FAILED") {
		t.Fatalf("bench --expect that fails: exit %d\n%s", code, errOut)
	}

	// Bad rules are refused with the field named.
	_, errOut, code = exlab(t, "fault", "set", "--step", "Sometimes", "--delay", "00:00:01", "--data", s.data)
	if code == 0 || !strings.Contains(errOut, "Faults[0].Step") {
		t.Errorf("bad step: exit %d, %s", code, errOut)
	}
	_, errOut, code = exlab(t, "fault", "set", "--step", "Rcpt", "--reply-id", "R999", "--data", s.data)
	if code == 0 || !strings.Contains(errOut, "ReplyId") {
		t.Errorf("bad reply id: exit %d, %s", code, errOut)
	}

	// Maintenance mode: banner and EHLO as usual, MAIL gets 412 4.3.2.
	if out, _, code := exlab(t, "maintenance", "on", "--data", s.data); code != 0 || out != "HubTransport Inactive\n" {
		t.Fatalf("maintenance on: %d %q", code, out)
	}
	runTranscript(t, fe, "S~ 220 .*\nC: HELO client.example\nS~ 250 .*\nC: MAIL FROM:<a@example.org>\nS: 412 4.3.2 Service not active\nC: QUIT\nS~ 221 .*\n")
	exlab(t, "maintenance", "off", "--data", s.data)
	if err := send("user1@contoso.test", "Subject: back\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("after maintenance: %v", err)
	}

	m := scrape(t, s.data)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{`step="Rcpt"`, `action="Reply"`, `fault="busy"`}, 2},
		{[]string{`step="Connect"`, `fault="down"`}, 1},
		{[]string{`step="Mail"`, `fault="slow"`}, 1},
		{[]string{`step="EndOfData"`, `fault="eod"`}, 1},
		{[]string{`step="Proxy"`, `fault="prx"`}, 1},
		{[]string{`step="Data"`, `action="Bandwidth"`}, 1},
	} {
		if got := sample(t, m, "exlab_faults_injected_total", c.labels...); got != c.want {
			t.Errorf("exlab_faults_injected_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if sample(t, m, "exlab_faults_injected_total", `fault="never"`) > 0 {
		t.Error("a fault with probability 0 fired")
	}
	if got := sample(t, m, "exlab_proxy_failures_total", `prx="PRX3"`); got != 1 {
		t.Errorf("PRX3 proxy failures = %v", got)
	}
	if n := strings.Count(s.stderr(), `msg="fault injected"`); n < 8 {
		t.Errorf("%d faults logged, want every one", n)
	}
}

func regexpMatch(expr, s string) bool { return regexp.MustCompile(expr).MatchString(s) }

// TestFaultsFromConfig: Faults and ServerComponentState in the organization file apply from
// start, and exlab fault list shows them.
func TestFaultsFromConfig(t *testing.T) {
	cfg := labConfig(nil) + `
Faults:
  - Name: greylist
    Connector: EX01\Default Frontend EX01
    Step: Rcpt
    Action: Reply
    Reply: "451 4.7.1 Greylisted, please try again later"
    Recipient: "admin@*"
ServerComponentState:
  HubTransport: Active
`
	s := startServer(t, cfg, "")
	fe := s.address("Default Frontend EX01")
	runTranscript(t, fe, `S~ 220 .*
C: HELO client.example
S~ 250 .*
C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<admin@contoso.test>
S: 451 4.7.1 Greylisted, please try again later
C: RCPT TO:<user1@contoso.test>
S: 250 2.1.5 Recipient OK
`)
	out, _, _ := exlab(t, "fault", "list", "--data", s.data)
	if !regexpMatch(`greylist\s+EX01\\Default Frontend EX01\s+Rcpt\s+Reply\s+451 4.7.1 Greylisted, please try again later\s+1\s+0\s+1\s+recipient admin@\*`, out) {
		t.Errorf("fault list:\n%s", out)
	}
	if out, _, _ := exlab(t, "maintenance", "status", "--data", s.data); out != "HubTransport Active\n" {
		t.Errorf("maintenance status: %q", out)
	}
}
