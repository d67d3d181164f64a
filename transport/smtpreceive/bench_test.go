package smtpreceive

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Hot-path benchmarks (issue 3): run with `go test -bench . -benchmem ./transport/smtpreceive`.

func BenchmarkParseEnvelope(b *testing.B) {
	ext := extensions{size: true, dsn: true, eightBit: true, binary: true, utf8: true}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cmd := parseCommand("MAIL FROM:<sender@example.org> SIZE=1024 BODY=8BITMIME")
		_, params, err := parsePath(cmd.Arg, "FROM:", true)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := parseMailParams(params, ext); err != nil {
			b.Fatal(err)
		}
		cmd = parseCommand("RCPT TO:<user1@contoso.test> NOTIFY=FAILURE")
		_, params, _ = parsePath(cmd.Arg, "TO:", true)
		if _, err := parseRcptParams(params, ext); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDot(b *testing.B, size int) {
	var msg bytes.Buffer
	for msg.Len() < size {
		msg.WriteString(strings.Repeat("x", 76) + "\r\n")
	}
	msg.WriteString(".\r\n")
	in := msg.Bytes()
	out := make([]byte, 32<<10)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	br := bufio.NewReaderSize(r, 4096)
	for i := 0; i < b.N; i++ {
		r.Reset(in)
		br.Reset(r)
		d := newDotReader(br, 0)
		for {
			if _, err := d.Read(out); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkDotReader1K(b *testing.B)   { benchDot(b, 1024) }
func BenchmarkDotReader100K(b *testing.B) { benchDot(b, 100<<10) }

func BenchmarkRenderQueued(b *testing.B) {
	w := bufio.NewWriter(io.Discard)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := smtpwire.Render("R48", "msgid", "<a@b>", "internalid", "179554467247900", "hubfqdn", "ex01.contoso.test",
			"bytes", "1024", "secs", "0.001", "rate", "1000.000")
		_, _ = w.WriteString(r.Text)
		_, _ = w.WriteString("\r\n")
	}
}

// discardSession accepts everything and reads the body to the end.
type discardSession struct{ *fakeSession }

func (discardSession) Data(ctx context.Context, r io.Reader) *smtpwire.Reply {
	_, _ = io.Copy(io.Discard, r)
	return smtpwire.Fixed("R55")
}

// BenchmarkSession measures the engine per message: command lines read, state checked,
// replies written, a 1 KiB body decoded, over an in-memory connection.
func BenchmarkSession(b *testing.B) {
	rc := *connector(b, "Default Frontend EX01")
	s := &Server{Role: rc.TransportRole, Version: config.Version2019,
		Select:     func(cs []*config.ReceiveConnector, _ netip.Addr) *config.ReceiveConnector { return cs[0] },
		NewSession: func(ci *ConnInfo) Session { return discardSession{&fakeSession{srv: &fakeBackend{}}} }}
	s.Serve()
	client, server := Pipe(netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:25"))
	s.ServeConn(server, []*config.ReceiveConnector{&rc})
	br := bufio.NewReader(client)
	readReply := func() {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if l[3] == ' ' {
				return
			}
		}
	}
	readReply()
	_, _ = io.WriteString(client, "EHLO bench.test\r\n")
	readReply()
	body := strings.Repeat(strings.Repeat("x", 76)+"\r\n", 13)
	msg := []byte("MAIL FROM:<a@example.org>\r\nRCPT TO:<user1@contoso.test>\r\nDATA\r\n" + body + ".\r\n")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = client.Write(msg)
		for j := 0; j < 4; j++ {
			readReply()
		}
	}
	b.StopTimer()
	client.Close()
}
