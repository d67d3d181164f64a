package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/transport"
)

// TestProtocolLog: one session on Default Frontend (ProtocolLoggingLevel Verbose in the
// default) is written to the Front End Transport's SmtpReceive log in Exchange's format, and
// parsed back field by field (spec §7.1).
func TestProtocolLog(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	if err := sendMail(t, fe, "a@example.org", []string{"user1@contoso.test"}, "Subject: logged\r\n\r\nsecret body\r\n"); err != nil {
		t.Fatal(err)
	}
	waitSessionEnded(t, s.data) // the client closed without QUIT
	s.stop()                    // flushes the logs
	files, _ := filepath.Glob(frontendReceiveLog(s.data))
	for _, f := range files { // one, or two when the test crosses the hour
		if !regexp.MustCompile(`RECV\d{10}-1\.LOG$`).MatchString(f) {
			t.Fatalf("protocol log files: %v", files)
		}
	}
	lines := protocolLogLines(t, frontendReceiveLog(s.data))
	want := []struct {
		event         byte
		data, context string // prefixes
	}{
		{'+', "", ""},
		{'>', "220 ex01.contoso.test Microsoft ESMTP MAIL Service ready at ", ""},
		{'<', "EHLO ", ""},
		// The EHLO reply on one line, two spaces after the code (spec §7.1, LOG-E16).
		{'>', "250  ex01.contoso.test Hello [127.0.0.1] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8 XRDST", ""},
		{'<', "MAIL FROM:<a@example.org>", ""},
		{'*', lines[0].Session + ";", "receiving message"},
		{'>', "250 2.1.0 Sender OK", ""},
		{'<', "RCPT TO:<user1@contoso.test>", ""},
		{'>', "250 2.1.5 Recipient OK", ""},
		{'<', "DATA", ""},
		{'>', "354 Start mail input; end with <CRLF>.<CRLF>", ""},
		{'*', "", "Proxy destination(s) obtained from OnProxyInboundMessage event. Correlation Id:"},
		{'>', "250 2.6.0 <", ""},
		{'-', "", "Remote"}, // the client closed without QUIT
	}
	if len(lines) != len(want) {
		for _, l := range lines {
			t.Logf("%c %q %q", l.Event, l.Data, l.Context)
		}
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, w := range want {
		l := lines[i]
		if l.Event != w.event || !strings.HasPrefix(l.Data, w.data) || !strings.HasPrefix(l.Context, w.context) || l.Seq != i ||
			l.Connector != `EX01\Default Frontend EX01` || l.Session != lines[0].Session || l.Local != fe ||
			!strings.HasPrefix(l.Remote, "127.0.0.1:") || time.Since(l.Time) > time.Minute {
			t.Errorf("line %d: %+v, want %c %q %q", i, l, w.event, w.data, w.context)
		}
	}
	if !regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString(lines[0].Session) {
		t.Errorf("session id %q is not 16 upper-case hex digits", lines[0].Session)
	}
	if got, _ := filepath.Glob(filepath.Join(s.data, "TransportRoles/Logs/Hub/ProtocolLog/SmtpReceive/RECV*.LOG")); len(got) != 0 {
		t.Errorf("the hub's connectors log nothing by default (ProtocolLoggingLevel None), but %v", got)
	}

	// The frontend's implicit send connector to the hub logs by default
	// (IntraOrgConnectorProtocolLoggingLevel Verbose): the proxy session in the frontend's
	// SmtpSend log, X-EXPS redacted, the body left out.
	sent := protocolLogLines(t, filepath.Join(s.data, "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpSend/SEND*.LOG"))
	var got []string
	for i, l := range sent {
		if l.Connector != "Intra-Organization SMTP Send Connector" || l.Seq != i || l.Session != sent[0].Session {
			t.Errorf("SmtpSend line %d: %+v", i, l)
		}
		got = append(got, string(l.Event)+" "+l.Data+" "+l.Context)
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"+  ", "< 220 ex01.contoso.test Microsoft ESMTP MAIL Service ready at ", "> EHLO ex01.contoso.test ",
		"> X-EXPS GSSAPI \n< 334 <authentication response> \n< 235 ",
		"> XPROXYFROM SID=", "> MAIL FROM:<a@example.org>", "> RCPT TO:<user1@contoso.test>", "> BDAT ",
		"< 250 2.6.0 <", "> QUIT ", "-  Local",
	} {
		if !strings.Contains(text, "\n"+want) && !strings.HasPrefix(text, want) {
			t.Errorf("no %q in the frontend's SmtpSend log:\n%s", want, text)
		}
	}
	if strings.Contains(text, "secret body") {
		t.Errorf("the message body is in the SmtpSend log:\n%s", text)
	}
}

// TestTrackingOneMessage: a message received on the frontend and delivered by the hub is
// followed in the tracking log (written by the Transport service only, spec §7.2) by its
// InternalMessageId from the 250 reply and its Message-ID: RECEIVE on the hub's Default
// connector from the frontend, then DELIVER, and the hub's session id in the protocol log
// correlation of source-context.
func TestTrackingOneMessage(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	c, err := smtp.Dial(s.address("Default Frontend EX01"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("user1@contoso.test", nil); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	fmt.Fprint(w, "Message-ID: <one@example.org>\r\nSubject: followed\r\n\r\nx\r\n")
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	m := regexp.MustCompile(`InternalId=(\d+)`).FindStringSubmatch(resp.StatusText)
	if m == nil {
		t.Fatalf("reply %q", resp.StatusText)
	}
	s.stop()
	events, err := transport.SearchTracking(filepath.Join(s.data, trackingDir), "", "", "", "<one@example.org>", time.Time{}, time.Time{})
	// RECEIVE, SEND to Mailbox Delivery (475), DELIVER (spec §7.2's sequence).
	if err != nil || len(events) != 3 || events[1]["event-id"] != "SEND" {
		t.Fatalf("%v: %v", err, events)
	}
	rcv, dlv := events[0], events[2]
	if rcv["event-id"] != "RECEIVE" || rcv["source"] != "SMTP" || rcv["connector-id"] != `EX01\Default EX01` || rcv["client-ip"] != "127.0.0.1" ||
		rcv["original-client-ip"] != "127.0.0.1" || rcv["internal-message-id"] != m[1] || rcv["sender-address"] != "a@example.org" ||
		rcv["recipient-address"] != "user1@contoso.test" || rcv["message-subject"] != "followed" || rcv["directionality"] != "Incoming" ||
		!regexp.MustCompile(`^[0-9A-F]{16};\d{4}-\d\d-\d\dT[0-9:.]+Z;0$`).MatchString(rcv["source-context"]) || rcv["schema-version"] != "15.02.1544.009" {
		t.Errorf("RECEIVE: %v", rcv)
	}
	if dlv["event-id"] != "DELIVER" || dlv["source"] != "STOREDRIVER" || dlv["internal-message-id"] != m[1] ||
		dlv["network-message-id"] != rcv["network-message-id"] || dlv["recipient-status"] != "250 2.1.5 Recipient OK" {
		t.Errorf("DELIVER: %v", dlv)
	}
	// The frontend writes no tracking log; its protocol log has the session the message came in.
	lines := protocolLogLines(t, frontendReceiveLog(s.data))
	found := false
	for _, l := range lines {
		found = found || (l.Event == '>' && strings.Contains(l.Data, "[InternalId="+m[1]+", Hostname=ex01.contoso.test]"))
	}
	if !found {
		t.Error("the frontend's protocol log does not show the hub's InternalId in the 250 reply")
	}
}
