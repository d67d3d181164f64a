package smtpreceive

// Issue 13's edges of the receive engine over real sockets: bare EHLO, bracket-less paths,
// binary input, what the protocol log may hold, the tarpit on every 5xx, ConnectionTimeout's
// duration (spec §13.1, 13.2, 13.6-13.11).

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// edgeServer is a Default Frontend engine on 127.0.0.1:0 with a protocol log, whose sessions
// report the HELO name they were given.
type edgeServer struct {
	srv    *Server
	addr   string
	logDir string
	be     *fakeBackend
	mu     sync.Mutex
	helos  []string
}

type heloSession struct {
	fakeSession
	ci *ConnInfo
	es *edgeServer
}

func (h *heloSession) Hello(ctx context.Context) {
	h.es.mu.Lock()
	h.es.helos = append(h.es.helos, h.ci.Helo)
	h.es.mu.Unlock()
}

func startEdgeServer(t *testing.T, v config.ExchangeVersion, edit func(rc *config.ReceiveConnector)) *edgeServer {
	t.Helper()
	rc := *connector(t, "Default Frontend EX01")
	rc.Bindings = []config.Binding{{Addr: netip.MustParseAddr("127.0.0.1"), Port: 0}}
	rc.TarpitInterval = 0
	rc.AuthTarpitInterval = 0
	rc.MaxInboundConnectionPerSource = config.Unlimited
	rc.ProtocolLoggingLevel = config.LoggingVerbose
	if edit != nil {
		edit(&rc)
	}
	es := &edgeServer{logDir: t.TempDir(), be: &fakeBackend{refuse: map[string]*smtpwire.Reply{
		"refused@contoso.test": smtpwire.Fixed("R38")}, sizeLim: int64(rc.MaxMessageSize)}}
	plog := smtpwire.NewProtocolLog(es.logDir, false, smtpwire.ProtocolLogOptions{})
	cert, err := SelfSignedCertificate(t.TempDir(), "ex01.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	es.srv = &Server{Role: rc.TransportRole, Version: v, ProtocolLog: plog,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Select:    func(cs []*config.ReceiveConnector, _ netip.Addr) *config.ReceiveConnector { return cs[0] },
		NewSession: func(ci *ConnInfo) Session {
			return &heloSession{fakeSession: fakeSession{srv: es.be}, ci: ci, es: es}
		}}
	ls, errs := es.srv.Listen([]*config.ReceiveConnector{&rc}, 0, false)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	es.srv.Serve()
	es.addr = ls[0].Addr.String()
	t.Cleanup(es.stop)
	return es
}

// stop shuts the engine down and writes out its protocol log.
func (es *edgeServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = es.srv.Shutdown(ctx)
	es.srv.ProtocolLog.Close()
}

// logLines stops the engine and returns its protocol log's lines and the raw file.
func (es *edgeServer) logLines(t *testing.T) ([]smtpwire.LogLine, []byte) {
	t.Helper()
	es.stop()
	files, _ := filepath.Glob(filepath.Join(es.logDir, "RECV*.LOG"))
	if len(files) == 0 {
		t.Fatalf("no protocol log files in %s", es.logDir)
	}
	// Two files when the test crosses the hour (RECVyyyymmddhh-N.LOG); name order is time order.
	var ls []smtpwire.LogLine
	var raw []byte
	for _, f := range files {
		l, err := smtpwire.ParseProtocolLog(f)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l...)
		b, _ := os.ReadFile(f)
		raw = append(raw, b...)
	}
	return ls, raw
}

// client is a raw SMTP client that times each reply.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialEdge(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	cl.read() // banner
	return cl
}

// read returns the next whole reply (its lines joined with CRLF, without the last CRLF).
func (cl *client) read() string {
	cl.t.Helper()
	var lines []string
	for {
		l, err := cl.br.ReadString('\n')
		if err != nil {
			cl.t.Fatalf("read after %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimSuffix(l, "\r\n"))
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\r\n")
		}
	}
}

func (cl *client) send(raw string) {
	cl.t.Helper()
	if _, err := cl.c.Write([]byte(raw)); err != nil {
		cl.t.Fatal(err)
	}
}

// cmd sends a command line and returns its reply and how long it took.
func (cl *client) cmd(line string) (string, time.Duration) {
	cl.t.Helper()
	start := time.Now()
	cl.send(line + "\r\n")
	r := cl.read()
	return r, time.Since(start)
}

func TestValidHelo(t *testing.T) {
	for _, tt := range []struct {
		arg string
		ok  bool
	}{
		{"", true}, // bare EHLO (spec §13.1)
		{" ", true},
		{"client.example", true},
		{"client.example.", true},
		{"WIN-7Q3_HOST", true},
		{"[192.0.2.1]", true},
		{"[IPv6:2001:db8::1]", true},
		{"bad domain", false},
		{"a..b", false},
		{"[]", false},
		{"host\x00", false},
		{"h\xc3\xa9te", false},
	} {
		if got := validHelo(tt.arg); got != tt.ok {
			t.Errorf("validHelo(%q) = %v, want %v", tt.arg, got, tt.ok)
		}
	}
}

// TestBareHello: EHLO, ehlo and HELO without an argument get the full reply, as captured servers
// answer (spec §13.1), and the session goes on; the HELO name the policy sees is the client's
// address literal.
func TestBareHello(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, nil)
	ehlo := smtpwire.Render("R06", "fqdn", "ex01.contoso.test", "ip", "127.0.0.1").Text
	for _, tt := range []struct{ line, want string }{
		{"EHLO", ehlo},
		{"ehlo", ehlo},
		{"EHLO ", ehlo},
		{"HELO", "250 ex01.contoso.test Hello [127.0.0.1]"},
		{"helo ", "250 ex01.contoso.test Hello [127.0.0.1]"},
	} {
		cl := dialEdge(t, es.addr)
		if r, _ := cl.cmd(tt.line); r != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.line, r, tt.want)
		}
		if r, _ := cl.cmd("MAIL FROM:<a@example.org>"); r != "250 2.1.0 Sender OK" {
			t.Errorf("%q then MAIL: %q", tt.line, r)
		}
		cl.cmd("QUIT")
	}
	es.mu.Lock()
	helos := append([]string(nil), es.helos...)
	es.mu.Unlock()
	for _, h := range helos {
		if h != "[127.0.0.1]" {
			t.Errorf("HELO name after a bare hello %q, want [127.0.0.1]", h)
		}
	}
	if len(helos) != 5 {
		t.Errorf("%d hellos reached the session, want 5", len(helos))
	}
	// RequireEHLODomain refuses it.
	strict := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) { rc.RequireEHLODomain = true })
	transcript(t, strict.addr, banner+`
		C: EHLO
		S: 501 5.5.4 Invalid domain name
		C: HELO
		S: 501 5.5.4 Invalid domain name
		C: EHLO client.example
		S+ 250 XRDST`)
}

// TestPathsAsExchangeTakesThem: MAIL FROM and RCPT TO with or without brackets and the space
// after the colon (spec §13.2); the malformed sender of keepalived#2365 is an invalid address.
func TestPathsAsExchangeTakesThem(t *testing.T) {
	for _, tt := range []struct {
		arg, prefix, addr, params string
		err                       error
	}{
		{"FROM: info@example.ru", "FROM:", "info@example.ru", "", nil},
		{"from:user@contoso.com", "FROM:", "user@contoso.com", "", nil},
		{"from: user@contoso.com SIZE=10", "FROM:", "user@contoso.com", "SIZE=10", nil},
		{"FROM:<a@example.org> BODY=8BITMIME", "FROM:", "a@example.org", "BODY=8BITMIME", nil},
		{"FROM: <a@example.org>", "FROM:", "a@example.org", "", nil},
		{"FROM:<>", "FROM:", "", "", nil},
		{"TO: user1@contoso.test", "TO:", "user1@contoso.test", "", nil},
		{"to:user1@contoso.test NOTIFY=NEVER", "TO:", "user1@contoso.test", "NOTIFY=NEVER", nil},
		{"FROM:", "FROM:", "", "", errSyntax},
		{"FROM ", "FROM:", "", "", errSyntax},
		{"FROM:<NAME <x@example.org>>", "FROM:", "", "", errInvalidAddress},
		{"FROM:a@@example.org", "FROM:", "", "", errInvalidAddress},
	} {
		addr, params, err := parsePath(tt.arg, tt.prefix, false)
		if err != tt.err || err == nil && (addr != tt.addr || params != tt.params) {
			t.Errorf("parsePath(%q) = %q, %q, %v; want %q, %q, %v", tt.arg, addr, params, err, tt.addr, tt.params, tt.err)
		}
	}
	es := startEdgeServer(t, config.Version2019, nil)
	transcript(t, es.addr, banner+`
		C: EHLO
		S+ 250 XRDST
		C: MAIL FROM: info@example.ru
		S: 250 2.1.0 Sender OK
		C: rcpt to:user1@contoso.test
		S: 250 2.1.5 Recipient OK
		C: RSET
		S: 250 2.0.0 Resetting
		C: mail from:user@contoso.com
		S: 250 2.1.0 Sender OK
		C: RSET
		S: 250 2.0.0 Resetting
		C: MAIL FROM:<NAME <x@example.org>>
		S: 501 5.1.7 Invalid address`)
}

// clientHello is the first TLS record a real TLS client sends: what masscan's probe and an
// implicit-TLS client put on a plain port.
func clientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		_ = tls.Client(a, &tls.Config{ServerName: "ex01.contoso.test"}).Handshake()
	}()
	defer a.Close()
	defer b.Close()
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := readFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := readFull(b, rec); err != nil {
		t.Fatal(err)
	}
	return append(hdr, rec...)
}

func readFull(c net.Conn, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := c.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestBinaryInput: input that is no command and has no line end gets one 500 at once instead of
// silence (spec §13.7, SANS SEC560's masscan of a 2019 server), with R90's token for 2019 and
// R58 for 2013/2016; the session then goes on with the next line.
func TestBinaryInput(t *testing.T) {
	hello := clientHello(t)
	token := regexp.QuoteMeta("500 5.3.3 Unrecognized command '") + `\?[ -~]{0,63}'`
	for _, tt := range []struct {
		name  string
		v     config.ExchangeVersion
		input []byte
		want  string // regular expression
	}{
		{"TLS ClientHello, 2019", config.Version2019, hello, token},
		{"TLS ClientHello, 2016", config.Version2016, hello, regexp.QuoteMeta("500 5.3.3 Unrecognized command")},
		{"TLS ClientHello, 2013", config.Version2013, hello, regexp.QuoteMeta("500 5.3.3 Unrecognized command")},
		{"NUL bytes", config.Version2019, []byte{0, 0, 0, 0}, token},
		{"telnet IAC negotiation", config.Version2019, []byte{0xff, 0xfd, 0x18, 0xff, 0xfb, 0x1f}, token},
		{"SSLv2-style hello", config.Version2019, []byte{0x80, 0x2e, 0x01, 0x03, 0x01}, token},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es := startEdgeServer(t, tt.v, nil)
			cl := dialEdge(t, es.addr)
			start := time.Now()
			cl.send(string(tt.input))
			r := cl.read()
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("answered after %v: it must not wait for a line end", d)
			}
			if !regexp.MustCompile("^" + tt.want + "$").MatchString(r) {
				t.Errorf("reply %q, want %s", r, tt.want)
			}
			// Exactly one reply: the rest of non-TLS binary up to its line end is skipped, a
			// TLS record is skipped to its length; the next line is a command again.
			if !strings.HasPrefix(tt.name, "TLS") {
				cl.send("\x01more binary\r\n")
			}
			if r, _ := cl.cmd("NOOP"); r != "250 2.0.0 OK" {
				t.Errorf("after the binary input: %q, want the NOOP's 250", r)
			}
		})
	}
}

// TestBinaryInputCountsAsProtocolError: past MaxProtocolErrors binary input closes the session
// with R26, as other protocol errors do.
func TestBinaryInputCountsAsProtocolError(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) { rc.MaxProtocolErrors = config.Limit{Value: 1} })
	cl := dialEdge(t, es.addr)
	cl.send("\x00\x01\x02")
	if r := cl.read(); !strings.HasPrefix(r, "500 5.3.3 Unrecognized command '") {
		t.Fatalf("first: %q", r)
	}
	cl.send("\x00\x01\x02\r\n\x00\x01")
	if r := cl.read(); r != smtpwire.Fixed("R26").Text {
		t.Fatalf("second: %q, want R26", r)
	}
	if l, err := cl.br.ReadString('\n'); err == nil {
		t.Errorf("session still open after R26: %q", l)
	}
	ls, _ := es.logLines(t)
	if last := ls[len(ls)-1]; last.Event != '-' || last.Context != "Local" {
		t.Errorf("last log line %+v, want the Local disconnect", last)
	}
}

func TestLogSafe(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"MAIL FROM:<a@example.org>", "MAIL FROM:<a@example.org>"},
		{"FOO \x00\x16 caf\u00e9 \xff\xfe", "FOO ?? caf\u00e9 ??"},
		{"\x16\x03\x01\x02\x00", "?????"},
		{"tab\there\r\n", "tab?here??"},
		{"del\x7f c1\u0085", "del? c1?"},
		{"MAIL FROM:<j\u00f6rg@b\u00fccher.example> SMTPUTF8", "MAIL FROM:<j\u00f6rg@b\u00fccher.example> SMTPUTF8"},
		{"\xc3", "?"},
	} {
		if got := logSafe(tt.in); got != tt.want {
			t.Errorf("logSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestProtocolLogHoldsNoBinary: a command line with NUL, 0x16, UTF-8 and 0xff bytes and a TLS
// hello on the plain port reach the protocol log as text: controls and non-UTF-8 bytes as '?',
// UTF-8 kept.
func TestProtocolLogHoldsNoBinary(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, nil)
	cl := dialEdge(t, es.addr)
	if r, _ := cl.cmd("FOO \x00\x16 caf\u00e9 \xff"); r != "500 5.3.3 Unrecognized command 'FOO'" {
		t.Errorf("reply %q", r)
	}
	cl.send(string(clientHello(t)))
	cl.read()
	cl.cmd("QUIT")
	ls, raw := es.logLines(t)
	var cmds []string
	for _, l := range ls {
		if l.Event == '<' {
			cmds = append(cmds, l.Data)
		}
	}
	if len(cmds) != 3 || cmds[0] != "FOO ?? caf\u00e9 ?" || !regexp.MustCompile(`^\?+[ -~?]*$`).MatchString(cmds[1]) || cmds[2] != "QUIT" {
		t.Errorf("logged commands %q", cmds)
	}
	for i, b := range raw {
		if b < 0x20 && b != '\r' && b != '\n' || b == 0x7f || b == 0xff || b == 0xfe {
			t.Fatalf("raw byte %#x at %d of the protocol log", b, i)
		}
	}
}

// TestTarpitEvery5xx: every 5xx an anonymous client gets waits TarpitInterval, whatever the
// command (spec §13.10), each with the protocol log's "Tarpit for '0.00:00:01' due to
// '<reply>'" in the data column just before the reply (spec §13.8); other replies come at once.
func TestTarpitEvery5xx(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) { rc.TarpitInterval = config.TimeSpan(time.Second) })
	hello := []string{"EHLO client.example"}
	mail := []string{"EHLO client.example", "MAIL FROM:<a@example.org>"}
	tests := []struct {
		name    string
		setup   []string
		cmd     string
		reply   string
		delayed bool
	}{
		{"R17 command before hello", nil, "MAIL FROM:<a@example.org>", "503 5.5.2 Send hello first", true},
		{"R90 unknown command", hello, "FOO bar", "500 5.3.3 Unrecognized command 'FOO'", true},
		{"R16 invalid domain", nil, "EHLO bad domain", "501 5.5.4 Invalid domain name", true},
		{"R59 bad arguments", hello, "MAIL FROM:<a@example.org> FOO=BAR", "501 5.5.4 Invalid arguments", true},
		{"R89 malformed sender", hello, "MAIL FROM:<NAME <x@example.org>>", "501 5.1.7 Invalid address", true},
		{"R45 RCPT before MAIL", hello, "RCPT TO:<user1@contoso.test>", "503 5.5.2 Need mail command", true},
		{"R47 DATA before RCPT", mail, "DATA", "503 5.5.2 Need rcpt command", true},
		{"X05 invalid recipient", mail, "RCPT TO:<x@@contoso.test>", "501 5.1.3 Invalid address", true},
		{"the session's 550", mail, "RCPT TO:<refused@contoso.test>", smtpwire.Fixed("R38").Text, true},
		{"HELP is not refused", nil, "HELP", smtpwire.Fixed("R88").Text, false},
		{"NOOP", hello, "NOOP", "250 2.0.0 OK", false},
		{"a recipient", mail, "RCPT TO:<user1@contoso.test>", "250 2.1.5 Recipient OK", false},
	}
	t.Run("replies", func(t *testing.T) {
		// All at once (t.Parallel would run only GOMAXPROCS of them at a time).
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, tt := range tests {
			wg.Add(1)
			go t.Run(tt.name, func(t *testing.T) {
				defer wg.Done()
				cl := dialEdge(t, es.addr)
				for _, l := range tt.setup {
					cl.cmd(l)
				}
				r, d := cl.cmd(tt.cmd)
				if r != tt.reply {
					t.Fatalf("%q:\n got %q\nwant %q", tt.cmd, r, tt.reply)
				}
				switch {
				case tt.delayed && d < time.Second:
					t.Errorf("%q answered after %v, TarpitInterval is 1 s", r, d)
				case !tt.delayed && d > 900*time.Millisecond:
					t.Errorf("%q answered after %v: only 5xx replies are tarpitted", r, d)
				}
				cl.cmd("QUIT")
			})
		}
	})
	ls, _ := es.logLines(t)
	for _, tt := range tests {
		want := "Tarpit for '0.00:00:01' due to '" + smtpwire.LogReply(tt.reply) + "'"
		n := 0
		for i, l := range ls {
			if l.Event != '*' || l.Data != want {
				continue
			}
			n++
			if l.Context != "" {
				t.Errorf("tarpit line context %q, want the text in the data column", l.Context)
			}
			if i+1 >= len(ls) || ls[i+1].Session != l.Session || ls[i+1].Event != '>' || ls[i+1].Data != smtpwire.LogReply(tt.reply) ||
				ls[i+1].Seq != l.Seq+1 {
				t.Errorf("the line after %q is not its reply", want)
			}
		}
		if tt.delayed && n != 1 || !tt.delayed && n != 0 {
			t.Errorf("%d lines %q in the protocol log", n, want)
		}
	}
}

// TestTarpitPipelined: the replies before a tarpitted one are sent before the wait, not held
// back with it (RFC 2920: one write per batch otherwise).
func TestTarpitPipelined(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) { rc.TarpitInterval = config.TimeSpan(time.Second) })
	cl := dialEdge(t, es.addr)
	start := time.Now()
	cl.send("EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<refused@contoso.test>\r\nRCPT TO:<user1@contoso.test>\r\n")
	for _, w := range []struct {
		reply    string
		min, max time.Duration
	}{
		{smtpwire.Render("R06", "fqdn", "ex01.contoso.test", "ip", "127.0.0.1").Text, 0, 900 * time.Millisecond},
		{"250 2.1.0 Sender OK", 0, 900 * time.Millisecond},
		{smtpwire.Fixed("R38").Text, time.Second, 3 * time.Second},
		{"250 2.1.5 Recipient OK", time.Second, 3 * time.Second},
	} {
		r := cl.read()
		if d := time.Since(start); r != w.reply || d < w.min || d > w.max {
			t.Errorf("%q after %v, want %q after %v-%v", r, d, w.reply, w.min, w.max)
		}
	}
}

// TestNoTarpit: authenticated sessions (an Exchange server's X-EXPS here) and the AUTH exchange,
// which has AuthTarpitInterval of its own, never wait TarpitInterval.
func TestNoTarpit(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) { rc.TarpitInterval = config.TimeSpan(2 * time.Second) })
	cl := dialEdge(t, es.addr)
	cl.cmd("EHLO client.example")
	if r, d := cl.cmd("AUTH LOGIN"); r != "504 5.7.4 Unrecognized authentication type" || d > time.Second {
		t.Errorf("AUTH refused with %q after %v: the AUTH exchange has its own tarpit", r, d)
	}
	r, _ := cl.cmd("X-EXPS GSSAPI")
	ch, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r, "334 "))
	if err != nil {
		t.Fatalf("X-EXPS: %q", r)
	}
	if r, _ := cl.cmd(base64.StdEncoding.EncodeToString(smtpwire.ExchangeAuthResponse([]byte("k"), ch))); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("X-EXPS: %q", r)
	}
	if r, d := cl.cmd("FOO"); !strings.HasPrefix(r, "500 ") || d > time.Second {
		t.Errorf("an authenticated session's %q came after %v", r, d)
	}
}

// TestTarpitEndsAtShutdown: a session waiting in the tarpit is answered when the server shuts
// down, and then gets the shutdown reply, instead of holding the shutdown up.
func TestTarpitEndsAtShutdown(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) { rc.TarpitInterval = config.TimeSpan(time.Minute) })
	cl := dialEdge(t, es.addr)
	cl.cmd("EHLO client.example")
	cl.send("FOO\r\n")
	time.Sleep(200 * time.Millisecond) // in the tarpit by now
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- es.srv.Shutdown(ctx)
	}()
	if r := cl.read(); r != "500 5.3.3 Unrecognized command 'FOO'" {
		t.Errorf("tarpitted reply %q", r)
	}
	if r := cl.read(); r != smtpwire.Fixed("R05").Text {
		t.Errorf("then %q, want R05", r)
	}
	if err := <-done; err != nil || time.Since(start) > 3*time.Second {
		t.Errorf("shutdown took %v (%v) with a session in the tarpit", time.Since(start), err)
	}
}

func TestTimeSpan(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "00:00:00"},
		{300*time.Second + 705466100*time.Nanosecond, "00:05:00.7054661"}, // zone-mta#161's figure
		{1500 * time.Millisecond, "00:00:01.5000000"},
		{time.Hour + 2*time.Minute + 3*time.Second + 100, "01:02:03.0000001"},
		{25 * time.Hour, "1.01:00:00"},
		{99, "00:00:00"}, // below one tick
	} {
		if got := timeSpan(tt.d); got != tt.want {
			t.Errorf("timeSpan(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestConnectionTimeoutDuration: ConnectionTimeout's reply names the session's real duration
// (spec §13.11, R91), at a command as inside the data (TestSessionTimeoutDuringData).
func TestConnectionTimeoutDuration(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) {
		rc.ConnectionTimeout = config.TimeSpan(time.Second)
		rc.ConnectionInactivityTimeout = config.TimeSpan(time.Minute)
	})
	cl := dialEdge(t, es.addr)
	r := cl.read()
	if !regexp.MustCompile(`^421 4\.4\.1 Connection timed out\. Total session duration: 00:00:0[12]\.\d{7}$`).MatchString(r) {
		t.Errorf("reply %q", r)
	}
}

// TestAuthTarpit: a refused AUTH waits AuthTarpitInterval (not TarpitInterval) before its 504,
// and a shutdown ends that wait too.
func TestAuthTarpit(t *testing.T) {
	es := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) {
		rc.AuthTarpitInterval = config.TimeSpan(time.Second)
	})
	cl := dialEdge(t, es.addr)
	cl.cmd("EHLO client.example")
	if r, d := cl.cmd("AUTH LOGIN"); r != "504 5.7.4 Unrecognized authentication type" || d < time.Second || d > 3*time.Second {
		t.Errorf("AUTH refused with %q after %v, want R24 after AuthTarpitInterval (1s)", r, d)
	}

	es2 := startEdgeServer(t, config.Version2019, func(rc *config.ReceiveConnector) {
		rc.AuthTarpitInterval = config.TimeSpan(time.Minute)
	})
	cl2 := dialEdge(t, es2.addr)
	cl2.cmd("EHLO client.example")
	cl2.send("AUTH LOGIN\r\n")
	time.Sleep(200 * time.Millisecond) // in the tarpit by now
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- es2.srv.Shutdown(ctx)
	}()
	if r := cl2.read(); r != "504 5.7.4 Unrecognized authentication type" {
		t.Errorf("tarpitted AUTH reply %q", r)
	}
	if err := <-done; err != nil || time.Since(start) > 3*time.Second {
		t.Errorf("shutdown took %v (%v) with a session in the AUTH tarpit", time.Since(start), err)
	}
}
