package smtpreceive

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// fakeSession records what reaches policy and accepts everything except what it is told to
// refuse (chasquid's TestCourier idea).
type fakeSession struct {
	srv *fakeBackend
}

type fakeBackend struct {
	mu       sync.Mutex
	messages []string
	refuse   map[string]*smtpwire.Reply // RCPT address → reply
	sizeLim  int64
}

func (f *fakeSession) Hello(ctx context.Context) {}
func (f *fakeSession) Mail(ctx context.Context, from string, o *MailOptions) *smtpwire.Reply {
	return nil
}
func (f *fakeSession) Rcpt(ctx context.Context, to string, o *RcptOptions) *smtpwire.Reply {
	return f.srv.refuse[to]
}
func (f *fakeSession) Data(ctx context.Context, r io.Reader) *smtpwire.Reply {
	b, err := io.ReadAll(r)
	if err != nil {
		return smtpwire.ReplyFor(err)
	}
	f.srv.mu.Lock()
	f.srv.messages = append(f.srv.messages, string(b))
	f.srv.mu.Unlock()
	return &smtpwire.Reply{Text: "250 2.6.0 queued"}
}
func (f *fakeSession) Reset()           {}
func (f *fakeSession) SizeLimit() int64 { return f.srv.sizeLim }
func (f *fakeSession) Auth(ctx context.Context, verb, mech string) (SASL, *smtpwire.Reply) {
	if verb == "X-EXPS" {
		return NewExpsServer([]byte("k"), func(bool) {}), nil
	}
	return nil, smtpwire.Fixed("R24")
}
func (f *fakeSession) Extension(ctx context.Context, verb, arg string) (*smtpwire.Reply, bool) {
	return nil, false
}
func (f *fakeSession) Close() {}

func (f *fakeBackend) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.messages...)
}

type testServer struct {
	srv  *Server
	addr string
	be   *fakeBackend
}

func startServer(t *testing.T, edit func(rc *config.ReceiveConnector), withTLS bool) *testServer {
	t.Helper()
	rc := *connector(t, "Default Frontend EX01")
	rc.Bindings = []config.Binding{{Addr: netip.MustParseAddr("127.0.0.1"), Port: 0}}
	rc.TarpitInterval = 0
	rc.AuthTarpitInterval = 0
	if edit != nil {
		edit(&rc)
	}
	be := &fakeBackend{refuse: map[string]*smtpwire.Reply{}, sizeLim: int64(rc.MaxMessageSize)}
	s := &Server{Role: rc.TransportRole, Version: config.Version2019,
		Select:     func(cs []*config.ReceiveConnector, _ netip.Addr) *config.ReceiveConnector { return cs[0] },
		NewSession: func(ci *ConnInfo) Session { return &fakeSession{srv: be} }}
	if withTLS {
		cert, err := SelfSignedCertificate(t.TempDir(), "ex01.contoso.test")
		if err != nil {
			t.Fatal(err)
		}
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ls, errs := s.Listen([]*config.ReceiveConnector{&rc}, 0, false)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	s.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &testServer{srv: s, addr: ls[0].Addr.String(), be: be}
}

// transcript runs a dialogue: "C: " lines are sent (with CRLF), "S: " lines must be read back
// exactly, "S~ " lines must match a regular expression, "S+ " skips a multi-line reply up to its
// final line, which must be the text; "C< " sends without a line ending.
func transcript(t *testing.T, addr, script string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i, line := range strings.Split(strings.Trim(script, "\n"), "\n") {
		line = strings.TrimLeft(line, "\t")
		if len(line) < 3 {
			continue
		}
		kind, text := line[:3], line[3:]
		text = strings.NewReplacer(`\r`, "\r", `\n`, "\n").Replace(text)
		switch kind {
		case "C: ":
			if _, err := c.Write([]byte(text + "\r\n")); err != nil {
				t.Fatalf("line %d: write: %v", i+1, err)
			}
		case "C< ":
			if _, err := c.Write([]byte(text)); err != nil {
				t.Fatalf("line %d: write: %v", i+1, err)
			}
		case "S+ ":
			// Skip continuation lines up to the final line of a multi-line reply, which must be text.
			for {
				got, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("line %d: want %q, read error %v", i+1, text, err)
				}
				if len(got) > 3 && got[3] == '-' {
					continue
				}
				if got != text+"\r\n" {
					t.Fatalf("line %d:\n got %q\nwant %q", i+1, got, text)
				}
				break
			}
		case "S: ", "S~ ":
			got, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("line %d: want %q, read error %v", i+1, text, err)
			}
			if !strings.HasSuffix(got, "\r\n") {
				t.Fatalf("line %d: reply %q does not end in CRLF", i+1, got)
			}
			got = strings.TrimSuffix(got, "\r\n")
			if kind == "S: " && got != text || kind == "S~ " && !regexp.MustCompile("^"+text+"$").MatchString(got) {
				t.Fatalf("line %d:\n got %q\nwant %q", i+1, got, text)
			}
		default:
			t.Fatalf("line %d: bad script line %q", i+1, line)
		}
	}
	return c
}

const banner = `S~ 220 ex01\.contoso\.test Microsoft ESMTP MAIL Service ready at \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}`

func TestSessionStateAndReplies(t *testing.T) {
	ts := startServer(t, nil, false)
	tests := []struct{ name, script string }{
		{"commands before hello", banner + `
			C: MAIL FROM:<a@b.c>
			S: 503 5.5.2 Send hello first
			C: RCPT TO:<a@b.c>
			S: 503 5.5.2 Send hello first
			C: DATA
			S: 503 5.5.2 Send hello first
			C: NOOP
			S: 250 2.0.0 OK
			C: RSET
			S: 250 2.0.0 Resetting
			C: QUIT
			S: 221 2.0.0 Service closing transmission channel`},
		{"order within a transaction", banner + `
			C: HELO client.example
			S: 250 ex01.contoso.test Hello [127.0.0.1]
			C: RCPT TO:<user1@contoso.test>
			S: 503 5.5.2 Need mail command
			C: DATA
			S: 503 5.5.2 Need mail command
			C: MAIL FROM:<a@example.org>
			S: 250 2.1.0 Sender OK
			C: MAIL FROM:<a@example.org>
			S: 503 5.5.2 Sender already specified
			C: DATA
			S: 503 5.5.2 Need rcpt command
			C: RCPT TO:<user1@contoso.test>
			S: 250 2.1.5 Recipient OK
			C: RSET
			S: 250 2.0.0 Resetting
			C: DATA
			S: 503 5.5.2 Need mail command`},
		{"bad syntax keeps the session usable", banner + `
			C: EHLO bad domain
			S: 501 5.5.4 Invalid domain name
			C: FOO
			S: 500 5.3.3 Unrecognized command 'FOO'
			C: HELP
			S: 214-This server supports the following commands:
			S: 214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH BDAT
			C: fOo bar
			S: 500 5.3.3 Unrecognized command 'fOo'
			C: QUIT
			S: 221 2.0.0 Service closing transmission channel`},
		{"paths without angle brackets, as Exchange takes them (spec §13.2)", banner + `
			C: HELO client.example
			S: 250 ex01.contoso.test Hello [127.0.0.1]
			C: MAIL FROM: info@example.org
			S: 250 2.1.0 Sender OK
			C: rcpt to:user1@contoso.test
			S: 250 2.1.5 Recipient OK
			C: RSET
			S: 250 2.0.0 Resetting
			C: MAIL FROM:a@example.org SIZE=10
			S: 250 2.1.0 Sender OK`},
		{"bad arguments keep the session usable", banner + `
			C: HELO client.example
			S: 250 ex01.contoso.test Hello [127.0.0.1]
			C: MAIL FROM:<a@@example.org>
			S: 501 5.1.7 Invalid address
			C: MAIL FROM:<a@example.org> FOO=BAR
			S: 501 5.5.4 Invalid arguments
			C: MAIL FROM:<a@example.org> SIZE=99999999999
			S: 552 5.3.4 Message size exceeds fixed maximum message size
			C: MAIL FROM:<> SIZE=10
			S: 250 2.1.0 Sender OK
			C: RCPT TO:<x@y@contoso.test>
			S: 501 5.1.3 Invalid address
			C: VRFY user1
			S: 252 2.1.5 Cannot VRFY user
			C: QUIT
			S: 221 2.0.0 Service closing transmission channel`},
		{"a command line that is too long gets one reply", banner + `
			C: HELO client.example
			S: 250 ex01.contoso.test Hello [127.0.0.1]
			C: NOOP ` + strings.Repeat("x", 10000) + `
			S: 500 5.3.3 Unrecognized command
			C: NOOP
			S: 250 2.0.0 OK`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { transcript(t, ts.addr, tt.script) })
	}
}

func TestDataAndPipelining(t *testing.T) {
	ts := startServer(t, nil, false)
	// Everything in one write: RFC 2920 pipelining, and a smuggling attempt inside DATA.
	transcript(t, ts.addr, banner+`
		C: EHLO client.example
		S+ 250 XRDST
		C< MAIL FROM:<a@example.org>\r\nRCPT TO:<user1@contoso.test>\r\nDATA\r\nSubject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\r\n.\r\nNOOP\r\n
		S: 250 2.1.0 Sender OK
		S: 250 2.1.5 Recipient OK
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		S: 250 2.6.0 queued
		S: 250 2.0.0 OK`)
	got := ts.be.got()
	if len(got) != 1 || got[0] != "Subject: x\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@example.org>\r\n" {
		t.Errorf("stored %q", got)
	}
}

// TestPipelinedBehindBody: a body sent after the 354 is read through the pooled 64 KiB body
// reader; what the client pipelined behind its end (the next transaction's commands, an
// over-long line) reaches the session's own reader in order, and command lines keep their
// 4 KiB limit (io.go, bodyReader and endBody).
func TestPipelinedBehindBody(t *testing.T) {
	ts := startServer(t, nil, false)
	// 117 KiB, several fills of the body reader; the script spells CRLF as \r\n (bodyEsc).
	body := strings.Repeat(strings.Repeat("b", 76)+"\r\n", 1500)
	bodyEsc := strings.ReplaceAll(body, "\r\n", `\r\n`)
	transcript(t, ts.addr, banner+`
		C: EHLO client.example
		S+ 250 XRDST
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<user1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C< Subject: one\r\n\r\n`+bodyEsc+`.\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<user1@contoso.test>\r\nDATA\r\n
		S: 250 2.6.0 queued
		S: 250 2.1.0 Sender OK
		S: 250 2.1.5 Recipient OK
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C< Subject: two\r\n\r\nshort\r\n.\r\nNOOP `+strings.Repeat("x", 10000)+`\r\nNOOP\r\n
		S: 250 2.6.0 queued
		S: 500 5.3.3 Unrecognized command
		S: 250 2.0.0 OK
		C: MAIL FROM:<c@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<user1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C< Subject: three\r\n\r\n`+bodyEsc+`.\r\n
		S: 250 2.6.0 queued`)
	got := ts.be.got()
	want := []string{"Subject: one\r\n\r\n" + body, "Subject: two\r\n\r\nshort\r\n", "Subject: three\r\n\r\n" + body}
	if len(got) != len(want) {
		t.Fatalf("%d messages stored, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: %d bytes, want %d (%.40q…)", i+1, len(got[i]), len(want[i]), got[i])
		}
	}
}

// TestBodyReaderBound: with maxBodyReaders out, a body is read through the session's own
// reader, whole, and no body reader is taken.
func TestBodyReaderBound(t *testing.T) {
	bodyReadersOut.Add(maxBodyReaders)
	defer bodyReadersOut.Add(-maxBodyReaders)
	ts := startServer(t, nil, false)
	body := strings.Repeat(strings.Repeat("c", 76)+"\r\n", 200)
	transcript(t, ts.addr, banner+`
		C: HELO client.example
		S: 250 ex01.contoso.test Hello [127.0.0.1]
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<user1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C< Subject: bound\r\n\r\n`+strings.ReplaceAll(body, "\r\n", `\r\n`)+`.\r\nNOOP\r\n
		S: 250 2.6.0 queued
		S: 250 2.0.0 OK`)
	if got := ts.be.got(); len(got) != 1 || got[0] != "Subject: bound\r\n\r\n"+body {
		t.Errorf("stored %d messages", len(got))
	}
	if n := bodyReadersOut.Load(); n != maxBodyReaders {
		t.Errorf("%d body readers out, want the %d the test holds", n, maxBodyReaders)
	}
}

func TestSizeAndRecipientLimits(t *testing.T) {
	ts := startServer(t, func(rc *config.ReceiveConnector) {
		rc.MaxMessageSize = 65536
		rc.MaxRecipientsPerMessage = 2
	}, false)
	big := strings.Repeat("x", 70000)
	transcript(t, ts.addr, banner+`
		C: HELO client.example
		S: 250 ex01.contoso.test Hello [127.0.0.1]
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<u1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C: RCPT TO:<u2@contoso.test>
		S: 250 2.1.5 Recipient OK
		C: RCPT TO:<u3@contoso.test>
		S: 452 4.5.3 Too many recipients
		C: DATA
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C: `+big+`
		C: .
		S: 552 5.3.4 Message size exceeds fixed maximum message size
		C: NOOP
		S: 250 2.0.0 OK`)
	if n := len(ts.be.got()); n != 0 {
		t.Errorf("%d messages stored; an oversized message must not be", n)
	}
}

func TestBDAT(t *testing.T) {
	ts := startServer(t, nil, false)
	transcript(t, ts.addr, banner+`
		C: HELO client.example
		S: 250 ex01.contoso.test Hello [127.0.0.1]
		C< BDAT 5\r\nhello
		S: 503 5.5.2 Need mail command
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<user1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C< BDAT 7\r\nab\ncd\r\nBDAT 3 LAST\r\nxyz
		S: 250 2.0.0 7 bytes received
		S: 250 2.6.0 queued
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<user1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C< BDAT 3\r\nx\r\r
		S: 250 2.0.0 3 bytes received
		C< BDAT 4 LAST\r\n\ny\r\n
		S: 250 2.6.0 queued
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<user1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C< BDAT 2\r\nab
		S: 250 2.0.0 2 bytes received
		C: RSET
		S: 250 2.0.0 Resetting
		C: BDAT x
		S: 501 5.5.4 Invalid arguments`)
	got := ts.be.got()
	// Bare LF and a CR split from its LF by a chunk boundary both end up as CRLF.
	if len(got) != 2 || got[0] != "ab\r\ncd\r\nxyz" || got[1] != "x\r\n\r\ny\r\n" {
		t.Errorf("stored %q", got)
	}
}

func TestTimeoutsAndProtocolErrors(t *testing.T) {
	ts := startServer(t, func(rc *config.ReceiveConnector) {
		rc.ConnectionInactivityTimeout = config.TimeSpan(300 * time.Millisecond)
		rc.MaxProtocolErrors = config.N(2)
	}, false)
	c := transcript(t, ts.addr, banner+`
		S: 451 4.7.0 Timeout waiting for client input`)
	if _, err := bufio.NewReader(c).ReadString('\n'); err != io.EOF {
		t.Errorf("connection still open after the inactivity timeout: %v", err)
	}
	transcript(t, ts.addr, banner+`
		C: FOO
		S: 500 5.3.3 Unrecognized command 'FOO'
		C: BAR
		S: 500 5.3.3 Unrecognized command 'BAR'
		C: BAZ
		S: 421 4.7.0 Too many errors on this connection, closing transmission channel`)
}

func TestSessionTimeoutDuringData(t *testing.T) {
	ts := startServer(t, func(rc *config.ReceiveConnector) {
		rc.ConnectionTimeout = config.TimeSpan(1500 * time.Millisecond)
		rc.ConnectionInactivityTimeout = config.TimeSpan(time.Second)
	}, false)
	c := transcript(t, ts.addr, banner+`
		C: HELO client.example
		S: 250 ex01.contoso.test Hello [127.0.0.1]
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<user1@contoso.test>
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 354 Start mail input; end with <CRLF>.<CRLF>`)
	// Dribble: each byte keeps the inactivity timer alive, ConnectionTimeout still ends it.
	br := bufio.NewReader(c)
	done := make(chan string)
	go func() { l, _ := br.ReadString('\n'); done <- l }()
	for i := 0; i < 40; i++ {
		if _, err := c.Write([]byte("x")); err != nil {
			break
		}
		select {
		case l := <-done:
			if !regexp.MustCompile(`^421 4\.4\.1 Connection timed out\. Total session duration: 00:00:0[1-9]\.\d{7}\r\n$`).MatchString(l) {
				t.Fatalf("got %q", l)
			}
			if n := len(ts.be.got()); n != 0 {
				t.Errorf("%d partial messages stored", n)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("dribbling client was never cut off")
}

func TestStartTLS(t *testing.T) {
	ts := startServer(t, nil, true)
	c := transcript(t, ts.addr, banner+`
		C: EHLO client.example
		S: 250-ex01.contoso.test Hello [127.0.0.1]
		S~ 250-.*
		S~ 250-.*
		S~ 250-.*
		S~ 250-.*
		S: 250-STARTTLS
		S~ 250-.*
		S~ 250-.*
		S~ 250-.*
		S~ 250-.*
		S~ 250-.*
		S~ 250-.*
		S~ 250-.*
		S: 250 XRDST
		C< STARTTLS\r\nNOOP\r\n
		S: 220 2.0.0 SMTP server ready`)
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(tc)
	// The NOOP pipelined behind STARTTLS was plaintext: it must not be answered inside TLS.
	_, _ = tc.Write([]byte("MAIL FROM:<a@b.c>\r\n"))
	l, _ := br.ReadString('\n')
	if l != "503 5.5.2 Send hello first\r\n" {
		t.Errorf("after STARTTLS got %q; want the state reset to before EHLO", l)
	}
	_, _ = tc.Write([]byte("EHLO client.example\r\n"))
	var ehlo []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		ehlo = append(ehlo, strings.TrimSpace(l))
		if l[3] == ' ' {
			break
		}
	}
	if strings.Contains(strings.Join(ehlo, "|"), "STARTTLS") || !strings.Contains(strings.Join(ehlo, "|"), "AUTH NTLM LOGIN") {
		t.Errorf("EHLO after TLS: %q (R08: no STARTTLS, AUTH NTLM LOGIN)", ehlo)
	}
}

func TestShutdownAnswersIdleSessions(t *testing.T) {
	ts := startServer(t, nil, false)
	c := transcript(t, ts.addr, banner+`
		C: HELO client.example
		S: 250 ex01.contoso.test Hello [127.0.0.1]`)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ts.srv.Shutdown(ctx)
	}()
	l, _ := bufio.NewReader(c).ReadString('\n')
	if l != "421 4.3.2 Service not available, closing transmission channel\r\n" {
		t.Errorf("got %q", l)
	}
}

func TestPerSourceLimit(t *testing.T) {
	ts := startServer(t, func(rc *config.ReceiveConnector) { rc.MaxInboundConnectionPerSource = config.N(1) }, false)
	transcript(t, ts.addr, banner)
	transcript(t, ts.addr, `S: 421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel`)
}

// TestConnectorLimit: MaxInboundConnection counts every client of the connector (R04, the
// same text as R03).
func TestConnectorLimit(t *testing.T) {
	ts := startServer(t, func(rc *config.ReceiveConnector) {
		rc.MaxInboundConnection, rc.MaxInboundConnectionPerSource = config.N(1), config.Unlimited
	}, false)
	transcript(t, ts.addr, banner)
	transcript(t, ts.addr, `S: 421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel`)
}
