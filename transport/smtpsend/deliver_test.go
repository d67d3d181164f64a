package smtpsend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// fakeHop is a scripted SMTP server on 127.0.0.1:0: greeting is its first line, reply answers
// each command (by the whole line, else by its upper-cased verb; "." is the reply to the
// body), and it records what it was sent, body included.
type fakeHop struct {
	l        net.Listener
	greeting string
	ehlo     string
	reply    map[string]string
	mu       sync.Mutex
	got      []string
	bodies   []string
	conns    atomic.Int32 // connections accepted
}

func newFakeHop(t *testing.T, greeting string, reply map[string]string) *fakeHop {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeHop{l: l, greeting: greeting, ehlo: "250-fake.test\r\n250 AUTH LOGIN", reply: reply}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeHop) addr() string { return f.l.Addr().String() }

func (f *fakeHop) record(s string) {
	f.mu.Lock()
	f.got = append(f.got, s)
	f.mu.Unlock()
}

func (f *fakeHop) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fakeHop) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "%s\r\n", f.greeting)
	if !strings.HasPrefix(f.greeting, "220") {
		return
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f.record(line)
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		r, ok := f.reply[line]
		if !ok {
			r, ok = f.reply[verb]
		}
		switch {
		case ok:
		case verb == "EHLO":
			r = f.ehlo
		case verb == "QUIT":
			fmt.Fprintf(c, "221 2.0.0 Bye\r\n")
			return
		case verb == "DATA":
			fmt.Fprintf(c, "354 go ahead\r\n")
			var body strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				body.WriteString(l)
			}
			f.mu.Lock()
			f.bodies = append(f.bodies, body.String())
			f.mu.Unlock()
			if r, ok = f.reply["."]; !ok {
				r = "250 2.6.0 <q1@fake.test> Queued mail for delivery"
			}
		default:
			r = "250 2.0.0 OK"
		}
		if r == "DROP" { // the next hop goes away mid-session
			return
		}
		fmt.Fprintf(c, "%s\r\n", r)
	}
}

// closedAddr is an endpoint nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func TestDeliver(t *testing.T) {
	const content = "Subject: hi\r\n\r\nbody line\r\n"
	okHop := map[string]string{"RCPT TO:<bad@fabrikam.test>": "550 5.1.1 User unknown"}
	tests := []struct {
		name    string
		hosts   func(t *testing.T) []string
		opt     func(*SendOptions)
		rcpts   []string
		want    []string // each recipient's result text, prefix
		wantHop int      // index into hosts of the host that answered (-1: the last tried)
	}{
		{"accepted and refused", func(t *testing.T) []string { return []string{newFakeHop(t, "220 fake ready", okHop).addr()} }, nil,
			[]string{"a@fabrikam.test", "bad@fabrikam.test"},
			[]string{"250 2.6.0 <q1@fake.test> Queued mail for delivery", "550 5.1.1 User unknown"}, 0},
		{"every recipient refused: no DATA", func(t *testing.T) []string { return []string{newFakeHop(t, "220 fake ready", okHop).addr()} }, nil,
			[]string{"bad@fabrikam.test"}, []string{"550 5.1.1 User unknown"}, 0},
		{"sender refused: no failover", func(t *testing.T) []string {
			return []string{newFakeHop(t, "220 a", map[string]string{"MAIL": "550 5.7.1 Sender denied"}).addr(), newFakeHop(t, "220 b", nil).addr()}
		}, nil, []string{"a@fabrikam.test"}, []string{"550 5.7.1 Sender denied"}, 0},
		{"refused greeting fails over", func(t *testing.T) []string {
			return []string{newFakeHop(t, "421 4.3.2 busy", nil).addr(), newFakeHop(t, "220 b", nil).addr()}
		}, nil, []string{"a@fabrikam.test"}, []string{"250 2.6.0 "}, 1},
		{"no host reachable", func(t *testing.T) []string { return []string{closedAddr(t), closedAddr(t)} }, nil,
			[]string{"a@fabrikam.test"}, []string{`441 4.4.1 Error encountered while communicating with primary target IP address: "Failed to connect. ` +
				`Winsock error code: 10061, Win32 error code: 10061." Attempted failover to alternate host, but that did not succeed.`}, -1},
		{"every host answers with an error", func(t *testing.T) []string {
			return []string{newFakeHop(t, "421 4.3.2 busy", nil).addr(), newFakeHop(t, "421 4.3.2 not now", nil).addr()}
		}, nil, []string{"a@fabrikam.test"}, []string{`451 4.4.0 Primary target IP address responded with: "421 4.3.2 not now." Attempted failover`}, -1},
		{"a refusing greeting refuses the message", func(t *testing.T) []string {
			return []string{newFakeHop(t, "554 5.3.2 not now", nil).addr(), newFakeHop(t, "220 b", nil).addr()}
		}, nil, []string{"a@fabrikam.test"}, []string{"554 5.3.2 not now"}, 0},
		{"the session drops after MAIL: Exchange's connection-dropped text, no Go error (X21)", func(t *testing.T) []string {
			return []string{newFakeHop(t, "220 fake", map[string]string{"RCPT": "DROP"}).addr()}
		}, nil, []string{"a@fabrikam.test"},
			[]string{`451 4.4.0 Error encountered while communicating with primary target IP address: "421 4.4.2 Connection dropped due to SocketError." ` +
				`Attempted failover to alternate host, but that did not succeed.`}, 0},
		{"TLS required, not offered", func(t *testing.T) []string { return []string{newFakeHop(t, "220 fake", nil).addr()} },
			func(o *SendOptions) { o.RequireTLS = true }, []string{"a@fabrikam.test"},
			[]string{`451 4.4.0 Primary target IP address responded with: "TLS is required by send connector To Fabrikam, but the remote server did not offer STARTTLS."`}, -1},
		{"basic auth needing TLS without it", func(t *testing.T) []string { return []string{newFakeHop(t, "220 fake", nil).addr()} },
			func(o *SendOptions) { o.AuthMechanism = config.SmartHostBasicAuthRequireTLS }, []string{"a@fabrikam.test"},
			[]string{`451 4.4.0 Primary target IP address responded with: "Basic authentication requires TLS, but the remote server did not offer STARTTLS."`}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts := tt.hosts(t)
			o := SendOptions{Connector: "To Fabrikam", Helo: "ex01.contoso.test", Timeout: 5 * time.Second}
			if tt.opt != nil {
				tt.opt(&o)
			}
			got := Deliver(context.Background(), Delivery{SendOptions: o, Hosts: hosts, From: "a@contoso.test", Rcpts: tt.rcpts, Content: []byte(content)})
			if len(got) != len(tt.rcpts) {
				t.Fatalf("%d results for %d recipients", len(got), len(tt.rcpts))
			}
			wantHost := hosts[len(hosts)-1]
			if tt.wantHop >= 0 {
				wantHost = hosts[tt.wantHop]
			}
			for i, r := range got {
				if !strings.HasPrefix(r.Text, tt.want[i]) || r.Code != atoi3(tt.want[i]) || r.Host != wantHost {
					t.Errorf("recipient %d: %+v, want %q from %s", i, r, tt.want[i], wantHost)
				}
			}
		})
	}
}

func atoi3(s string) int {
	var n int
	fmt.Sscanf(s[:3], "%d", &n)
	return n
}

// TestDeliverSendsTheMessage: what the next hop receives is the envelope and the content,
// dot-stuffed as DATA needs.
func TestDeliverSendsTheMessage(t *testing.T) {
	h := newFakeHop(t, "220 fake", nil)
	content := "Subject: dots\r\n\r\n.leading dot\r\nend\r\n"
	got := Deliver(context.Background(), Delivery{SendOptions: SendOptions{Helo: "ex01.contoso.test", Timeout: 5 * time.Second},
		Hosts: []string{h.addr()}, From: "a@contoso.test", Rcpts: []string{"b@fabrikam.test"}, Content: []byte(content)})
	if got[0].Code != 250 {
		t.Fatalf("%+v", got)
	}
	h.received(t, []string{"EHLO ex01.contoso.test", "MAIL FROM:<a@contoso.test>", "RCPT TO:<b@fabrikam.test>", "DATA"},
		"Subject: dots\r\n\r\n..leading dot\r\nend\r\n")
	// One EHLO: a second one belongs only after STARTTLS (RFC 3207 §4.2), and Exchange's
	// SmtpSend says it once on a plain session.
	if got, want := strings.Join(h.commands(), "|"), "EHLO ex01.contoso.test|MAIL FROM:<a@contoso.test>|RCPT TO:<b@fabrikam.test>|DATA|QUIT"; got != want {
		t.Errorf("commands %s\n want %s", got, want)
	}
}

// received checks that the fake got each of the commands and exactly one body, as on the wire.
func (h *fakeHop) received(t *testing.T, commands []string, body string) {
	t.Helper()
	cmds := strings.Join(h.commands(), "\n")
	for _, want := range commands {
		if !strings.Contains(cmds, want) {
			t.Errorf("the fake did not get %q:\n%s", want, cmds)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bodies) != 1 || h.bodies[0] != body {
		t.Errorf("bodies %q, want [%q]", h.bodies, body)
	}
}

// TestDeliverProtocolLog: the SmtpSend log has the session's connect, commands, replies and
// disconnect in order, one session id, and no body line.
func TestDeliverProtocolLog(t *testing.T) {
	h := newFakeHop(t, "220 fake ready", nil)
	var lines []smtpwire.LogLine
	o := SendOptions{Connector: "To Fabrikam", Helo: "ex01.contoso.test", Timeout: 5 * time.Second,
		ProtocolLog: func(l []smtpwire.LogLine) { lines = append(lines, l...) }}
	got := Deliver(context.Background(), Delivery{SendOptions: o, Hosts: []string{h.addr()}, From: "a@contoso.test",
		Rcpts: []string{"b@fabrikam.test"}, Content: []byte("Subject: secret body\r\n\r\nx\r\n")})
	if got[0].Code != 250 {
		t.Fatalf("%+v", got)
	}
	if len(lines) < 4 || lines[0].Event != '+' || lines[len(lines)-1].Event != '-' {
		t.Fatalf("lines %+v", lines)
	}
	var sawMail, sawGreeting bool
	for i, l := range lines {
		if l.Session != lines[0].Session || l.Connector != "To Fabrikam" || l.Seq != i || l.Remote != h.addr() {
			t.Errorf("line %d: %+v", i, l)
		}
		if strings.Contains(l.Data, "secret body") {
			t.Errorf("body logged: %+v", l)
		}
		sawMail = sawMail || (l.Event == '>' && l.Data == "MAIL FROM:<a@contoso.test>")
		sawGreeting = sawGreeting || (l.Event == '<' && l.Data == "220 fake ready")
	}
	if !sawMail || !sawGreeting {
		t.Errorf("MAIL %v, greeting %v in %+v", sawMail, sawGreeting, lines)
	}
}

func TestSmartHostsOf(t *testing.T) {
	sc := &config.SendConnector{Port: 25, SmartHosts: []string{"[127.0.0.1]:2526", "relay.fabrikam.test"}}
	got := SmartHostsOf(sc)
	if strings.Join(got, ",") != "127.0.0.1:2526,relay.fabrikam.test:25" {
		t.Errorf("%q", got)
	}
}

// TestTLSErrorName: a failed handshake is named by its SSPI status, never by Go's text.
func TestTLSErrorName(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "UntrustedRoot"},
		{&tls.CertificateVerificationError{Err: x509.HostnameError{Host: "x"}}, "WrongPrincipal"},
		{fmt.Errorf("verify: %w", x509.CertificateInvalidError{Reason: x509.Expired}), "CertExpired"},
		{x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}, "IllegalMessage"},
		{io.ErrUnexpectedEOF, "SocketError"},
	}
	for _, tt := range tests {
		if got := tlsErrorName(tt.err); got != tt.want {
			t.Errorf("tlsErrorName(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestDeliverDotStuffing: the content exlab writes past go-smtp's DATA writer is on the wire as
// net/textproto's DotWriter would have put it, for CRLF content and the edges of its end.
func TestDeliverDotStuffing(t *testing.T) {
	for _, content := range []string{"Subject: a\r\n\r\nbody\r\n", "no line end", "", ".\r\n", "..\r\n.x\r\n", "a\r\n.\r\nb\r\n",
		"x\r\n\r\n", "ends with a dot line\r\n.", "bare LF at the end\n", strings.Repeat("line .dot\r\n.", 5000)} {
		h := newFakeHop(t, "220 fake", nil)
		got := Deliver(context.Background(), Delivery{SendOptions: SendOptions{Helo: "ex01.contoso.test", Timeout: 5 * time.Second},
			Hosts: []string{h.addr()}, From: "a@contoso.test", Rcpts: []string{"b@fabrikam.test"}, Content: []byte(content)})
		if got[0].Code != 250 {
			t.Fatalf("%q: %+v", content, got)
		}
		var want bytes.Buffer
		bw := bufio.NewWriter(&want)
		dw := textproto.NewWriter(bw).DotWriter()
		_, _ = dw.Write([]byte(content))
		_ = dw.Close()
		wire := strings.TrimSuffix(want.String(), ".\r\n")
		h.mu.Lock()
		bodies := h.bodies
		h.mu.Unlock()
		if len(bodies) != 1 || bodies[0] != wire {
			t.Errorf("content %.60q: the next hop got %.80q, DotWriter would send %.80q", content, bodies, wire)
		}
	}
}
