package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/mailboxtransport"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// startHubWithMailbox runs a hub whose mailbox deliveries go over an in-process pipe to a
// Mailbox Transport Delivery service on the same store; while down is set, the hop's dial
// fails as a stopped MSExchangeDelivery's would.
func startHubWithMailbox(t *testing.T, down *atomic.Bool) (*Hub, *queue.Store, string) {
	t.Helper()
	org := config.Default()
	srv := &org.Servers[0]
	srv.QueueGlitchRetryInterval = config.TimeSpan(time.Hour) // retried by the test only
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		rc.Enabled = rc.Name == "Default EX01"
		rc.Bindings = []config.Binding{{Addr: netip.MustParseAddr("127.0.0.1")}}
	}
	st, err := queue.Open(t.TempDir(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mbx := mailboxtransport.New(mailboxtransport.Options{Org: org, Server: srv, Store: st, AuthKey: key})
	mbx.Serve() // no listener: the pipe is its only way in
	to := netip.MustParseAddrPort("127.0.0.1:475")
	md := &MailboxDelivery{Addr: func() string { return to.String() }, PoolSize: 2,
		Dial: func(context.Context) (net.Conn, error) {
			if down.Load() {
				return nil, errors.New("connection refused")
			}
			c, s := smtpreceive.Pipe(netip.MustParseAddrPort("127.0.0.1:40000"), to)
			mbx.ServeConn(s)
			return c, nil
		}}
	h := New(Options{Org: org, Server: srv, Store: st, AuthKey: key, MailboxDelivery: md})
	ls, errs := h.Listen(0)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.Shutdown(t.Context())
		_ = mbx.Shutdown(t.Context())
		_ = st.Close()
	})
	return h, st, ls[0].Addr.String()
}

func submit(t *testing.T, addr, rcpt, subject string) string {
	t.Helper()
	c := dial(t, addr)
	c.cmd("EHLO ex01.contoso.test")
	if r := c.exps(key); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("X-EXPS: %q", r)
	}
	c.cmd("MAIL FROM:<a@example.org>")
	c.cmd("RCPT TO:<" + rcpt + ">")
	c.cmd("DATA")
	return c.cmd("Subject: " + subject + "\r\n\r\nbody\r\n.")
}

// TestMailboxDeliveryHop: a message to a local mailbox is in the mailbox when the hub answers
// 250 (Mailbox Delivery wrote it first), with the Mailbox Transport's Received: line, and the
// hub keeps no record of it.
func TestMailboxDeliveryHop(t *testing.T) {
	var down atomic.Bool
	h, st, addr := startHubWithMailbox(t, &down)
	for i := range 3 { // the pooled session carries the next messages
		if r := submit(t, addr, "user1@contoso.test", "hop"); !strings.HasPrefix(r, "250 2.6.0 <") {
			t.Fatalf("message %d: %q", i, r)
		}
		items, _ := st.MailboxItems("user1@contoso.test")
		if len(items) != i+1 {
			t.Fatalf("after message %d the mailbox has %d items", i, len(items))
		}
		_, content, _ := st.MailboxContent("user1@contoso.test", items[i].ID)
		if !strings.HasPrefix(string(content), "Received: from ex01.contoso.test (127.0.0.1) by ex01.contoso.test (127.0.0.1)\r\n with Microsoft SMTP Server id") ||
			!strings.Contains(string(content), " via Mailbox Transport;\r\n") || !strings.Contains(string(content), "X-MS-Exchange-Organization-AuthAs: ") {
			t.Errorf("content:\n%s", content)
		}
	}
	n := 0
	_ = st.Messages(func(*queue.Message) bool { n++; return true })
	if n != 0 || len(h.sched.held()) != 0 {
		t.Errorf("the hub kept %d records, %d entries", n, len(h.sched.held()))
	}
}

// TestMailboxDeliveryQueueWhileDown: with Mailbox Delivery unreachable the hub still takes the
// message (250), and Get-Queue shows it in the SmtpDeliveryToMailbox queue of the mailbox
// database with Exchange's connection-failure LastError; Retry-Queue delivers it once the
// service is back.
func TestMailboxDeliveryQueueWhileDown(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	h, st, addr := startHubWithMailbox(t, &down)
	if r := submit(t, addr, "user1@contoso.test", "held"); !strings.HasPrefix(r, "250 2.6.0 <") {
		t.Fatalf("end of data: %q", r)
	}
	db := h.opt.Server.MailboxDatabaseName()
	var q *QueueInfo
	for _, x := range h.Queues() {
		if x.DeliveryType == "SmtpDeliveryToMailbox" {
			q = &x
		}
	}
	if q == nil || q.NextHopDomain != db || q.MessageCount != 1 || q.Status != "Retry" ||
		!strings.Contains(q.LastError, "{LED=441 4.4.1 Error encountered while communicating with primary target IP address: \"Failed to connect. Winsock error code: 10061") ||
		!strings.Contains(q.LastError, "The last endpoint attempted was 127.0.0.1:475}") {
		t.Fatalf("queues: %+v", h.Queues())
	}
	if !strings.HasPrefix(db, "Mailbox Database ") || len(db) != len("Mailbox Database 0123456789") {
		t.Errorf("database %q", db)
	}
	ms, err := h.Messages(q.Identity)
	if err != nil || len(ms) != 1 || ms[0].Subject != "held" || ms[0].RetryCount != 1 {
		t.Fatalf("messages %+v %v", ms, err)
	}
	if items, _ := st.MailboxItems("user1@contoso.test"); len(items) != 0 {
		t.Fatalf("delivered while down: %+v", items)
	}
	down.Store(false)
	if n, err := h.RetryQueue(q.Identity, RetryNow); n != 1 || err != nil {
		t.Fatalf("Retry-Queue: %d %v", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if items, _ := st.MailboxItems("user1@contoso.test"); len(items) == 1 && len(h.sched.held()) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not delivered after Retry-Queue: %+v", h.Queues())
}

func TestMailboxHop(t *testing.T) {
	for _, tc := range []struct {
		hop, db string
		ok      bool
	}{
		{mailboxHop("Mailbox Database 0471695037"), "Mailbox Database 0471695037", true},
		{"Internet", "", false},
		{"", "", false},
	} {
		if db, ok := mailboxDatabaseOf(tc.hop); db != tc.db || ok != tc.ok {
			t.Errorf("%q: %q %v", tc.hop, db, ok)
		}
	}
}
