package transport

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/mailboxtransport"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// BenchmarkMailboxHop is the hub's hand-over of a 1 KiB message to Mailbox Delivery over the
// in-process pipe, the store's synced commit included, from 20 goroutines at once (commits share
// fsyncs, as under load): what the Mailbox Transport hop adds to a message.
func BenchmarkMailboxHop(b *testing.B) {
	org := config.Default()
	srv := &org.Servers[0]
	st, err := queue.Open(b.TempDir(), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	mbx := mailboxtransport.New(mailboxtransport.Options{Org: org, Server: srv, Store: st, AuthKey: key})
	mbx.Serve()
	defer mbx.Shutdown(context.Background())
	to := netip.MustParseAddrPort("127.0.0.1:475")
	c := newMbxClient(MailboxDelivery{Addr: func() string { return to.String() }, PoolSize: 32,
		Dial: func(context.Context) (net.Conn, error) {
			cl, s := smtpreceive.Pipe(netip.MustParseAddrPort("127.0.0.1:40000"), to)
			mbx.ServeConn(s)
			return cl, nil
		}}, srv.Fqdn, key, srv.ProxyConnectTimeout.Duration(), srv.ProxyCommandTimeout.Duration())
	defer c.close()
	body := []byte("Message-ID: <bench@example.org>\r\nSubject: bench\r\nFrom: a@example.org\r\nTo: user1@contoso.test\r\n\r\n" +
		strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 14))
	m := &queue.Message{ID: 1, From: "a@example.org", HeaderEnd: int64(strings.Index(string(body), "\r\n\r\n") + 2)}
	b.SetParallelism(10)
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if reps, err := c.deliver(context.Background(), m, body, []string{"user1@contoso.test"}); err != nil || reps[0].code != 250 {
				b.Errorf("deliver: %v %v", reps, err)
				return
			}
		}
	})
	if used := processCPU() - cpu; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
