package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// replace makes one edit of the lab config and fails the test when old is not there.
func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("config has no %q", old)
	}
	return strings.Replace(s, old, new, 1)
}

// limitsLab is the lab config with Default Frontend EX01's limits lowered so a test reaches each
// of them in a few commands.
func limitsLab(t *testing.T) string {
	cfg := labConfig(nil)
	cfg = replace(t, cfg, "    MaxMessageSize: 36 MB (37,748,736 bytes)\n    MaxRecipientsPerMessage: 200\n    MaxInboundConnectionPerSource: 20\n",
		"    MaxMessageSize: 64 KB (65,536 bytes)\n    MaxRecipientsPerMessage: 3\n    MaxInboundConnectionPerSource: Unlimited\n"+
			"    MaxInboundConnection: 150\n    MaxInboundConnectionPercentagePerSource: 2\n    MaxHeaderSize: 2048\n    MaxProtocolErrors: 2\n    MaxHopCount: 8\n")
	return cfg
}

// TestConnectorLimits: each of Exchange's per-connector limits over a real socket, with the
// exact reply, the command it comes at, and what the session can do afterwards.
func TestConnectorLimits(t *testing.T) {
	s := startServer(t, limitsLab(t), "")
	fe := s.address("Default Frontend EX01")
	const hello = "S~ 220 .*\nC: EHLO client.example\nS~ 250-.*\n" +
		"S~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250-.*\nS~ 250 XRDST\n"
	received := func(n int, by string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "C: Received: from hop%d.example (192.0.2.%d) by %s with SMTP; Mon, 1 Jan 2024 00:00:00 +0000\n", i, i+1, by)
		}
		return b.String()
	}
	for _, c := range []struct{ name, script string }{
		{"MaxRecipientsPerMessage: the extra recipient only, the message goes on", hello + `C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<user1@contoso.test>
S: 250 2.1.5 Recipient OK
C: RCPT TO:<admin@contoso.test>
S: 250 2.1.5 Recipient OK
C: RCPT TO:<administrator@contoso.test>
S: 250 2.1.5 Recipient OK
C: RCPT TO:<user1@contoso.test>
S: 452 4.5.3 Too many recipients
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: Subject: three
C:
C: x
C: .
S~ 250 2\.6\.0 .* Queued mail for delivery
C: QUIT
S~ 221 .*
`},
		{"MaxMessageSize declared with SIZE=, at MAIL; the session goes on", hello + `C: MAIL FROM:<a@example.org> SIZE=65537
S: 552 5.3.4 Message size exceeds fixed maximum message size
C: MAIL FROM:<a@example.org> SIZE=1000
S: 250 2.1.0 Sender OK
C: RSET
S: 250 2.0.0 Resetting
`},
		{"MaxMessageSize actual, at the end of data; the session goes on", hello + `C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<user1@contoso.test>
S: 250 2.1.5 Recipient OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: Subject: big
C:
` + strings.Repeat("C: "+strings.Repeat("x", 998)+"\n", 70) + `C: .
S: 552 5.3.4 Message size exceeds fixed maximum message size
C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
`},
		{"MaxHeaderSize, at the end of data; the session goes on", hello + `C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<user1@contoso.test>
S: 250 2.1.5 Recipient OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
` + strings.Repeat("C: X-Filler: "+strings.Repeat("h", 100)+"\n", 20) + `C:
C: body
C: .
S: 552 5.3.4 Message header size exceeds limit
C: NOOP
S: 250 2.0.0 OK
`},
		{"MaxHopCount, at the end of data (the frontend stops at the ninth Received: field)", hello + `C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<user1@contoso.test>
S: 250 2.1.5 Recipient OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
` + received(9, "mx.example.net") + `C: Subject: loop
C:
C: x
C: .
S: 554 5.4.6 Hop count exceeded - possible mail loop
`},
		{"MaxLocalHopCount (5): hops through the organization's own servers", hello + `C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<user1@contoso.test>
S: 250 2.1.5 Recipient OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
` + received(3, "mx.example.net") + received(4, "EX01.contoso.test") + `C: Subject: five local hops with the frontend's
C:
C: x
C: .
S~ 250 2\.6\.0 .*
C: MAIL FROM:<a@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<user1@contoso.test>
S: 250 2.1.5 Recipient OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
` + received(1, "mx.example.net") + received(5, "ex01.contoso.test") + `C: Subject: six local hops with the frontend's
C:
C: x
C: .
S: 554 5.4.6 Hop count exceeded - possible mail loop
`},
		{"MaxProtocolErrors (2): the third error closes the session", hello + `C: RCPT TO:<user1@contoso.test>
S: 503 5.5.2 Need mail command
C: FOO
S: 500 5.3.3 Unrecognized command 'FOO'
C: BAR
S: 421 4.7.0 Too many errors on this connection, closing transmission channel
S. 
`},
	} {
		t.Run(c.name, func(t *testing.T) { runTranscript(t, fe, strings.ReplaceAll(c.script, "C:\n", "C: \n")) })
	}

	// MaxInboundConnectionPercentagePerSource: 2% of MaxInboundConnection 150 is 3 sessions from
	// one address; the fourth gets 421 4.3.2 instead of the banner, and a place frees up when
	// a session ends.
	var held []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if l, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(l, "220 ") {
			t.Fatalf("session %d: %q", i+1, l)
		}
	}
	runTranscript(t, fe, "S: 421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel\nS. \n")
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(bannerOf(t, fe), "220 ") {
		if time.Now().After(deadline) {
			t.Fatal("no place after a session ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range held[1:] {
		c.Close()
	}
	if !strings.Contains(s.stderr(), "EventID=1021") {
		t.Error("no Event 1021 for the refused connection")
	}
}

// TestMessageRateLimit: MessageRateLimit per client address on Default Frontend (lowered to 3)
// and per user on Client Frontend (Exchange's default, 5 per user): the MAIL over the limit
// gets 421 4.4.2 and the session is closed; a new session from the same source is still over
// the limit; another user is not.
func TestMessageRateLimit(t *testing.T) {
	cfg := replace(t, labConfig(nil), "    MaxInboundConnectionPerSource: 20\n", "    MaxInboundConnectionPerSource: 20\n    MessageRateLimit: 3\n")
	cfg = replace(t, cfg, "  - Name: User One\n", "  - Name: User Two\n    PrimarySmtpAddress: user2@contoso.test\n    Password: P@ssw0rd\n  - Name: User One\n")
	s := startServer(t, cfg, "")
	fe := s.address("Default Frontend EX01")
	for i := 0; i < 3; i++ {
		if err := sendMail(t, fe, "a@example.org", []string{"user1@contoso.test"}, "Subject: rate\r\n\r\nx\r\n"); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	over := "S~ 220 .*\nC: HELO client.example\nS~ 250 .*\nC: MAIL FROM:<a@example.org>\n" +
		"S: 421 4.4.2 Message submission rate for this client has exceeded the configured limit\nS. \n"
	runTranscript(t, fe, over)
	runTranscript(t, fe, over)

	sub := s.address("Client Frontend EX01")
	c := dialSubmission(t, sub, "user1@contoso.test", "P@ssw0rd")
	for i := 0; i < 5; i++ {
		if err := c.SendMail("user1@contoso.test", []string{"admin@contoso.test"}, strings.NewReader("Subject: s\r\n\r\nx\r\n")); err != nil {
			t.Fatalf("submission %d: %v", i+1, err)
		}
	}
	err := c.SendMail("user1@contoso.test", []string{"admin@contoso.test"}, strings.NewReader("Subject: s\r\n\r\nx\r\n"))
	var se *smtp.SMTPError
	if !errorsAs(err, &se) || se.Code != 421 || se.EnhancedCode != (smtp.EnhancedCode{4, 4, 2}) ||
		se.Message != "Message submission rate for this client has exceeded the configured limit" {
		t.Fatalf("sixth submission: %v", err)
	}
	c2 := dialSubmission(t, sub, "user2@contoso.test", "P@ssw0rd")
	if err := c2.SendMail("user2@contoso.test", []string{"admin@contoso.test"}, strings.NewReader("Subject: s\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("another user: %v", err)
	}
	waitMailbox(t, s.data, "admin@contoso.test", 6)
}

// TestTimeoutsAndTarpit: ConnectionInactivityTimeout and ConnectionTimeout end sessions with
// their replies; TarpitInterval delays an anonymous client's 5xx refusals (Recipient Lookup,
// relay) with a protocol-log line, and never an authenticated client's.
func TestTimeoutsAndTarpit(t *testing.T) {
	cfg := replace(t, labConfig(nil), "  - Name: Client Frontend EX01\n    TarpitInterval: \"00:00:00\"\n", "  - Name: Client Frontend EX01\n    TarpitInterval: \"00:00:01\"\n")
	cfg = replace(t, cfg, "    MaxInboundConnectionPerSource: 20\n    TarpitInterval: \"00:00:00\"\n",
		"    MaxInboundConnectionPerSource: 20\n    RecipientValidationEnabled: true\n    TarpitInterval: \"00:00:01\"\n    ConnectionTimeout: \"00:00:03\"\n    ConnectionInactivityTimeout: \"00:00:01\"\n")
	s := startServer(t, cfg, "")
	fe := s.address("Default Frontend EX01")

	start := time.Now()
	runTranscript(t, fe, "S~ 220 .*\nS: 451 4.7.0 Timeout waiting for client input\nS. \n")
	if d := time.Since(start); d < time.Second {
		t.Errorf("idle session ended after %v, before ConnectionInactivityTimeout", d)
	}

	// Busy but too long: a NOOP every 400 ms keeps the session from being idle.
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	start = time.Now()
	var last string
	for time.Since(start) < 10*time.Second {
		l, err := br.ReadString('\n')
		if err != nil {
			break
		}
		last = l
		time.Sleep(400 * time.Millisecond)
		_, _ = c.Write([]byte("NOOP\r\n"))
	}
	// R91 with the session's duration as a .NET TimeSpan (spec §13.11).
	if !regexp.MustCompile(`^421 4\.4\.1 Connection timed out\. Total session duration: 00:00:0[3-6]\.\d{7}\r\n$`).MatchString(last) {
		t.Errorf("last reply %q, want 421 4.4.1 Connection timed out. Total session duration: 00:00:03.nnnnnnn", last)
	}
	if d := time.Since(start); d < 3*time.Second || d > 6*time.Second {
		t.Errorf("session ended after %v, ConnectionTimeout is 3 s", d)
	}

	// Every 5xx refusal of an anonymous client's MAIL or RCPT waits: Recipient Lookup's, a
	// relay attempt's.
	for _, c := range []struct{ rcpt, reply string }{
		{"nobody@contoso.test", "550 5.1.1 User unknown"},
		{"joe@fabrikam.example", "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"},
	} {
		start = time.Now()
		runTranscript(t, fe, "S~ 220 .*\nC: HELO client.example\nS~ 250 .*\nC: MAIL FROM:<a@example.org>\nS: 250 2.1.0 Sender OK\n"+
			"C: RCPT TO:<"+c.rcpt+">\nS: "+c.reply+"\nC: QUIT\nS~ 221 .*\n")
		if d := time.Since(start); d < time.Second {
			t.Errorf("%s answered after %v, TarpitInterval is 1 s", c.reply, d)
		}
	}
	// An authenticated client is never tarpitted: send-as refused at once on Client Frontend
	// (TarpitInterval 1 s there too).
	sc := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	start = time.Now()
	if err := sc.Mail("administrator@contoso.test", nil); err == nil || !strings.Contains(err.Error(), "Client does not have permissions to send as this sender") {
		t.Fatalf("send as another: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("an authenticated client's refusal took %v", d)
	}
	s.stop()
	files, _ := filepath.Glob(filepath.Join(s.data, "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive/RECV*.LOG"))
	var log []byte
	for _, f := range files {
		b, _ := os.ReadFile(f)
		log = append(log, b...)
	}
	if n := strings.Count(string(log), "Tarpit for '0.00:00:01'"); n != 2 {
		t.Errorf("%d Tarpit lines in the protocol log, want 2 (recipient lookup, relay)", n)
	}
}
