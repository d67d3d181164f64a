package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/exlab/exlab/cmd/adminapi"
)

// TestStoredContentIsCRLF: whatever line ends a client sends to Default Frontend, in DATA or
// in BDAT chunks (bare LF, bare CR, a CRLF split across two chunks), the message stored in the
// mailbox has CRLF line ends only. The frontend's receive engine normalizes them; the
// in-process hops behind it (frontend → hub → Mailbox Transport, over smtpreceive.Pipe) carry
// that content and do not scan their BDAT chunks again (conn.cleanPeer), so this test holds
// the whole chain to it.
func TestStoredContentIsCRLF(t *testing.T) {
	s := startServer(t, "", "")
	e := dialEdges(t, s.address("Default Frontend EX01")) // reads the 220
	say := func(line, wantCode string) {
		t.Helper()
		if r, _ := e.cmd(line); !strings.HasPrefix(r[strings.LastIndex(r, "\n")+1:], wantCode+" ") {
			t.Fatalf("after %q: %q, want %s", line, r, wantCode)
		}
	}
	say("EHLO client.example\r\n", "250")
	say("MAIL FROM:<a@example.org>\r\n", "250")
	say("RCPT TO:<user1@contoso.test>\r\n", "250")
	say("DATA\r\n", "354")
	say("Subject: data\r\n\r\nbare lf\nbare cr\rend\r\n.\r\n", "250")
	say("MAIL FROM:<a@example.org>\r\n", "250")
	say("RCPT TO:<user1@contoso.test>\r\n", "250")
	one, two := "Subject: bdat\r\n\r\nsplit\r", "\nbare lf\nbare cr\rend\r\n"
	say(fmt.Sprintf("BDAT %d\r\n%s", len(one), one), "250")
	say(fmt.Sprintf("BDAT %d LAST\r\n%s", len(two), two), "250")
	say("QUIT\r\n", "221")

	waitMailbox(t, s.data, "user1@contoso.test", 2)
	cl := adminapi.Dial(s.data)
	items, err := cl.MailboxItems("user1@contoso.test")
	if err != nil || len(items) != 2 {
		t.Fatalf("mailbox items: %d, %v", len(items), err)
	}
	for _, it := range items {
		_, content, err := cl.MailboxContent("user1@contoso.test", it.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range content {
			if (b == '\n' && (i == 0 || content[i-1] != '\r')) || (b == '\r' && (i+1 == len(content) || content[i+1] != '\n')) {
				t.Errorf("message %q: a bare %q at %d:\n%q", it.Subject, b, i, content)
				break
			}
		}
		if !strings.Contains(string(content), "bare lf\r\nbare cr\r\nend\r\n") {
			t.Errorf("message %q: the body is not there, line ends made CRLF:\n%q", it.Subject, content)
		}
	}
}
