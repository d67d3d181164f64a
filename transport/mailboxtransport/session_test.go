package mailboxtransport

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpwire"
)

var key = []byte("organization key")

// start runs the service on ephemeral loopback ports and returns the address of each
// connector by name.
func start(t *testing.T) (*Service, *queue.Store, map[string]string) {
	t.Helper()
	org := config.Default()
	for i := range org.ReceiveConnectors {
		org.ReceiveConnectors[i].Bindings = []config.Binding{{Addr: netip.MustParseAddr("127.0.0.1")}}
	}
	st, err := queue.Open(t.TempDir(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Org: org, Server: &org.Servers[0], Store: st, AuthKey: key})
	for _, rc := range s.Connectors() {
		rc.TarpitInterval, rc.AuthTarpitInterval = 0, 0 // refusals at once (the tarpit is not under test)
	}
	ls, errs := s.Listen(0)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	s.Serve()
	t.Cleanup(func() {
		_ = s.Shutdown(t.Context())
		_ = st.Close()
	})
	addrs := map[string]string{}
	for _, l := range ls {
		for _, rc := range l.Connectors {
			addrs[rc.Name] = l.Addr.String()
		}
	}
	return s, st, addrs
}

type client struct {
	t      *testing.T
	c      net.Conn
	br     *bufio.Reader
	banner string
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	cl.banner = cl.reply()
	return cl
}

// cmd sends a line and returns the whole reply, lines joined by "\n".
func (c *client) cmd(line string) string {
	fmt.Fprintf(c.c, "%s\r\n", line)
	return c.reply()
}

func (c *client) reply() string {
	var out []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (so far %q)", err, out)
		}
		out = append(out, strings.TrimRight(l, "\r\n"))
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(out, "\n")
		}
	}
}

func (c *client) exps(k []byte) string {
	r := c.cmd("X-EXPS GSSAPI")
	ch, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r, "334 "))
	if err != nil {
		c.t.Fatalf("challenge %q", r)
	}
	return c.cmd(base64.StdEncoding.EncodeToString(smtpwire.ExchangeAuthResponse(k, ch)))
}

// TestMailboxTransportPortsAnswerAs2019 guards spec §13.20 (SANS SEC560 masscan of a 2019
// server): 475, 476 and 477 greet with the upper-case R94 banner and answer a command before
// EHLO with R95, not the R17 of the other connectors.
func TestMailboxTransportPortsAnswerAs2019(t *testing.T) {
	_, _, addrs := start(t)
	banner := regexp.MustCompile(`^220 ex01\.contoso\.test MICROSOFT ESMTP MAIL SERVICE READY AT [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$`)
	for _, name := range []string{"Default Mailbox Delivery EX01", "Mailbox Transport 476 EX01", "Mailbox Transport 477 EX01"} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, addrs[name])
			if !banner.MatchString(c.banner) {
				t.Errorf("banner %q", c.banner)
			}
			for _, cmd := range []string{"MAIL FROM:<a@example.org>", "RCPT TO:<user1@contoso.test>", "AUTH TLS", "STARTTLS"} {
				if r := c.cmd(cmd); r != "503 5.5.1 Bad sequence of commands" {
					t.Errorf("%s before EHLO: %q", cmd, r)
				}
			}
			ehlo := c.cmd("EHLO ex01.contoso.test")
			if !strings.HasPrefix(ehlo, "250-ex01.contoso.test Hello [127.0.0.1]\n") || !strings.Contains(ehlo, "\n250-X-EXPS GSSAPI NTLM\n") ||
				!strings.Contains(ehlo, "\n250-CHUNKING\n") || strings.Contains(ehlo, "AUTH") {
				t.Errorf("EHLO:\n%s", ehlo)
			}
			// Without X-EXPS nobody may submit (ExchangeServers only, spec §1).
			if r := c.cmd("MAIL FROM:<a@example.org>"); r != "530 5.7.1 Client was not authenticated" {
				t.Errorf("anonymous MAIL: %q", r)
			}
		})
	}
}

// TestMailboxDeliveryWritesTheMailbox: an Exchange server's session on 475 delivers into the
// mailbox store before its 250, with the "via Mailbox Transport" Received: line on top; an
// address without a mailbox is refused at RCPT. 476 takes no mail even from an Exchange server.
func TestMailboxDeliveryWritesTheMailbox(t *testing.T) {
	_, st, addrs := start(t)
	c := dial(t, addrs["Default Mailbox Delivery EX01"])
	c.cmd("EHLO ex01.contoso.test")
	if r := c.exps([]byte("guessed")); !strings.HasPrefix(r, "454 ") {
		t.Fatalf("wrong key: %q", r)
	}
	if r := c.exps(key); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("X-EXPS: %q", r)
	}
	for _, step := range []struct{ cmd, want string }{
		{"MAIL FROM:<a@example.org>", "250 2.1.0 Sender OK"},
		{"RCPT TO:<nobody@contoso.test>", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
		{"RCPT TO:<admin@contoso.test>", "250 2.1.5 Recipient OK"},
		{"RCPT TO:<administrator@contoso.test>", "250 2.1.5 Recipient OK"},
		{"RCPT TO:<user1@contoso.test>", "250 2.1.5 Recipient OK"},
	} {
		if r := c.cmd(step.cmd); r != step.want {
			t.Errorf("%s: %q, want %q", step.cmd, r, step.want)
		}
	}
	msg := "Subject: to the\r\n store\r\nMessage-ID: <m1@example.org>\r\n\r\nbody\r\n"
	r := c.cmd(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), msg))
	if !regexp.MustCompile(`^250 2\.6\.0 <m1@example\.org> \[InternalId=\d+, Hostname=ex01\.contoso\.test\] \d+ bytes in \d+\.\d{3}, [\d.]+ KB/sec Queued mail for delivery$`).MatchString(r) {
		t.Fatalf("end of data: %q", r)
	}
	admin, _ := st.MailboxItems("administrator@contoso.test")
	user, _ := st.MailboxItems("user1@contoso.test")
	if len(admin) != 1 || len(user) != 1 {
		t.Fatalf("items: %+v %+v", admin, user)
	}
	if a := admin[0]; a.MessageID != "<m1@example.org>" || a.Subject != "to the store" || a.From != "a@example.org" ||
		strings.Join(a.To, ",") != "admin@contoso.test,administrator@contoso.test" {
		t.Errorf("item %+v", a)
	}
	_, content, err := st.MailboxContent("user1@contoso.test", user[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^Received: from ex01\.contoso\.test \(127\.0\.0\.1\) by ex01\.contoso\.test \(127\.0\.0\.1\)\r\n with Microsoft SMTP Server id 15\.2\.\d+\.\d+ via Mailbox Transport;\r\n [A-Z][a-z]{2}, .*\r\nSubject: to the\r\n store\r\n`).Match(content) ||
		!strings.HasSuffix(string(content), "\r\n\r\nbody\r\n") {
		t.Errorf("content:\n%s", content)
	}

	c476 := dial(t, addrs["Mailbox Transport 476 EX01"])
	c476.cmd("EHLO ex01.contoso.test")
	if r := c476.exps(key); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("X-EXPS on 476: %q", r)
	}
	if r := c476.cmd("MAIL FROM:<a@example.org>"); r != "530 5.7.1 Client was not authenticated" {
		t.Errorf("MAIL on 476: %q", r)
	}
}

func TestScanHeaders(t *testing.T) {
	for _, tc := range []struct {
		in, id, subject string
		end             int
	}{
		{"Subject: a\r\n b\r\nMessage-Id: <x@y>\r\n\r\nbody", "<x@y>", "a b", 35},
		{"message-id:<z@y>\r\nSUBJECT:  first \r\nSubject: second\r\n\r\n", "<z@y>", "first", 53},
		{"X: 1\r\n\r\n", "", "", 6},
		{"no blank line", "", "", 13},
	} {
		h := scanHeaders([]byte(tc.in))
		if h.messageID != tc.id || h.subject != tc.subject || h.end != tc.end {
			t.Errorf("%q: %+v", tc.in, h)
		}
	}
}

func TestQueuedReply(t *testing.T) {
	got := smtpwire.QueuedReply("<a@b>", 179554467247900, "ex01.contoso.test", 11511, 0.102).Text
	want := smtpwire.Render("R48", "msgid", "<a@b>", "internalid", "179554467247900", "hubfqdn", "ex01.contoso.test",
		"bytes", "11511", "secs", "0.102", "rate", "110.208").Text
	if got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

func TestHeaderField(t *testing.T) {
	block := []byte("Subject: x\r\nx-ms-exchange-organization-network-message-id:  6f56-7d47 \r\nX: y\r\n")
	if got := headerField(block, networkIDField); got != "6f56-7d47" {
		t.Errorf("network message id %q", got)
	}
	if got := headerField(block, "Message-ID"); got != "" {
		t.Errorf("a field that is not there: %q", got)
	}
}
