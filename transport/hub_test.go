package transport

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpwire"
)

var key = []byte("organization key")

func startHub(t *testing.T, fs vfs.FS, edit func(*config.ReceiveConnector)) (*Hub, *queue.Store, string) {
	t.Helper()
	org := config.Default()
	srv := &org.Servers[0]
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		rc.Enabled = rc.Name == "Default EX01"
		rc.Bindings = []config.Binding{{Addr: netip.MustParseAddr("127.0.0.1")}}
		if rc.Enabled && edit != nil {
			edit(rc)
		}
	}
	dir := t.TempDir()
	if fs != nil {
		dir = "q"
	}
	st, err := queue.Open(dir, queue.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Org: org, Server: srv, Store: st, AuthKey: key})
	ls, errs := h.Listen(0)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.Shutdown(t.Context())
		_ = st.Close()
	})
	return h, st, ls[0].Addr.String()
}

type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	cl.reply() // banner
	return cl
}

// cmd sends a line and returns the final line of the reply.
func (c *client) cmd(line string) string {
	fmt.Fprintf(c.c, "%s\r\n", line)
	return c.reply()
}

func (c *client) reply() string {
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if len(l) < 4 || l[3] != '-' {
			return strings.TrimRight(l, "\r\n")
		}
	}
}

// exps authenticates as an Exchange server with the organization key.
func (c *client) exps(k []byte) string {
	r := c.cmd("X-EXPS GSSAPI")
	ch, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r, "334 "))
	if err != nil {
		c.t.Fatalf("challenge %q", r)
	}
	return c.cmd(base64.StdEncoding.EncodeToString(smtpwire.ExchangeAuthResponse(k, ch)))
}

func TestProxiedMessageIsQueuedAndDelivered(t *testing.T) {
	h, st, addr := startHub(t, nil, nil)
	c := dial(t, addr)
	c.cmd("EHLO ex01.contoso.test")
	if r := c.exps(key); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("X-EXPS: %q", r)
	}
	if r := c.cmd("XPROXYFROM SID=08DC42C8FF236A1F IP=203.0.113.7 PORT=4711 DOMAIN=mta.example SEQNUM=1 PERMS=15 AUTHSRC=Anonymous"); r != "250 XProxyFrom accepted" {
		t.Fatalf("XPROXYFROM: %q", r)
	}
	c.cmd("MAIL FROM:<a@example.org>")
	c.cmd("RCPT TO:<user1@contoso.test>")
	c.cmd("DATA")
	r := c.cmd("Subject: proxied\r\n\r\nbody\r\n.")
	if !strings.HasPrefix(r, "250 2.6.0 <") || !strings.HasSuffix(r, "Queued mail for delivery") {
		t.Fatalf("end of data: %q", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !h.Drained() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	items, _ := st.MailboxItems("user1@contoso.test")
	if len(items) != 1 {
		t.Fatalf("mailbox: %+v", items)
	}
	_, content, _ := st.MailboxContent("user1@contoso.test", items[0].ID)
	for _, want := range []string{
		"Received: from ex01.contoso.test (127.0.0.1) by ex01.contoso.test (127.0.0.1)",
		"X-MS-Exchange-Organization-OriginalClientIPAddress: 203.0.113.7\r\n",
		"X-MS-Exchange-Organization-AuthSource: ex01.contoso.test\r\n",
		"X-MS-Exchange-Organization-AuthAs: Anonymous\r\n",
		"Message-ID: <", // generated: the message had none
		"\r\n\r\nbody\r\n",
	} {
		if !strings.Contains(string(content), want) {
			t.Errorf("delivered message lacks %q:\n%s", want, content)
		}
	}
	if !strings.Contains(r, items[0].MessageID) || !strings.Contains(r, fmt.Sprintf("InternalId=%d,", items[0].ID)) {
		t.Errorf("reply %q does not name the queued message %+v", r, items[0])
	}
}

func TestWrongKeyAndHopCount(t *testing.T) {
	_, _, addr := startHub(t, nil, func(rc *config.ReceiveConnector) { rc.MaxHopCount = 2 })
	c := dial(t, addr)
	c.cmd("EHLO ex01.contoso.test")
	if r := c.exps([]byte("guessed")); r != "454 4.7.0 Temporary authentication failure" {
		t.Fatalf("wrong key: %q", r)
	}
	if r := c.exps(key); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("X-EXPS: %q", r)
	}
	c.cmd("MAIL FROM:<a@example.org>")
	c.cmd("RCPT TO:<user1@contoso.test>")
	c.cmd("DATA")
	if r := c.cmd("Received: a\r\nReceived: b\r\nReceived: c\r\n\r\nloop\r\n."); r != "554 5.4.6 Hop count exceeded - possible mail loop" {
		t.Errorf("hop count: %q", r)
	}
}

// TestStorageFailureIsTemporary: when the queue cannot sync, the client gets 451 4.3.0, never
// 250 (RELIABILITY §1.1), and the store refuses further writes.
func TestStorageFailureIsTemporary(t *testing.T) {
	toggle := &errorfs.Toggle{Injector: errorfs.ErrInjected}
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileWrite {
			return toggle.MaybeError(op)
		}
		return nil
	}))
	_, _, addr := startHub(t, fs, nil)
	c := dial(t, addr)
	c.cmd("EHLO ex01.contoso.test")
	c.exps(key)
	c.cmd("MAIL FROM:<a@example.org>")
	c.cmd("RCPT TO:<user1@contoso.test>")
	c.cmd("DATA")
	toggle.On()
	if r := c.cmd("Subject: x\r\n\r\nx\r\n."); r != "451 4.3.0 Temporary server error. Please try again later" {
		t.Errorf("storage failure answered %q", r)
	}
}

var _ = tls.VersionTLS12

func TestQueuedReplyIsR48(t *testing.T) {
	got := smtpwire.QueuedReply("<a@b>", 179554467247900, "ex01.contoso.test", 11511, 0.102).Text
	want := smtpwire.Render("R48", "msgid", "<a@b>", "internalid", "179554467247900", "hubfqdn", "ex01.contoso.test",
		"bytes", "11511", "secs", "0.102", "rate", "110.208").Text
	if got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	if g := smtpwire.NewGUID(); len(g) != 36 || g[8] != '-' || g[14] != '4' {
		t.Errorf("GUID %q", g)
	}
}

func TestScanHeaders(t *testing.T) {
	h := scanHeaders([]byte("Received: a\r\nSUBJECT: one\r\n two\r\nMessage-Id: <x@y>\r\nreceived: b\r\n\r\nbody"))
	if h.received != 2 || h.subject != "one two" || h.messageID != "<x@y>" || h.end != 65 {
		t.Errorf("%+v", h)
	}
}
