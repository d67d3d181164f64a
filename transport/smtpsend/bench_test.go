package smtpsend

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/exlab/exlab/transport/smtpwire"
)

// fakeHub answers a proxied session over conn: greeting, EHLO with PIPELINING and CHUNKING,
// X-EXPS, then 250 for every command and BDAT chunk (consuming the chunk).
func fakeHub(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	bw := bufio.NewWriter(conn)
	bw.WriteString("220 hub\r\n")
	bw.Flush()
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "EHLO"):
			bw.WriteString("250-hub\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
		case line == "X-EXPS GSSAPI":
			bw.WriteString("334 Y2g=\r\n")
		case strings.HasPrefix(line, "BDAT "):
			f := strings.Fields(line)
			n := 0
			for _, c := range f[1] {
				n = n*10 + int(c-'0')
			}
			if _, err := br.Discard(n); err != nil {
				return
			}
			bw.WriteString("250 2.6.0 <x@y> [InternalId=1, Hostname=hub] Queued mail for delivery\r\n")
		case strings.HasPrefix(line, "XPROXYFROM"), strings.HasPrefix(line, "MAIL"), strings.HasPrefix(line, "RCPT"):
			bw.WriteString("250 OK\r\n")
		case line == "QUIT":
			bw.WriteString("221 bye\r\n")
			bw.Flush()
			return
		default:
			bw.WriteString("235 2.7.0 Authentication successful\r\n")
		}
		if br.Buffered() == 0 {
			bw.Flush()
		}
	}
}

// BenchmarkProxyRelay measures the frontend's proxy hop per 1 KiB message over a pooled session:
// envelope replay, BDAT streaming, reply parsing.
func BenchmarkProxyRelay(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go fakeHub(c)
		}
	}()
	p := &Proxy{Addr: func() string { return l.Addr().String() }, HeloName: "fe.test", AuthKey: []byte("k"),
		ConnectTimeout: 1e9, CommandTimeout: 1e10, PoolSize: 4}
	defer p.Close()
	env := &Envelope{ProxyFrom: smtpwire.ProxyFrom{SessionID: "1", IP: "192.0.2.1", Port: 1, Helo: "c", AuthSrc: "Anonymous"}.Format(),
		From: "a@example.org", Recipients: []Recipient{{Address: "user1@contoso.test"}}}
	body := []byte(strings.Repeat(strings.Repeat("x", 76)+"\r\n", 13))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t, err := p.Begin(context.Background(), env)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.Write(body); err != nil {
			b.Fatal(err)
		}
		if _, err := t.End(); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = io.Discard
