package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/transport/smtpreceive"
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
	s.stop() // flushes the logs
	files, _ := filepath.Glob(filepath.Join(s.data, "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive/RECV*.LOG"))
	if len(files) != 1 || !regexp.MustCompile(`RECV\d{10}-1\.LOG$`).MatchString(files[0]) {
		t.Fatalf("protocol log files: %v", files)
	}
	lines, err := smtpreceive.ParseProtocolLog(files[0])
	if err != nil {
		t.Fatal(err)
	}
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
}
