package main

// Issue 13's edges end to end, over real sockets against the real binary: a bare EHLO, binary
// input on a plain port, the tarpit on every 5xx with its protocol-log line, the 250 2.6.0
// figures, and nmap's smtp-commands (spec §13.1, 13.3, 13.7, 13.8, 13.10, 13.12, 13.19).

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
)

// edgesNeedTool skips a test whose real client is not installed, unless CI is set: CI
// installs them (.ci/run), so there a missing tool is a failure.
func edgesNeedTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it: .ci/run)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// edgesLab is the lab config with a one-second TarpitInterval on Default Frontend EX01.
func edgesLab(t *testing.T) string {
	return replace(t, labConfig(nil), "    MaxInboundConnectionPerSource: 20\n    TarpitInterval: \"00:00:00\"\n",
		"    MaxInboundConnectionPerSource: 20\n    TarpitInterval: \"00:00:01\"\n")
}

// edgeConn is a raw SMTP session that times each reply.
type edgeConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialEdges(t *testing.T, addr string) *edgeConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	e := &edgeConn{t: t, c: c, br: bufio.NewReader(c)}
	e.read()
	return e
}

func (e *edgeConn) read() string {
	e.t.Helper()
	var lines []string
	for {
		l, err := e.br.ReadString('\n')
		if err != nil {
			e.t.Fatalf("read after %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimSuffix(l, "\r\n"))
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\r\n")
		}
	}
}

func (e *edgeConn) cmd(raw string) (string, time.Duration) {
	e.t.Helper()
	start := time.Now()
	if _, err := e.c.Write([]byte(raw)); err != nil {
		e.t.Fatal(err)
	}
	r := e.read()
	return r, time.Since(start)
}

// tlsHello is a real ClientHello record, as a TLS client or masscan's probe sends it.
func tlsHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _ = tls.Client(a, &tls.Config{ServerName: "ex01.contoso.test"}).Handshake() }()
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(b)
	hdr := make([]byte, 5)
	if _, err := ioReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := ioReadFull(br, rec); err != nil {
		t.Fatal(err)
	}
	return append(hdr, rec...)
}

func ioReadFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestEdges: one server, each edge over its own session, then the protocol log line by line.
func TestEdges(t *testing.T) {
	s := startServer(t, edgesLab(t), "")
	fe, hub := s.address("Default Frontend EX01"), s.address("Default EX01")
	hello := tlsHello(t)

	t.Run("bare EHLO gets the full list and the message goes through", func(t *testing.T) {
		e := dialEdges(t, fe)
		want := smtpwire.Render("R06", "fqdn", "ex01.contoso.test", "ip", "127.0.0.1").Text
		if r, _ := e.cmd("EHLO\r\n"); r != want {
			t.Fatalf("bare EHLO:\n got %q\nwant %q", r, want)
		}
		e.cmd("MAIL FROM: a@example.org\r\n")
		if r, _ := e.cmd("rcpt to:user1@contoso.test\r\n"); r != "250 2.1.5 Recipient OK" {
			t.Fatalf("RCPT without brackets: %q", r)
		}
		e.cmd("DATA\r\n")
		body := "Subject: bare ehlo\r\nMessage-ID: <bare@example.org>\r\n\r\nhello\r\n"
		r, _ := e.cmd(body + ".\r\n")
		m := regexp.MustCompile(`^250 2\.6\.0 <bare@example\.org> \[InternalId=\d+, Hostname=ex01\.contoso\.test\] (\d+) bytes in \d+\.\d{3}, \d+\.\d{3} KB/sec Queued mail for delivery$`).FindStringSubmatch(r)
		if m == nil {
			t.Fatalf("end of data: %q", r)
		}
		// The hub counts what it stored: the client's bytes, the frontend's Received: and its
		// own headers (spec §13.19).
		if n, _ := strconv.Atoi(m[1]); n < len(body)+400 {
			t.Errorf("%d bytes reported for a %d-byte message: the headers Exchange added are not counted", n, len(body))
		}
		e.cmd("QUIT\r\n")
		waitMailbox(t, s.data, "user1@contoso.test", 1)
		out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
		if !strings.Contains(out, "Received: from [127.0.0.1] (127.0.0.1) by ex01.contoso.test (127.0.0.1)") {
			t.Errorf("the frontend's Received: after a bare EHLO does not name the client by its address literal:\n%s", out)
		}
	})

	t.Run("TLS hello on the plain hub port answered at once", func(t *testing.T) {
		e := dialEdges(t, hub) // Default EX01: no tarpit in the lab
		r, d := e.cmd(string(hello))
		if !strings.HasPrefix(r, "500 5.3.3 Unrecognized command '") || d > time.Second {
			t.Errorf("%q after %v, want one 500 at once", r, d)
		}
		if r, _ := e.cmd("NOOP\r\n"); r != "250 2.0.0 OK" {
			t.Errorf("after the hello: %q", r)
		}
	})

	t.Run("every 5xx to an anonymous client waits TarpitInterval", func(t *testing.T) {
		e := dialEdges(t, fe)
		if r, d := e.cmd("MAIL FROM:<a@example.org>\r\n"); r != "503 5.5.2 Send hello first" || d < time.Second {
			t.Errorf("%q after %v", r, d)
		}
		if r, d := e.cmd("EHLO client.example\r\n"); !strings.HasSuffix(r, "250 XRDST") || d > 900*time.Millisecond {
			t.Errorf("EHLO %q after %v: a 2xx is never tarpitted", r, d)
		}
		for _, c := range []struct{ cmd, reply string }{
			{"FOO", "500 5.3.3 Unrecognized command 'FOO'"},
			{"MAIL FROM:<NAME <x@example.org>>", "501 5.1.7 Invalid address"}, // keepalived#2365's sender
			{"RCPT TO:<user1@contoso.test>", "503 5.5.2 Need mail command"},
		} {
			if r, d := e.cmd(c.cmd + "\r\n"); r != c.reply || d < time.Second || d > 3*time.Second {
				t.Errorf("%s: %q after %v, want %q after TarpitInterval (1 s)", c.cmd, r, d, c.reply)
			}
		}
		// Binary input: answered without waiting for a line end, after the tarpit.
		if r, d := e.cmd(string(hello)); !strings.HasPrefix(r, "500 5.3.3 Unrecognized command '") || d < time.Second || d > 3*time.Second {
			t.Errorf("TLS hello: %q after %v", r, d)
		}
		e.cmd("QUIT\r\n")
	})

	waitSessionEnded(t, s.data)
	s.stop()
	files, _ := filepath.Glob(frontendReceiveLog(s.data))
	var lines []smtpwire.LogLine
	for _, f := range files {
		ls, err := smtpwire.ParseProtocolLog(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, ls...)
		raw, _ := os.ReadFile(f)
		for i, b := range raw {
			if b < 0x20 && b != '\r' && b != '\n' || b >= 0x7f {
				t.Fatalf("raw byte %#x at %d of %s", b, i, f)
			}
		}
	}
	// Each tarpitted reply is preceded by 2013+'s information line, in the data column, with the
	// same session and the next sequence number (spec §13.8).
	for _, reply := range []string{"503 5.5.2 Send hello first", "500 5.3.3 Unrecognized command 'FOO'", "501 5.1.7 Invalid address", "503 5.5.2 Need mail command"} {
		want := "Tarpit for '0.00:00:01' due to '" + reply + "'"
		found := false
		for i, l := range lines {
			if l.Event == '*' && l.Data == want && l.Context == "" && i+1 < len(lines) {
				next := lines[i+1]
				found = next.Event == '>' && next.Data == reply && next.Session == l.Session && next.Seq == l.Seq+1
			}
		}
		if !found {
			t.Errorf("no %q line before its reply in the protocol log", want)
		}
	}
	binary := false
	for _, l := range lines {
		binary = binary || l.Event == '<' && strings.HasPrefix(l.Data, "??") // the hello, as text
	}
	if !binary {
		t.Error("the TLS hello is not in the protocol log as '?'s")
	}
}

// TestNmapSmtpCommands: nmap's smtp-commands script reads HELP's list and the EHLO keywords as
// the published scans of Exchange 2019 show them (spec §13.3, §13.12), on the frontend's port 25
// and the hub's 2525.
func TestNmapSmtpCommands(t *testing.T) {
	nmap := edgesNeedTool(t, "nmap")
	s := startServer(t, labConfig(nil), "")
	for _, c := range []struct {
		connector, ehlo string
	}{
		{"Default Frontend EX01", "ex01.contoso.test Hello [127.0.0.1], SIZE 37748736, PIPELINING, DSN, ENHANCEDSTATUSCODES, STARTTLS, " +
			"X-ANONYMOUSTLS, AUTH NTLM, X-EXPS GSSAPI NTLM, 8BITMIME, BINARYMIME, CHUNKING, SMTPUTF8, XRDST"},
		{"Default EX01", "ex01.contoso.test Hello [127.0.0.1], SIZE, PIPELINING, DSN, ENHANCEDSTATUSCODES, STARTTLS, X-ANONYMOUSTLS, " +
			"AUTH NTLM, X-EXPS GSSAPI NTLM, 8BITMIME, BINARYMIME, CHUNKING, XEXCH50, SMTPUTF8, XRDST, XSHADOWREQUEST"},
	} {
		_, port, _ := net.SplitHostPort(s.address(c.connector))
		// "+" runs the script whatever port it is (its portrule knows 25, 465 and 587 only).
		cmd := exec.Command(nmap, "-Pn", "-n", "-p", port, "--script", "+smtp-commands", "127.0.0.1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nmap: %v\n%s", err, out)
		}
		for _, want := range []string{
			"| smtp-commands: " + c.ehlo,
			"|_ This server supports the following commands: HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH BDAT",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: nmap output lacks %q:\n%s", c.connector, want, out)
			}
		}
	}
}

// TestOpensslOnPlainPort: openssl s_client speaking TLS at once to a plain SMTP port (an
// implicit-TLS client misconfigured, or a scanner) gets the 500 without waiting for a line end,
// so the handshake fails at once on a reply that is no TLS record instead of hanging until
// ConnectionInactivityTimeout (spec §13.7).
func TestOpensslOnPlainPort(t *testing.T) {
	openssl := edgesNeedTool(t, "openssl")
	s := startServer(t, labConfig(nil), "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", s.address("Default EX01"), "-servername", "ex01.contoso.test")
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("openssl s_client hangs: the ClientHello got no reply\n%s", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("openssl took %v", d)
	}
	if strings.Contains(string(out), "BEGIN CERTIFICATE") || !strings.Contains(string(out), "wrong version number") {
		t.Errorf("openssl did not fail on the plain reply:\n%s", out)
	}
}
