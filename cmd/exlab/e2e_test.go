package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// End-to-end tests start the real binary with an inline config whose bindings are 127.0.0.1:0
// and a temporary data directory, and talk to it over real sockets (maddy's tests/t.go idea).

var exlabBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exlab-e2e")
	if err != nil {
		panic(err)
	}
	exlabBin = filepath.Join(dir, "exlab")
	out, err := exec.Command("go", "build", "-race", "-o", exlabBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building exlab: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var bindingsLine = regexp.MustCompile(`(?m)^(\s*)Bindings: .*$`)

// labConfig is the embedded default with every binding on 127.0.0.1:0 and no tarpits, plus
// extra YAML appended (more connectors, ADPermissions) and per-connector edits.
func labConfig(edit func(string) string) string {
	s := bindingsLine.ReplaceAllString(string(config.DefaultYAML), `${1}Bindings: ["127.0.0.1:0"]`)
	s = strings.ReplaceAll(s, `TarpitInterval: "00:00:05"`, `TarpitInterval: "00:00:00"`)
	if edit != nil {
		s = edit(s)
	}
	return noTarpits(s)
}

// noTarpits gives every receive connector that does not set its TarpitInterval one of zero, so
// refusals come at once in tests (tests about the tarpit set it).
func noTarpits(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		if !strings.HasPrefix(lines[i], "  - Name: ") {
			continue
		}
		connector, tarpit := false, false
		for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "    "); j++ {
			connector = connector || strings.HasPrefix(lines[j], "    TransportRole:")
			tarpit = tarpit || strings.HasPrefix(lines[j], "    TarpitInterval:")
		}
		if connector && !tarpit {
			out = append(out, `    TarpitInterval: "00:00:00"`)
		}
	}
	return strings.Join(out, "\n")
}

type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	data  string
	addr  map[string]string // connector name → address
	mu    sync.Mutex
	log   bytes.Buffer
	exit  chan error
	ready chan struct{}
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

func (s *server) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

var listening = regexp.MustCompile(`exlab: EX01\\(.+) listening on (\S+)`)

func startServer(t *testing.T, cfg string, data string, args ...string) *server {
	t.Helper()
	return startService(t, "serve", cfg, data, args...)
}

// startService starts `exlab serve`, `exlab frontend` or `exlab hub`.
func startService(t *testing.T, sub, cfg string, data string, args ...string) *server {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	base := []string{sub, "--data", data, "--admin", "127.0.0.1:0"}
	if cfg != "" { // "": no --config (the data directory's organization.yaml, or the embedded default)
		cfgPath := filepath.Join(t.TempDir(), "org.yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		base = append(base, "--config", cfgPath)
	}
	s := &server{t: t, data: data, addr: map[string]string{}, exit: make(chan error, 1), ready: make(chan struct{})}
	s.cmd = exec.Command(exlabBin, append(base, args...)...)
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s, line)
			if m := listening.FindStringSubmatch(line); m != nil {
				s.mu.Lock()
				s.addr[m[1]] = m[2]
				s.mu.Unlock()
			}
			if strings.Contains(line, "every connector listens") || strings.Contains(line, "bindings listen") {
				close(s.ready)
			}
		}
	}()
	go func() { s.exit <- s.cmd.Wait(); pw.Close() }()
	select {
	case <-s.ready:
	case err := <-s.exit:
		t.Fatalf("exlab exited: %v\n%s", err, s.stderr())
	case <-time.After(30 * time.Second):
		t.Fatalf("exlab did not start\n%s", s.stderr())
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.exit
		}
		if t.Failed() {
			t.Logf("exlab stderr:\n%s", s.stderr())
		}
	})
	return s
}

func (s *server) address(connector string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.addr[connector]
	if !ok {
		s.t.Fatalf("connector %q does not listen; have %v", connector, s.addr)
	}
	return a
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exit:
		if err != nil {
			s.t.Fatalf("exlab exited with %v after SIGTERM\n%s", err, s.stderr())
		}
	case <-time.After(40 * time.Second):
		s.t.Fatalf("exlab did not stop\n%s", s.stderr())
	}
}

func exlab(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(exlabBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// waitMailbox polls `exlab mailbox list` until it shows n messages for addr.
func waitMailbox(t *testing.T, data, addr string, n int) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	want := fmt.Sprintf("%d message(s)", n)
	var out string
	for time.Now().Before(deadline) {
		out, _, _ = exlab(t, "mailbox", "list", addr, "--data", data)
		if strings.Contains(out, want) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("mailbox %s never reached %d messages:\n%s", addr, n, out)
	return ""
}

func sendMail(t *testing.T, addr, from string, to []string, body string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		return err
	}
	return c.SendMail(from, to, strings.NewReader(body))
}

// dialSubmission opens an authenticated session on a Client Frontend connector: STARTTLS, then
// AUTH LOGIN (Exchange refuses PLAIN, spec §13.5).
func dialSubmission(t *testing.T, addr, user, password string) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Auth(sasl.NewLoginClient(user, password)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTranscriptDefaultFrontend compares a whole session on Default Frontend, byte for byte,
// with the spec's texts (testdata/default-frontend.txt).
func TestTranscriptDefaultFrontend(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	script, err := os.ReadFile("testdata/default-frontend.txt")
	if err != nil {
		t.Fatal(err)
	}
	runTranscript(t, s.address("Default Frontend EX01"), string(script))
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	for _, want := range []string{
		"Received: from ex01.contoso.test (127.0.0.1) by ex01.contoso.test (127.0.0.1)",
		"Received: from client.example (127.0.0.1) by ex01.contoso.test (127.0.0.1)",
		"via Frontend Transport",
		"Subject: transcript\r\nMessage-ID: <transcript@example.org>\r\nX-MS-Exchange-Organization-OriginalArrivalTime:",
		"X-MS-Exchange-Organization-AuthAs: Anonymous",
		"\r\n\r\nline one\r\n.leading dot\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, out)
		}
	}
}

// runTranscript: "C: " lines are sent, "S: " lines compared byte for byte, "S~ " lines matched
// as regular expressions, and "S. " expects the server to close the connection.
func runTranscript(t *testing.T, addr, script string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for i, line := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		kind, text := line[:3], line[3:]
		switch kind {
		case "C: ":
			if _, err := c.Write([]byte(text + "\r\n")); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
		case "S. ":
			// The server closes the connection.
			if got, err := br.ReadString('\n'); err == nil || got != "" {
				t.Fatalf("line %d: want the connection closed, got %q, %v", i+1, got, err)
			}
		case "S: ", "S~ ":
			got, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("line %d: want %q: %v", i+1, text, err)
			}
			if !strings.HasSuffix(got, "\r\n") {
				t.Fatalf("line %d: %q does not end in CRLF", i+1, got)
			}
			got = strings.TrimSuffix(got, "\r\n")
			if kind == "S: " && got != text || kind == "S~ " && !regexp.MustCompile("^"+text+"$").MatchString(got) {
				t.Fatalf("line %d:\n got %q\nwant %q", i+1, got, text)
			}
		default:
			t.Fatalf("line %d: bad script line %q", i+1, line)
		}
	}
}

func TestSendAndRelay(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	body := "From: a@example.org\r\nTo: user1@contoso.test\r\nSubject: go-smtp\r\n\r\nHello from go-smtp.\r\n"
	if err := sendMail(t, fe, "a@example.org", []string{"user1@contoso.test", "admin@contoso.test"}, body); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	// admin@ is a proxy address of administrator@: the message lands in that mailbox.
	waitMailbox(t, s.data, "administrator@contoso.test", 1)

	err := sendMail(t, fe, "a@example.org", []string{"victim@other.example"}, body)
	var se *smtp.SMTPError
	if !errorsAs(err, &se) || se.Code != 550 || se.Message != "SMTP; Unable to relay recipient in non-accepted domain" {
		t.Fatalf("relay attempt: %v", err)
	}
}

// TestUnknownRecipientGetsNDR: accepted at RCPT, NDR'd by the categorizer with 5.1.10 (spec §4.2).
func TestUnknownRecipientGetsNDR(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	body := "Subject: to nobody\r\nMessage-ID: <lost@contoso.test>\r\n\r\nanyone?\r\n"
	if err := sendMail(t, s.address("Default Frontend EX01"), "user1@contoso.test", []string{"nobody@contoso.test"}, body); err != nil {
		t.Fatal(err)
	}
	list := waitMailbox(t, s.data, "user1@contoso.test", 1)
	if !strings.Contains(list, "Undeliverable: to nobody") || !strings.Contains(list, "<>") {
		t.Errorf("NDR not listed as expected:\n%s", list)
	}
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	for _, want := range []string{
		"Content-Type: multipart/report; report-type=delivery-status;",
		"Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
		"Final-Recipient: rfc822;nobody@contoso.test",
		"Status: 5.1.10",
		"Message-ID: <lost@contoso.test>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("NDR lacks %q:\n%s", want, out)
		}
	}
}

// TestHubRefusesAnonymousClients: an anonymous client on 2525 gets no submit right and cannot
// use the proxy verbs to forge a client identity or gain a right.
func TestHubRefusesAnonymousClients(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	runTranscript(t, s.address("Default EX01"), `S~ 220 ex01\.contoso\.test Microsoft ESMTP MAIL Service ready at .*
C: EHLO attacker.example
S: 250-ex01.contoso.test Hello [127.0.0.1]
S: 250-SIZE
S: 250-PIPELINING
S: 250-DSN
S: 250-ENHANCEDSTATUSCODES
S: 250-STARTTLS
S: 250-X-ANONYMOUSTLS
S: 250-AUTH NTLM
S: 250-X-EXPS GSSAPI NTLM
S: 250-8BITMIME
S: 250-BINARYMIME
S: 250-CHUNKING
S: 250-XEXCH50
S: 250-SMTPUTF8
S: 250-XRDST
S: 250 XSHADOWREQUEST
C: XPROXYFROM SID=1 IP=10.0.0.1 PORT=1 DOMAIN=x SEQNUM=1 PERMS=4294967295 AUTHSRC=Internal
S: 500 5.3.3 Unrecognized command
C: MAIL FROM:<a@example.org>
S: 530 5.7.1 Client was not authenticated
C: X-EXPS GSSAPI
S~ 334 [A-Za-z0-9+/=]+
C: Z3Vlc3M=
S: 454 4.7.0 Temporary authentication failure
C: MAIL FROM:<a@example.org>
S: 530 5.7.1 Client was not authenticated
C: QUIT
S: 221 2.0.0 Service closing transmission channel`)
	if !strings.Contains(s.stderr(), "EventID=1035") {
		t.Error("no Event 1035 for the failed X-EXPS")
	}
}

// TestHubDownGetsPRX: with the hub's connector disabled the frontend has nowhere to proxy and
// answers 451 4.7.0 … PRX1 after the data, never 250.
func TestHubDownGetsPRX(t *testing.T) {
	cfg := labConfig(func(s string) string {
		return strings.Replace(s, "  - Name: Default EX01\n", "  - Name: Default EX01\n    Enabled: false\n", 1)
	})
	s := startServer(t, cfg, "")
	err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"}, "Subject: x\r\n\r\nx\r\n")
	var se *smtp.SMTPError
	if !errorsAs(err, &se) || se.Code != 451 || se.Message != "Temporary server error. Please try again later. PRX1" {
		t.Fatalf("got %v", err)
	}
}

// TestRestartRedeliversQueuedMail: what was queued and not delivered when the server stopped
// is delivered after it starts again. The message is put in the queue database directly, as a
// crash between the commit and the delivery would leave it.
func TestRestartRedeliversQueuedMail(t *testing.T) {
	data := t.TempDir()
	if err := queueDirect(data, "user1@contoso.test", "Subject: left behind\r\n\r\nstill here\r\n"); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, labConfig(nil), data)
	out := waitMailbox(t, data, "user1@contoso.test", 1)
	if !strings.Contains(out, "left behind") {
		t.Errorf("%s", out)
	}
	s.stop()
	// After the server has stopped, the tools read the data directory directly.
	out, errOut, code := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", data)
	if code != 0 || !strings.Contains(out, "still here") {
		t.Errorf("mailbox show after stop: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(s.stderr(), "exlab: stopped") {
		t.Errorf("no clean stop:\n%s", s.stderr())
	}
}

// TestShutdownLetsTheMessageFinish: SIGTERM while a client is in DATA: its message is accepted
// (or refused with the shutdown reply), never half-stored; the process exits 0.
func TestShutdownLetsTheMessageFinish(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	c, err := net.Dial("tcp", s.address("Default Frontend EX01"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	read := func() string { l, _ := br.ReadString('\n'); return l }
	read()
	fmt.Fprintf(c, "HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<user1@contoso.test>\r\nDATA\r\n")
	for i := 0; i < 4; i++ {
		read()
	}
	fmt.Fprintf(c, "Subject: during shutdown\r\n\r\nfirst half\r\n")
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	waitUntil(t, 10*time.Second, "the server to begin stopping", func() bool {
		return strings.Contains(s.stderr(), "stopping; sessions receiving a message may finish")
	})
	fmt.Fprintf(c, "second half\r\n.\r\n")
	if got := read(); !strings.HasPrefix(got, "250 2.6.0 ") {
		t.Errorf("message in flight at shutdown got %q", got)
	}
	fmt.Fprintf(c, "NOOP\r\n")
	if got := read(); got != "421 4.3.2 Service not available, closing transmission channel\r\n" {
		t.Errorf("after the message: %q", got)
	}
	select {
	case err := <-s.exit:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not stop")
	}
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	if !strings.Contains(out, "first half\r\nsecond half") {
		t.Errorf("the message is not in the mailbox after restart-free stop:\n%s", out)
	}
}

func TestConfigCommands(t *testing.T) {
	out, _, code := exlab(t, "config", "default")
	if code != 0 || out != string(config.DefaultYAML) {
		t.Errorf("config default: %d", code)
	}
	path := filepath.Join(t.TempDir(), "default.yaml")
	_ = os.WriteFile(path, []byte(out), 0o600)
	if out, errOut, code := exlab(t, "config", "validate", path); code != 0 || !strings.Contains(out, "5 receive connector(s)") {
		t.Errorf("validate default: %d %s %s", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("Servers:\n  - Name: EX01\n    Fqdn: ex01.contoso.test\nAcceptedDomains:\n  - DomainName: contoso.test\nReceiveConnectors:\n  - Name: R\n    TransportRole: Frontend\n    Bindings: [\"0.0.0.0:25\"]\n    MaxMessageSize: huge\n"), 0o600)
	_, errOut, code := exlab(t, "config", "validate", bad)
	want := bad + ":8: ReceiveConnectors[0].TransportRole: \"Frontend\" is not one of FrontendTransport, HubTransport\n" +
		bad + ":10: ReceiveConnectors[0].MaxMessageSize: \"huge\" is not a size (write it as 36 MB, 36 MB (37,748,736 bytes) or 37748736)\n"
	if code != 1 || errOut != want {
		t.Errorf("validate bad: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	// serve refuses a bad config with the same messages.
	_, errOut, code = exlab(t, "serve", "--config", bad, "--data", t.TempDir())
	if code != 1 || !strings.Contains(errOut, ":8: ReceiveConnectors[0].TransportRole") {
		t.Errorf("serve with a bad config: %d %s", code, errOut)
	}
}

func TestPortOffsetAndBindFailure(t *testing.T) {
	// Occupy a port, then ask for it through --port-offset: that binding fails with Event 1020
	// and every other connector still listens.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	if busy <= 25 {
		t.Skip("ephemeral port too low")
	}
	cfg := labConfig(func(s string) string {
		s = strings.Replace(s, "Bindings: [\"127.0.0.1:0\"]", "Bindings: [\"127.0.0.1:25\"]", 1)
		return strings.Replace(s, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n    BindRetryInterval: \"00:00:00.2\"", 1)
	})
	events := filepath.Join(t.TempDir(), "events.jsonl")
	s := startServer(t, cfg, "", "--port-offset", fmt.Sprint(busy-25), "--events", events)
	// The event stream has it as one JSON object, as an admin filters the event viewer.
	b, _ := os.ReadFile(events)
	var ev struct {
		EventID                int
		Source, Level, Message string
	}
	if err := json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[0], &ev); err != nil || ev.EventID != 1020 || ev.Source != "MSExchangeFrontEndTransport" ||
		ev.Level != "Error" || !strings.Contains(ev.Message, "could not bind") {
		t.Errorf("event stream: %v %s", err, b)
	}
	if !strings.Contains(s.stderr(), fmt.Sprintf(`The receive connector \"Default Frontend EX01\" could not bind to 127.0.0.1:%d because the address is already in use.`, busy)) ||
		!strings.Contains(s.stderr(), "EventID=1020") {
		t.Errorf("no Event 1020:\n%s", s.stderr())
	}
	if !strings.Contains(s.stderr(), "7 of 8 bindings listen") { // 5 connectors and 475-477
		t.Errorf("expected the other connectors to listen:\n%s", s.stderr())
	}
	if pid := fmt.Sprintf("OwnerPID=%d", os.Getpid()); !strings.Contains(s.stderr(), pid) {
		t.Errorf("Event 1020 does not name the process holding the port (%s):\n%s", pid, s.stderr())
	}
	_ = s.address("Default EX01")
	// Not ready while a binding does not listen (the container health check).
	if out, errOut, code := exlab(t, "readyz", "--data", s.data); code != 1 || !strings.Contains(errOut, "not ready: 1 binding(s) do not listen") ||
		!strings.Contains(errOut, `EX01\Default Frontend EX01`) {
		t.Errorf("exlab readyz with a binding down: %d %s %s", code, out, errOut)
	}
	// Once the port is free the connector comes up by itself and serves.
	l.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr(), "is now listening") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := sendMail(t, fmt.Sprintf("127.0.0.1:%d", busy), "a@example.org", []string{"user1@contoso.test"}, "Subject: x\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("after the port was freed: %v\n%s", err, s.stderr())
	}
	if _, errOut, code := exlab(t, "readyz", "--data", s.data); code != 0 {
		t.Errorf("exlab readyz after the port was freed: %d %s", code, errOut)
	}
}

func errorsAs(err error, target **smtp.SMTPError) bool {
	if err == nil {
		return false
	}
	se, ok := err.(*smtp.SMTPError)
	if ok {
		*target = se
	}
	return ok
}

var _ = context.Background

// TestProxyOverTCP: with --proxy-transport tcp the frontend reaches the hub over a loopback
// socket (as separate services would), and large messages travel in several BDAT chunks.
func TestProxyOverTCP(t *testing.T) {
	s := startServer(t, labConfig(nil), "", "--proxy-transport", "tcp")
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("y", 998)+"\r\n", 200) + ".dot line\r\n"
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"}, big); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	if !strings.Contains(out, strings.Repeat("y", 998)+"\r\n.dot line\r\n") || strings.Count(out, strings.Repeat("y", 998)) != 200 {
		t.Errorf("the big message did not arrive intact (%d bytes shown)", len(out))
	}
}

// TestFrontendAndHubAsTwoProcesses: `exlab hub` and `exlab frontend` run one service each; the
// frontend finds the hub through the configuration. Started frontend first, it answers PRX3
// until the hub is up (the seed's "frontend started before the hub").
func TestFrontendAndHubAsTwoProcesses(t *testing.T) {
	data := t.TempDir()
	// The hub's port must be known to the frontend's configuration: take a free one.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := labConfig(func(s string) string {
		i := strings.Index(s, "  - Name: Default EX01\n")
		j := i + strings.Index(s[i:], "Bindings: [\"127.0.0.1:0\"]")
		return s[:j] + fmt.Sprintf("Bindings: [\"127.0.0.1:%d\"]", hubPort) + s[j+len("Bindings: [\"127.0.0.1:0\"]"):]
	})
	fe := startService(t, "frontend", cfg, data)
	if strings.Contains(fe.stderr(), "Default EX01 listening") {
		t.Fatalf("the frontend process bound hub connectors:\n%s", fe.stderr())
	}
	msg := "Subject: two processes\r\n\r\nx\r\n"
	err = sendMail(t, fe.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"}, msg)
	var se *smtp.SMTPError
	if !errorsAs(err, &se) || se.Code != 451 || !strings.HasSuffix(se.Message, "PRX3") {
		t.Fatalf("with no hub: %v", err)
	}
	hub := startService(t, "hub", cfg, data)
	if strings.Contains(hub.stderr(), "Default Frontend EX01 listening") {
		t.Fatalf("the hub process bound frontend connectors:\n%s", hub.stderr())
	}
	if err := sendMail(t, fe.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"}, msg); err != nil {
		t.Fatalf("with the hub up: %v\n%s\n%s", err, fe.stderr(), hub.stderr())
	}
	waitMailbox(t, data, "user1@contoso.test", 1)
}

// TestSharedBindingConflict reproduces the multi-role conflict of spec §3: with
// BindingConflictMode Shared a HubTransport connector on the frontend's port binds too
// (SO_REUSEPORT), the kernel spreads connections between them, and some clients get the hub's
// EHLO and its refusal of anonymous mail. With Exclusive the same file is refused.
func TestSharedBindingConflict(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := func(mode string) string {
		return labConfig(func(s string) string {
			s = strings.Replace(s, "Bindings: [\"127.0.0.1:0\"]", fmt.Sprintf("Bindings: [\"127.0.0.1:%d\"]", port), 1)
			s = strings.Replace(s, "BindingConflictMode: Exclusive", "BindingConflictMode: "+mode, 1)
			return strings.Replace(s, "\nSendConnectors:", fmt.Sprintf(`
  - Name: Hub Internet EX01
    TransportRole: HubTransport
    Bindings: ["127.0.0.1:%d"]
    PermissionGroups: [ExchangeServers]
    AuthMechanism: [Tls, ExchangeServer]

SendConnectors:`, port), 1)
		})
	}
	bad := filepath.Join(t.TempDir(), "exclusive.yaml")
	_ = os.WriteFile(bad, []byte(cfg("Exclusive")), 0o600)
	if _, errOut, code := exlab(t, "config", "validate", bad); code != 1 || !strings.Contains(errOut, "ReceiveConnectorRoleConflictException") {
		t.Fatalf("Exclusive: %d %s", code, errOut)
	}

	s := startServer(t, cfg("Shared"), "")
	if !strings.Contains(s.stderr(), "every connector listens") {
		t.Fatalf("both connectors should bind:\n%s", s.stderr())
	}
	frontend, hub := 0, 0
	for i := 0; i < 40; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n")
		var lines []string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				break
			}
			lines = append(lines, strings.TrimSpace(l))
		}
		c.Close()
		all := strings.Join(lines, "|")
		switch {
		case strings.Contains(all, "250-XEXCH50") && strings.Contains(all, "530 5.7.1 Client was not authenticated"):
			hub++
		case !strings.Contains(all, "XEXCH50") && strings.Contains(all, "250 2.1.0 Sender OK"):
			frontend++
		default:
			t.Fatalf("unexpected session: %s", all)
		}
	}
	if frontend == 0 || hub == 0 {
		t.Errorf("sessions answered by the frontend connector %d, by the hub connector %d: both must get some", frontend, hub)
	}
	shared := filepath.Join(t.TempDir(), "shared.yaml")
	_ = os.WriteFile(shared, []byte(cfg("Shared")), 0o600)
	out, _, code := exlab(t, "probe", "--config", shared, "--connections", "20")
	if code != 1 || !strings.Contains(out, "2 different listeners answer on this port") {
		t.Errorf("probe of the shared binding: exit %d\n%s", code, out)
	}
	t.Logf("40 sessions: %d answered by Default Frontend, %d by the hub connector", frontend, hub)
}

// TestProbe: exlab probe tells a healthy binding, a third-party SMTP server on a connector's
// port (the seed's Event 1020 cause), a port nobody listens on, and the shared conflict apart.
func TestProbe(t *testing.T) {
	// A third-party server on what the embedded default's port 25 becomes with the offset.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "220 mail.example.net ESMTP Postfix (Debian/GNU)\r\n")
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(line, "EHLO") {
						fmt.Fprintf(c, "250-mail.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
					} else {
						fmt.Fprintf(c, "221 2.0.0 Bye\r\n")
						return
					}
				}
			}()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	out, _, code := exlab(t, "probe", "--port-offset", fmt.Sprint(port-25), "--port", fmt.Sprint(port), "--connections", "3")
	if code != 1 || !strings.Contains(out, "EX01\\Default Frontend EX01") || !strings.Contains(out, `banner is not this connector's: "220 mail.example.net ESMTP Postfix (Debian/GNU)"`) ||
		!strings.Contains(out, fmt.Sprint(os.Getpid())) {
		t.Errorf("third-party listener: exit %d\n%s", code, out)
	}
	l.Close()
	out, _, code = exlab(t, "probe", "--port-offset", fmt.Sprint(port-25), "--port", fmt.Sprint(port), "--connections", "1", "--json")
	var res []probeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || len(res) != 1 || res[0].Listening ||
		!strings.Contains(strings.Join(res[0].Problems, ";"), "not listening") {
		t.Errorf("nobody listening: exit %d %v\n%s", code, err, out)
	}

	// exlab itself on the configured port: healthy, the connector named, exlab the owner.
	l2, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fixed := l2.Addr().(*net.TCPAddr).Port
	l2.Close()
	cfg := labConfig(func(s string) string {
		return strings.Replace(s, "Bindings: [\"127.0.0.1:0\"]", fmt.Sprintf("Bindings: [\"127.0.0.1:%d\"]", fixed), 1)
	})
	srv := startServer(t, cfg, "")
	cfgFile := filepath.Join(t.TempDir(), "org.yaml")
	_ = os.WriteFile(cfgFile, []byte(cfg), 0o600)
	out, _, code = exlab(t, "probe", "--config", cfgFile, "--connections", "3")
	want := fmt.Sprintf("127.0.0.1:%d  EX01\\Default Frontend EX01", fixed)
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("%d exlab", srv.cmd.Process.Pid)) ||
		!strings.HasSuffix(strings.TrimSpace(out), "ok") {
		t.Errorf("healthy exlab: exit %d, want %q\n%s", code, want, out)
	}
}

// TestExpiredCertificate: with an expired certificate in the data directory the connectors do
// not offer STARTTLS, Event 12014 says why, and exlab probe reports TLS not offered.
func TestExpiredCertificate(t *testing.T) {
	data := t.TempDir()
	if _, err := smtpreceive.WriteSelfSigned(filepath.Join(data, certDir, "Exchange Certificate.pem"), "ex01.contoso.test",
		time.Now().AddDate(-6, 0, 0), time.Now().AddDate(-1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := labConfig(func(s string) string {
		return strings.Replace(s, "Bindings: [\"127.0.0.1:0\"]", fmt.Sprintf("Bindings: [\"127.0.0.1:%d\"]", port), 1)
	})
	s := startServer(t, cfg, data)
	cfgFile := filepath.Join(t.TempDir(), "org.yaml")
	_ = os.WriteFile(cfgFile, []byte(cfg), 0o600)
	out, _, code := exlab(t, "probe", "--config", cfgFile, "--connections", "2")
	if code != 1 || !strings.Contains(out, "TLS not offered") {
		t.Errorf("probe: exit %d\n%s", code, out)
	}
	if !strings.Contains(s.stderr(), "EventID=12014") || !strings.Contains(s.stderr(), "because it expired on") {
		t.Errorf("no Event 12014:\n%s", s.stderr())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func bannerOf(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "refused"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	l, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(l)
}

// TestLiveReconfiguration: SIGHUP re-reads the configuration and exlab config apply applies
// another file: connectors are added, changed and removed on the running server, sessions on
// unchanged bindings go on, and an invalid file changes nothing (Event 1003).
func TestLiveReconfiguration(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	base := labConfig(func(s string) string {
		return strings.Replace(s, "Bindings: [\"127.0.0.1:0\"]", fmt.Sprintf("Bindings: [\"127.0.0.1:%d\"]", p1), 1)
	})
	withRelay := strings.Replace(base, "\nSendConnectors:", fmt.Sprintf(`
  - Name: Relay EX01
    TransportRole: FrontendTransport
    Bindings: ["127.0.0.1:%d"]
    PermissionGroups: [AnonymousUsers]
    Banner: 220 relay.contoso.test ready

SendConnectors:`, p2), 1)
	withRelay = strings.Replace(withRelay, "    DomainSecureEnabled: true\n", "    DomainSecureEnabled: true\n    Banner: 220 changed.contoso.test\n", 1)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "org.yaml")
	if err := os.WriteFile(cfgPath, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	s := startServerFile(t, cfgPath, data)
	fe := fmt.Sprintf("127.0.0.1:%d", p1)
	relay := fmt.Sprintf("127.0.0.1:%d", p2)

	// A session that stays open across the change.
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "220 ex01.contoso.test Microsoft ESMTP") {
		t.Fatalf("banner %q", l)
	}
	if got := bannerOf(t, relay); got != "refused" {
		t.Fatalf("relay port before the change: %q", got)
	}

	_ = os.WriteFile(cfgPath, []byte(withRelay), 0o600)
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr(), "applied") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := bannerOf(t, relay); got != "220 relay.contoso.test ready" {
		t.Errorf("the new connector after SIGHUP: %q\n%s", got, s.stderr())
	}
	if got := bannerOf(t, fe); got != "220 changed.contoso.test" {
		t.Errorf("a new session on the changed connector: %q", got)
	}
	fmt.Fprintf(c, "EHLO client.example\r\n")
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the open session was dropped: %v", err)
		}
		if l[3] == ' ' {
			break
		}
	}
	fmt.Fprintf(c, "MAIL FROM:<a@example.org>\r\n")
	if l, _ := br.ReadString('\n'); l != "250 2.1.0 Sender OK\r\n" {
		t.Errorf("the open session after the change: %q", l)
	}

	// An invalid file is refused and changes nothing.
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte(strings.Replace(withRelay, "TransportRole: FrontendTransport", "TransportRole: Frontend", 1)), 0o600)
	if _, errOut, code := exlab(t, "config", "apply", bad, "--data", data); code != 1 || !strings.Contains(errOut, "is not one of FrontendTransport") {
		t.Errorf("apply of an invalid file: %d %s", code, errOut)
	}
	_ = os.WriteFile(cfgPath, []byte("Servers: [oops"), 0o600)
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	for !strings.Contains(s.stderr(), "EventID=1003") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(s.stderr(), "EventID=1003") || bannerOf(t, relay) != "220 relay.contoso.test ready" {
		t.Errorf("an invalid file on SIGHUP must change nothing and log Event 1003:\n%s", s.stderr())
	}

	// exlab config apply removes the connector again.
	basePath := filepath.Join(dir, "base.yaml")
	_ = os.WriteFile(basePath, []byte(base), 0o600)
	if out, errOut, code := exlab(t, "config", "apply", basePath, "--data", data); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("config apply: %d %s %s", code, out, errOut)
	}
	if got := bannerOf(t, relay); got != "refused" {
		t.Errorf("the removed connector still answers: %q", got)
	}
	if got := bannerOf(t, fe); !strings.HasPrefix(got, "220 ex01.contoso.test Microsoft ESMTP MAIL Service ready at") {
		t.Errorf("Default Frontend after apply: %q", got)
	}
}

// startServerFile starts exlab serve on a configuration file the test keeps changing.
func startServerFile(t *testing.T, cfgPath, data string) *server {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return startService(t, "serve", string(b), data, "--config", cfgPath) // the last --config wins
}

// TestClientSubmission: Client Frontend (587) as Exchange answers a mail client: no LOGIN and
// no MAIL before STARTTLS and AUTH, Exchange's AUTH texts and prompts, MaxLogonFailures,
// send-as, and relay for authenticated users.
func TestClientSubmission(t *testing.T) {
	cfg := labConfig(func(s string) string {
		return strings.Replace(s, "  - Name: Client Frontend EX01\n", "  - Name: Client Frontend EX01\n    AuthTarpitInterval: \"00:00:00\"\n", 1)
	})
	s := startServer(t, cfg, "")
	addr := s.address("Client Frontend EX01")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	var br *bufio.Reader
	var w io.Writer = c
	br = bufio.NewReader(c)
	expect := func(cmd string, want ...string) {
		t.Helper()
		if cmd != "" {
			fmt.Fprintf(w, "%s\r\n", cmd)
		}
		for _, wl := range want {
			got, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: want %q: %v", cmd, wl, err)
			}
			if strings.TrimRight(got, "\r\n") != wl {
				t.Fatalf("%s:\n got %q\nwant %q", cmd, got, wl)
			}
		}
	}
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "220 ex01.contoso.test") {
		t.Fatalf("banner %q", l)
	}
	expect("EHLO client.example", "250-ex01.contoso.test Hello [127.0.0.1]", "250-SIZE 37748736", "250-PIPELINING", "250-DSN",
		"250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-AUTH GSSAPI NTLM", "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8")
	expect("AUTH LOGIN", "504 5.7.4 Unrecognized authentication type")
	expect("MAIL FROM:<user1@contoso.test>", "530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM")
	expect("STARTTLS", "220 2.0.0 SMTP server ready")
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	w, br = tc, bufio.NewReader(tc)
	expect("EHLO client.example", "250-ex01.contoso.test Hello [127.0.0.1]", "250-SIZE 37748736", "250-PIPELINING", "250-DSN",
		"250-ENHANCEDSTATUSCODES", "250-AUTH GSSAPI NTLM LOGIN", "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8")
	expect("AUTH NTLM", "334 NTLM supported")
	expect("*", "501 5.5.2 Cannot decode response")
	expect("AUTH LOGIN", "334 VXNlcm5hbWU6")
	expect(b64("user1@contoso.test"), "334 UGFzc3dvcmQ6")
	expect(b64("wrong"), "535 5.7.3 Authentication unsuccessful")
	expect("AUTH PLAIN "+b64("\x00user1@contoso.test\x00P@ssw0rd"), "504 5.7.4 Unrecognized authentication type")
	expect("AUTH LOGIN "+b64("user1@contoso.test"), "334 UGFzc3dvcmQ6")
	expect(b64("P@ssw0rd"), "235 2.7.0 Authentication successful")
	expect("MAIL FROM:<administrator@contoso.test>", "550 5.7.60 SMTP; Client does not have permissions to send as this sender")
	expect("MAIL FROM:<user1@contoso.test>", "250 2.1.0 Sender OK")
	expect("RCPT TO:<someone@fabrikam.example>", "250 2.1.5 Recipient OK")
	expect("RCPT TO:<admin@contoso.test>", "250 2.1.5 Recipient OK")
	expect("DATA", "354 Start mail input; end with <CRLF>.<CRLF>")
	fmt.Fprintf(w, "Subject: from a client\r\n\r\nhello\r\n.\r\n")
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "250 2.6.0 ") {
		t.Fatalf("end of data: %q", l)
	}
	waitMailbox(t, s.data, "administrator@contoso.test", 1)
	out, _, _ := exlab(t, "mailbox", "show", "administrator@contoso.test", "--data", s.data)
	if !strings.Contains(out, "X-MS-Exchange-Organization-AuthAs: Internal") || !strings.Contains(out, "(version=TLS1_2,") || !strings.Contains(out, "cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)") ||
		!strings.Contains(out, "X-ClientProxiedBy: ex01.contoso.test (127.0.0.1) To ex01.contoso.test (127.0.0.1)") ||
		!strings.Contains(out, "X-MS-Exchange-Organization-AuthMechanism: 06") {
		t.Errorf("delivered message:\n%s", out)
	}

	// MaxLogonFailures (3): the third failure closes the session.
	c2, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		c2.Close()
		t.Fatal("587 is not implicit TLS")
	}
	c3, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	br = bufio.NewReader(c3)
	_, _ = br.ReadString('\n')
	w = c3
	expect("EHLO client.example", "250-ex01.contoso.test Hello [127.0.0.1]", "250-SIZE 37748736", "250-PIPELINING", "250-DSN",
		"250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-AUTH GSSAPI NTLM", "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8")
	expect("STARTTLS", "220 2.0.0 SMTP server ready")
	tc3 := tls.Client(c3, &tls.Config{InsecureSkipVerify: true})
	w, br = tc3, bufio.NewReader(tc3)
	fmt.Fprintf(w, "EHLO client.example\r\n")
	for l, _ := br.ReadString('\n'); len(l) > 3 && l[3] == '-'; l, _ = br.ReadString('\n') {
	}
	bad := "AUTH LOGIN " + b64("user1@contoso.test")
	for i := 0; i < 2; i++ {
		expect(bad, "334 UGFzc3dvcmQ6")
		expect(b64("nope"), "535 5.7.3 Authentication unsuccessful")
	}
	expect(bad, "334 UGFzc3dvcmQ6")
	expect(b64("nope"), "421 4.7.0 Too many errors on this connection, closing transmission channel")
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("the session is still open after MaxLogonFailures")
	}
	if !strings.Contains(s.stderr(), "Inbound authentication failed with error LogonDenied for Receive connector Client Frontend EX01. The authentication mechanism is Login.") {
		t.Errorf("no Event 1035:\n%s", s.stderr())
	}
}

// relayConfig adds the anonymous relay connector of spec §2.4 (first way) for 127.0.0.2 on
// Default Frontend's port.
func relayConfig(port int, ranges string) string { return relayConfigOn(port, port, ranges) }

func relayConfigOn(port, relayPort int, ranges string) string {
	return labConfig(func(s string) string {
		s = strings.Replace(s, "Bindings: [\"127.0.0.1:0\"]", fmt.Sprintf("Bindings: [\"0.0.0.0:%d\"]", port), 1)
		return strings.Replace(s, "\nSendConnectors:", fmt.Sprintf(`
  - Name: Anonymous Relay EX01
    Server: EX01
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:%d"]
    RemoteIPRanges: [%s]
    PermissionGroups: [AnonymousUsers]
ADPermissions:
  - Identity: EX01\Anonymous Relay EX01
    User: NT AUTHORITY\ANONYMOUS LOGON
    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]

SendConnectors:`, relayPort, ranges), 1)
	})
}

// TestAnonymousRelayConnector: a device at an allowed address relays through the relay
// connector; anyone else on the same port gets Default Frontend and 5.7.54; the audit finds the
// relay and calls a whole-Internet one open.
func TestAnonymousRelayConnector(t *testing.T) {
	port := freePort(t)
	s := startServer(t, relayConfig(port, `"127.0.0.2"`), "")
	rcptFrom := func(src string) string {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "HELO device.example\r\nMAIL FROM:<scanner@contoso.test>\r\nRCPT TO:<someone@fabrikam.example>\r\nQUIT\r\n")
		var last string
		for i := 0; i < 4; i++ {
			l, _ := br.ReadString('\n')
			last = strings.TrimSpace(l)
			if strings.HasPrefix(last, "250 2.1.5") || strings.HasPrefix(last, "550") {
				return last
			}
		}
		return last
	}
	if got := rcptFrom("127.0.0.2"); got != "250 2.1.5 Recipient OK" {
		t.Errorf("the allowed device: %q", got)
	}
	if got := rcptFrom("127.0.0.1"); got != "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain" {
		t.Errorf("anyone else: %q", got)
	}
	_ = s

	dir := t.TempDir()
	scoped := filepath.Join(dir, "scoped.yaml")
	_ = os.WriteFile(scoped, []byte(relayConfig(port, `"127.0.0.2", "10.0.0.0/16"`)), 0o600)
	out, _, code := exlab(t, "connector", "audit", "--config", scoped)
	if code != 0 || !strings.Contains(out, `EX01\Anonymous Relay EX01`) || !strings.Contains(out, "10.0.0.0/16 is wider than a /24") {
		t.Errorf("scoped relay: exit %d\n%s", code, out)
	}
	open := filepath.Join(dir, "open.yaml")
	// On a port of its own: on Default Frontend's port the same range would be refused as
	// identical to Default Frontend's.
	_ = os.WriteFile(open, []byte(relayConfigOn(port, port+1, `"0.0.0.0-255.255.255.255"`)), 0o600)
	out, _, code = exlab(t, "connector", "audit", "--config", open)
	if code != 1 || !strings.Contains(out, "0.0.0.0-255.255.255.255 is the whole Internet: an open relay") {
		t.Errorf("open relay: exit %d\n%s", code, out)
	}
	out, _, code = exlab(t, "connector", "audit")
	if code != 0 || !strings.Contains(out, "no receive connector lets anonymous clients relay") {
		t.Errorf("the embedded default: exit %d\n%s", code, out)
	}
}

// smartHost is a test-owned SMTP server standing in for a send connector's next hop; it
// refuses recipients whose local part is "reject" with 550 and records what it accepts. With a
// certificate it offers STARTTLS; with a user it offers AUTH LOGIN (after TLS) and requires it.
type smartHost struct {
	addr string
	cert *tls.Certificate
	user string // and password "secret"
	mu   sync.Mutex
	got  []string
}

func startSmartHost(t *testing.T) *smartHost { return startSmartHostOn(t, "127.0.0.1:0") }

func startSmartHostOn(t *testing.T, addr string) *smartHost {
	return startSmartHostWith(t, &smartHost{addr: addr})
}

func startSmartHostWith(t *testing.T, h *smartHost) *smartHost {
	l, err := net.Listen("tcp4", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h.addr = l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go h.serve(c)
		}
	}()
	return h
}

func (h *smartHost) serve(c net.Conn) {
	defer func() { c.Close() }()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "220 relay.fabrikam.test ESMTP\r\n")
	var rcpts []string
	inTLS, authed := false, ""
	b64 := base64.StdEncoding
	readB64 := func() string {
		l, _ := br.ReadString('\n')
		d, _ := b64.DecodeString(strings.TrimSpace(l))
		return string(d)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			fmt.Fprintf(c, "250-relay.fabrikam.test\r\n")
			if h.cert != nil && !inTLS {
				fmt.Fprintf(c, "250-STARTTLS\r\n")
			}
			if h.user != "" && (inTLS || h.cert == nil) {
				fmt.Fprintf(c, "250-AUTH LOGIN\r\n")
			}
			fmt.Fprintf(c, "250 8BITMIME\r\n")
		case cmd == "STARTTLS" && h.cert != nil:
			fmt.Fprintf(c, "220 2.0.0 Ready to start TLS\r\n")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*h.cert}})
			if tc.Handshake() != nil {
				return
			}
			c, br, inTLS = tc, bufio.NewReader(tc), true
		case strings.HasPrefix(cmd, "AUTH LOGIN") && h.user != "":
			var u string
			if f := strings.Fields(strings.TrimSpace(line)); len(f) == 3 { // with the initial response
				d, _ := b64.DecodeString(f[2])
				u = string(d)
			} else {
				fmt.Fprintf(c, "334 VXNlcm5hbWU6\r\n")
				u = readB64()
			}
			fmt.Fprintf(c, "334 UGFzc3dvcmQ6\r\n")
			if pw := readB64(); u != h.user || pw != "secret" {
				fmt.Fprintf(c, "535 5.7.3 Authentication unsuccessful\r\n")
				continue
			}
			authed = u
			fmt.Fprintf(c, "235 2.7.0 Authentication successful\r\n")
		case strings.HasPrefix(cmd, "MAIL"):
			if h.user != "" && authed == "" {
				fmt.Fprintf(c, "530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM\r\n")
				continue
			}
			rcpts = nil
			fmt.Fprintf(c, "250 2.1.0 OK\r\n")
		case strings.HasPrefix(cmd, "RCPT"):
			if strings.Contains(cmd, "<REJECT@") {
				fmt.Fprintf(c, "550 5.1.1 User unknown\r\n")
				continue
			}
			rcpts = append(rcpts, strings.TrimSpace(line))
			fmt.Fprintf(c, "250 2.1.5 OK\r\n")
		case cmd == "DATA":
			fmt.Fprintf(c, "354 go\r\n")
			var body strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				body.WriteString(l)
			}
			note := ""
			if h.cert != nil || h.user != "" {
				note = fmt.Sprintf("[tls=%v auth=%s]\n", inTLS, authed)
			}
			h.mu.Lock()
			h.got = append(h.got, note+strings.Join(rcpts, ",")+"\n"+body.String())
			h.mu.Unlock()
			fmt.Fprintf(c, "250 2.6.0 queued as 42\r\n")
		case cmd == "QUIT":
			fmt.Fprintf(c, "221 bye\r\n")
			return
		default:
			fmt.Fprintf(c, "250 OK\r\n")
		}
	}
}

func (h *smartHost) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// TestSendConnectorSmartHost: recipients of an ExternalRelay domain, accepted from anonymous
// senders, leave through the send connector's smart host; a 5xx from the next hop becomes an
// NDR to the (local) sender.
func TestSendConnectorSmartHost(t *testing.T) {
	sh := startSmartHost(t)
	cfg := labConfig(func(s string) string {
		s = strings.Replace(s, "\nMailboxes:", `
  - Name: fabrikam.test
    DomainName: fabrikam.test
    DomainType: ExternalRelay

Mailboxes:`, 1)
		return strings.Replace(s, "\nSendConnectors: []", fmt.Sprintf(`
SendConnectors:
  - Name: To Fabrikam
    AddressSpaces: ["SMTP:fabrikam.test;1"]
    SmartHosts: ["[127.0.0.1]:%s"]
    DNSRoutingEnabled: false`, strings.TrimPrefix(sh.addr, "127.0.0.1:")), 1)
	})
	s := startServer(t, cfg, "")
	fe := s.address("Default Frontend EX01")
	if err := sendMail(t, fe, "user1@contoso.test", []string{"joe@fabrikam.test", "reject@fabrikam.test"},
		"Subject: outbound\r\n\r\nto fabrikam\r\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(sh.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := sh.messages()
	if len(got) != 1 || !strings.HasPrefix(got[0], "RCPT TO:<joe@fabrikam.test>\n") || !strings.Contains(got[0], "Subject: outbound\r\n") ||
		!strings.Contains(got[0], "Received: from ex01.contoso.test") {
		t.Fatalf("the smart host got %q", got)
	}
	list := waitMailbox(t, s.data, "user1@contoso.test", 1)
	if !strings.Contains(list, "Undeliverable: outbound") {
		t.Errorf("no NDR for the refused recipient:\n%s", list)
	}
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	if !strings.Contains(out, "Final-Recipient: rfc822;reject@fabrikam.test") || !strings.Contains(out, "550 5.1.1 User unknown") {
		t.Errorf("NDR:\n%s", out)
	}
}

// TestSendConnectorRetry: with the smart host down the message stays queued and goes out by
// itself after TransientFailureRetryInterval once the smart host is up.
func TestSendConnectorRetry(t *testing.T) {
	port := freePort(t)
	cfg := labConfig(func(s string) string {
		s = strings.Replace(s, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n    QueueGlitchRetryInterval: \"00:00:00.5\"\n    TransientFailureRetryInterval: \"00:00:00.5\"", 1)
		s = strings.Replace(s, "\nMailboxes:", `
  - Name: fabrikam.test
    DomainName: fabrikam.test
    DomainType: ExternalRelay

Mailboxes:`, 1)
		return strings.Replace(s, "\nSendConnectors: []", fmt.Sprintf(`
SendConnectors:
  - Name: To Fabrikam
    AddressSpaces: ["SMTP:fabrikam.test;1"]
    SmartHosts: ["[127.0.0.1]:%d"]`, port), 1)
	})
	s := startServer(t, cfg, "")
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"joe@fabrikam.test"},
		"Subject: later\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	// At least one failed attempt and one retry, each logged as DEFER.
	waitUntil(t, 15*time.Second, "a failed attempt and a retry", func() bool { return strings.Count(s.stderr(), "DEFER") >= 2 })
	// Now the next hop comes up on the connector's port.
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", port, err)
	}
	l.Close()
	sh := startSmartHostOn(t, fmt.Sprintf("127.0.0.1:%d", port))
	deadline := time.Now().Add(15 * time.Second)
	for len(sh.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := sh.messages(); len(got) != 1 || !strings.Contains(got[0], "Subject: later") {
		t.Fatalf("after the retry the smart host got %q\n%s", got, s.stderr())
	}
}

// TestSendConnectorThroughOutboundProxy: a send connector with FrontendProxyEnabled hands its
// mail to the Outbound Proxy Frontend (717, here a fixed free port since the hub finds it in the
// configuration), which stamps its Received: line and relays it to the smart host; the smart
// host's refusal comes back through it into the NDR.
func TestSendConnectorThroughOutboundProxy(t *testing.T) {
	sh := startSmartHost(t)
	port := freePort(t)
	cfg := labConfig(func(s string) string {
		old := "Name: Outbound Proxy Frontend EX01\n    Server: EX01\n    TransportRole: FrontendTransport\n    Bindings: [\"127.0.0.1:0\"]"
		if !strings.Contains(s, old) {
			t.Fatal("the default's Outbound Proxy Frontend changed shape")
		}
		s = strings.Replace(s, old, fmt.Sprintf("Name: Outbound Proxy Frontend EX01\n    Server: EX01\n    TransportRole: FrontendTransport\n    Bindings: [\"127.0.0.1:%d\"]", port), 1)
		s = strings.Replace(s, "\nMailboxes:", `
  - Name: fabrikam.test
    DomainName: fabrikam.test
    DomainType: ExternalRelay

Mailboxes:`, 1)
		return strings.Replace(s, "\nSendConnectors: []", fmt.Sprintf(`
SendConnectors:
  - Name: To Fabrikam
    AddressSpaces: ["SMTP:fabrikam.test;1"]
    SmartHosts: ["[127.0.0.1]:%s"]
    FrontendProxyEnabled: true`, strings.TrimPrefix(sh.addr, "127.0.0.1:")), 1)
	})
	s := startServer(t, cfg, "")
	if got := s.address("Outbound Proxy Frontend EX01"); got != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("717 listens on %s", got)
	}
	if err := sendMail(t, s.address("Default Frontend EX01"), "user1@contoso.test", []string{"joe@fabrikam.test", "reject@fabrikam.test"},
		"Subject: via 717\r\n\r\nto fabrikam\r\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(sh.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := sh.messages()
	// Received: lines of the inbound frontend, the hub and the outbound frontend.
	if len(got) != 1 || !strings.HasPrefix(got[0], "RCPT TO:<joe@fabrikam.test>\n") || strings.Count(got[0], "Received: from") != 3 {
		t.Fatalf("the smart host got %q\n%s", got, s.stderr())
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	// Each recipient has its own result: the refused one gets the next hop's reply in the NDR,
	// the delivered one none.
	if !strings.Contains(out, "Final-Recipient: rfc822;reject@fabrikam.test") || !strings.Contains(out, "550 5.1.1 User unknown") ||
		strings.Contains(out, "Final-Recipient: rfc822;joe@fabrikam.test") {
		t.Errorf("NDR:\n%s", out)
	}
}

// TestOutboundProxyNextHopDown: the frontend cannot reach the smart host, so the hub keeps the
// message with Exchange's LastError for a failed proxy session setup.
func TestOutboundProxyNextHopDown(t *testing.T) {
	port, dead := freePort(t), freePort(t)
	cfg := labConfig(func(s string) string {
		s = strings.Replace(s, "Name: Outbound Proxy Frontend EX01\n    Server: EX01\n    TransportRole: FrontendTransport\n    Bindings: [\"127.0.0.1:0\"]",
			fmt.Sprintf("Name: Outbound Proxy Frontend EX01\n    Server: EX01\n    TransportRole: FrontendTransport\n    Bindings: [\"127.0.0.1:%d\"]", port), 1)
		return strings.Replace(s, "\nSendConnectors: []", fmt.Sprintf(`
SendConnectors:
  - Name: Internet
    AddressSpaces: ["SMTP:*;1"]
    SmartHosts: ["[127.0.0.1]:%d"]
    FrontendProxyEnabled: true`, dead), 1)
	})
	s := startServer(t, cfg, "")
	if err := sendMail(t, s.address("Default Frontend EX01"), "user1@contoso.test", []string{"user1@contoso.test"},
		"Subject: x\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	// An authenticated client relays to the Internet through the send connector.
	c := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	if err := c.SendMail("user1@contoso.test", []string{"someone@example.org"}, strings.NewReader("Subject: out\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	want := ("450 4.7.0 Proxy session setup failed on Frontend with '441 4.4.1 Error encountered while communicating with primary target IP address")
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.stderr(), want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.stderr(), want) || !strings.Contains(s.stderr(), fmt.Sprintf("127.0.0.1:%d", dead)) {
		t.Fatalf("no deferral with %q:\n%s", want, s.stderr())
	}
}

// TestSendConnectorTLSAndAuth: RequireTLS, TlsAuthLevel and smart-host basic authentication,
// directly and through the Outbound Proxy Frontend. The next hop's self-signed certificate is
// trusted through SSL_CERT_FILE, as a lab adds its CA.
func TestSendConnectorTLSAndAuth(t *testing.T) {
	certFile := filepath.Join(t.TempDir(), "relay.pem")
	cert, err := smtpreceive.WriteSelfSigned(certFile, "relay.fabrikam.test", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", certFile)
	plain := startSmartHost(t)
	secure := startSmartHostWith(t, &smartHost{addr: "127.0.0.1:0", cert: &cert, user: "lab"})
	port := freePort(t)
	connector := func(name, domain, host, extra string) string {
		return fmt.Sprintf("\n  - Name: %s\n    AddressSpaces: [\"SMTP:%s;1\"]\n    SmartHosts: [\"[127.0.0.1]:%s\"]\n    RequireTLS: true%s",
			name, domain, strings.TrimPrefix(host, "127.0.0.1:"), extra)
	}
	auth := "\n    SmartHostAuthMechanism: BasicAuthRequireTLS\n    AuthenticationCredential: {UserName: lab, Password: secret}"
	cfg := labConfig(func(s string) string {
		s = strings.Replace(s, "Name: Outbound Proxy Frontend EX01\n    Server: EX01\n    TransportRole: FrontendTransport\n    Bindings: [\"127.0.0.1:0\"]",
			fmt.Sprintf("Name: Outbound Proxy Frontend EX01\n    Server: EX01\n    TransportRole: FrontendTransport\n    Bindings: [\"127.0.0.1:%d\"]", port), 1)
		return strings.Replace(s, "\nSendConnectors: []", "\nSendConnectors:"+
			connector("No TLS Offered", "tlsnone.test", plain.addr, "")+
			connector("Validated", "validated.test", secure.addr, "\n    TlsAuthLevel: DomainValidation\n    TlsDomain: relay.fabrikam.test\n    ProtocolLoggingLevel: Verbose"+auth)+
			connector("Validated Via Frontend", "proxied.test", secure.addr, "\n    TlsAuthLevel: CertificateValidation\n    FrontendProxyEnabled: true\n    ProtocolLoggingLevel: Verbose"+auth)+
			connector("Wrong Domain", "wrongname.test", secure.addr, "\n    TlsAuthLevel: DomainValidation\n    TlsDomain: mail.other.test"+auth)+
			connector("Bad Password", "badpass.test", secure.addr, "\n    SmartHostAuthMechanism: BasicAuth\n    AuthenticationCredential: {UserName: lab, Password: wrong}"), 1)
	})
	s := startServer(t, cfg, "")
	c := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	if err := c.SendMail("user1@contoso.test", []string{"a@tlsnone.test", "b@validated.test", "c@proxied.test", "d@wrongname.test", "e@badpass.test"},
		strings.NewReader("Subject: tls\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	deferred := func() int { return strings.Count(s.stderr(), "msg=DEFER") }
	for (len(secure.messages()) < 2 || deferred() < 3) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := strings.Join(secure.messages(), "\n---\n")
	for _, want := range []string{"[tls=true auth=lab]\nRCPT TO:<b@validated.test>\n", "[tls=true auth=lab]\nRCPT TO:<c@proxied.test>\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the secure smart host did not get %q:\n%s", want, got)
		}
	}
	if len(plain.messages()) != 0 || len(secure.messages()) != 2 {
		t.Errorf("plain host got %d, secure host %d messages", len(plain.messages()), len(secure.messages()))
	}
	log := s.stderr()
	for _, want := range []string{
		"EventID=2015", "Send connector No TLS Offered couldn't connect to remote domain 127.0.0.1",
		`Recipient=a@tlsnone.test SendConnector="No TLS Offered" LastError="451 4.4.0 Primary target IP address responded with: \"TLS is required by send connector No TLS Offered, but the remote server did not offer STARTTLS.\"`,
		`Recipient=d@wrongname.test SendConnector="Wrong Domain" LastError="451 4.4.0 Primary target IP address responded with: \"TLS negotiation failed with error`,
		`Recipient=e@badpass.test SendConnector="Bad Password" LastError="451 4.4.0 Primary target IP address responded with: \"535 5.7.3 Authentication unsuccessful.\"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(log)
	}
	// The two Verbose connectors' sessions are in the SmtpSend logs: the hub's for the direct
	// one, the frontend's for the one through 717 (spec §7.1).
	s.stop()
	for role, connector := range map[string]string{"Hub": "Validated", "FrontEnd": "Validated Via Frontend"} {
		lines := protocolLogLines(t, filepath.Join(s.data, "TransportRoles/Logs", role, "ProtocolLog/SmtpSend/SEND*.LOG"))
		var got []string
		for _, l := range lines {
			if role == "FrontEnd" && l.Connector == "Intra-Organization SMTP Send Connector" {
				continue // the frontend's own sessions to the hub (TestProtocolLog)
			}
			if l.Connector != connector {
				t.Errorf("%s: line of connector %q", role, l.Connector)
			}
			got = append(got, string(l.Event)+" "+l.Data+l.Context)
		}
		all := strings.Join(got, "\n")
		for _, want := range []string{"+ ", "< 220 relay.fabrikam.test ESMTP", "> EHLO ex01.contoso.test", "> STARTTLS", "* TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_", "* Received certificate",
			"> AUTH LOGIN\n< 334 <authentication response>\n< 235 2.7.0 Authentication successful",
			"> MAIL FROM:<user1@contoso.test>", "> DATA", "< 354 go", "< 250 2.6.0 queued as 42", "> QUIT", "- Local"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s SmtpSend log lacks %q:\n%s", role, want, all)
			}
		}
		if strings.Contains(all, "Subject: tls") || strings.Contains(all, base64.StdEncoding.EncodeToString([]byte("secret"))) {
			t.Errorf("%s SmtpSend log holds the body or the password:\n%s", role, all)
		}
	}
}

// startDNS answers A and MX queries on loopback from a fixed table (name → MX host or A
// address); any other name is NXDOMAIN.
func startDNS(t *testing.T, mx, a map[string]string) string { return startDNSWith(t, mx, a, nil) }

// startDNSWith is startDNS with TXT records too (DKIM keys).
func startDNSWith(t *testing.T, mx, a, txt map[string]string) string {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(q.Name.String(), ".")
			rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}
			if mx[name] == "" && a[name] == "" && txt[name] == "" {
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
			if q.Type == dnsmessage.TypeMX && mx[name] != "" {
				_ = b.MXResource(rr, dnsmessage.MXResource{Pref: 10, MX: dnsmessage.MustNewName(mx[name] + ".")})
			}
			if q.Type == dnsmessage.TypeTXT && txt[name] != "" {
				_ = b.TXTResource(rr, dnsmessage.TXTResource{TXT: []string{txt[name]}})
			}
			if q.Type == dnsmessage.TypeA && a[name] != "" {
				_ = b.AResource(rr, dnsmessage.AResource{A: netip.MustParseAddr(a[name]).As4()})
			}
			if out, err := b.Finish(); err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// dnsLab is the lab config with ExternalDNSServers pointing at dns and the send connectors
// given (YAML list items).
func dnsLab(dns, sendConnectors string) string {
	return labConfig(func(s string) string {
		s = strings.Replace(s, "    BindingConflictMode: Exclusive", fmt.Sprintf("    BindingConflictMode: Exclusive\n    ExternalDNSServers: [%q]", dns), 1)
		return strings.Replace(s, "\nSendConnectors: []", "\nSendConnectors:"+sendConnectors, 1)
	})
}

// TestSendConnectorDNSRouting: a DNSRoutingEnabled connector for the whole Internet delivers
// to the recipient domain's MX host (found through ExternalDNSServers on loopback), and a
// domain that does not exist gets an NDR with Exchange's 5.4.4 text.
func TestSendConnectorDNSRouting(t *testing.T) {
	sh := startSmartHost(t)
	_, port, _ := net.SplitHostPort(sh.addr)
	dns := startDNS(t, map[string]string{"fabrikam.test": "mx1.fabrikam.test"}, map[string]string{"mx1.fabrikam.test": "127.0.0.1"})
	cfg := dnsLab(dns, fmt.Sprintf(`
  - Name: Internet
    AddressSpaces: ["SMTP:*;1"]
    DNSRoutingEnabled: true
    Port: %s`, port))
	s := startServer(t, cfg, "")
	c := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	if err := c.SendMail("user1@contoso.test", []string{"joe@fabrikam.test", "x@nowhere.test"}, strings.NewReader("Subject: mx\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(sh.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := sh.messages(); len(got) != 1 || !strings.HasPrefix(got[0], "RCPT TO:<joe@fabrikam.test>\n") {
		t.Fatalf("the MX host got %q\n%s", got, s.stderr())
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	if !strings.Contains(out, "Final-Recipient: rfc822;x@nowhere.test") || !strings.Contains(out, "550 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain") ||
		strings.Contains(out, "Final-Recipient: rfc822;joe@fabrikam.test") {
		t.Errorf("NDR:\n%s", out)
	}
}

// TestConfiguredCertificate: a certificate from the configuration, enabled for SMTP, is the
// one 587 offers with STARTTLS instead of the self-signed one.
func TestConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, err := smtpreceive.WriteSelfSigned(filepath.Join(dir, "mail.pem"), "ex01.contoso.test", time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "org.yaml")
	if err := os.WriteFile(cfgPath, []byte(labConfig(nil)+"\nCertificates:\n  - FriendlyName: Lab mail\n    CertificateFile: mail.pem\n    Services: [IIS, SMTP]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServerFile(t, cfgPath, t.TempDir())
	c, err := smtp.DialStartTLS(s.address("Client Frontend EX01"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil { // the handshake happens here
		t.Fatal(err)
	}
	cs, ok := c.TLSConnectionState()
	if !ok || len(cs.PeerCertificates) == 0 {
		t.Fatal("no TLS")
	}
	if !bytes.Equal(cs.PeerCertificates[0].Raw, cert.Certificate[0]) {
		t.Errorf("587 offered the certificate valid until %v, not the configured one", cs.PeerCertificates[0].NotAfter)
	}
}

// TestDomainSecurePartner: a server presenting a trusted certificate for a domain of
// TLSReceiveDomainSecureList, on a connector with DomainSecureEnabled and the Partners group,
// is a partner (AuthAs: Partner, AuthDomain); a certificate for another domain stays anonymous.
func TestDomainSecurePartner(t *testing.T) {
	dir := t.TempDir()
	partner, err := smtpreceive.WriteSelfSigned(filepath.Join(dir, "partner.pem"), "mail.fabrikam.test", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, err := smtpreceive.WriteSelfSigned(filepath.Join(dir, "other.pem"), "mail.tailspin.test", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := os.ReadFile(filepath.Join(dir, "partner.pem"))
	trust2, _ := os.ReadFile(filepath.Join(dir, "other.pem"))
	if err := os.WriteFile(filepath.Join(dir, "trust.pem"), append(trust, trust2...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", filepath.Join(dir, "trust.pem"))
	cfg := labConfig(func(s string) string {
		s = strings.Replace(s, "    PermissionGroups: [AnonymousUsers, ExchangeServers, ExchangeLegacyServers]\n",
			"    PermissionGroups: [AnonymousUsers, ExchangeServers, ExchangeLegacyServers, Partners]\n", 1)
		return s + "\nTransportConfig:\n  TLSReceiveDomainSecureList: [mail.fabrikam.test]\n"
	})
	s := startServer(t, cfg, "")
	for _, tc := range []struct {
		cert *tls.Certificate
		from string
	}{{&partner, "joe@fabrikam.test"}, {&other, "ann@tailspin.test"}} {
		c, err := smtp.DialStartTLS(s.address("Default Frontend EX01"), &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{*tc.cert}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SendMail(tc.from, []string{"user1@contoso.test"}, strings.NewReader("Subject: from "+tc.from+"\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	waitMailbox(t, s.data, "user1@contoso.test", 2)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	msgs := strings.Split(out, "Subject: from ")
	for _, m := range msgs[1:] {
		partnerMsg := strings.HasPrefix(m, "joe@fabrikam.test")
		if partnerMsg != strings.Contains(m, "X-MS-Exchange-Organization-AuthAs: Partner\r\n") ||
			partnerMsg != strings.Contains(m, "X-MS-Exchange-Organization-AuthDomain: mail.fabrikam.test\r\n") {
			t.Errorf("partner=%v but:\n%s", partnerMsg, m)
		}
	}
	if len(msgs) != 3 {
		t.Fatalf("mailbox:\n%s", out)
	}
}

// TestSendConnectorMaxMessageSize: a message larger than its send connector's MaxMessageSize
// is never sent; the sender gets an NDR with Exchange's ROUTING.SizeLimit text.
func TestSendConnectorMaxMessageSize(t *testing.T) {
	sh := startSmartHost(t)
	cfg := labConfig(func(s string) string {
		return strings.Replace(s, "\nSendConnectors: []", fmt.Sprintf(`
SendConnectors:
  - Name: Small
    AddressSpaces: ["SMTP:*;1"]
    SmartHosts: ["[127.0.0.1]:%s"]
    MaxMessageSize: 64 KB`, strings.TrimPrefix(sh.addr, "127.0.0.1:")), 1)
	})
	s := startServer(t, cfg, "")
	c := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 700)
	if err := c.SendMail("user1@contoso.test", []string{"joe@fabrikam.test"}, strings.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("user1@contoso.test", []string{"ann@fabrikam.test"}, strings.NewReader("Subject: small\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	if !strings.Contains(out, "Final-Recipient: rfc822;joe@fabrikam.test") ||
		!strings.Contains(out, "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route") {
		t.Errorf("NDR:\n%s", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(sh.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := sh.messages(); len(got) != 1 || !strings.Contains(got[0], "ann@fabrikam.test") {
		t.Errorf("the smart host got %d messages", len(got))
	}
}
