package frontend

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/config"
)

// startFrontend runs the default config's Default Frontend on 127.0.0.1:0 proxying to hubAddr.
func startFrontend(t *testing.T, hubAddr string, timeout time.Duration) string {
	t.Helper()
	org := config.Default()
	srv := &org.Servers[0]
	srv.ProxyConnectTimeout = config.TimeSpan(timeout)
	srv.ProxyCommandTimeout = config.TimeSpan(timeout)
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		rc.Enabled = rc.Name == "Default Frontend EX01"
		rc.Bindings = []config.Binding{{Addr: netip.MustParseAddr("127.0.0.1")}}
	}
	f := New(Options{Org: org, Server: srv, AuthKey: []byte("key"), HubAddr: func() string { return hubAddr }})
	ls, errs := f.Listen(0)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	f.Start()
	t.Cleanup(func() { _ = f.Shutdown(t.Context()) })
	return ls[0].Addr.String()
}

func send(t *testing.T, addr string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail("a@example.org", []string{"user1@contoso.test"}, strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
}

func wantReply(t *testing.T, err error, code int, text string) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.Message != text {
		t.Fatalf("got %v, want %d %s", err, code, text)
	}
}

// TestHubDown: nothing listens where the hub should be: PRX3 after the data (spec §6.1).
func TestHubDown(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	fe := startFrontend(t, dead, 5*time.Second)
	wantReply(t, send(t, fe), 451, "Temporary server error. Please try again later. PRX3")
}

// TestHubSlow: the hub accepts and never speaks; the client gets a PRX reply within the proxy
// timeout, never a hang and never a 250.
func TestHubSlow(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	fe := startFrontend(t, l.Addr().String(), 500*time.Millisecond)
	start := time.Now()
	wantReply(t, send(t, fe), 451, "Temporary server error. Please try again later. PRX7")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v", d)
	}
}

// fakeHub speaks just enough SMTP to be proxied to and answers end of data with reply.
func fakeHub(t *testing.T, mailReply, dataReply string) (string, chan string) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 1000)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				fmt.Fprintf(c, "220 hub ready\r\n")
				inData := false
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					if inData {
						if line == "." {
							inData = false
							fmt.Fprintf(c, "%s\r\n", dataReply)
						} else {
							got <- line
						}
						continue
					}
					got <- line
					switch {
					case strings.HasPrefix(line, "EHLO"):
						fmt.Fprintf(c, "250-hub\r\n250 8BITMIME\r\n")
					case line == "X-EXPS GSSAPI":
						fmt.Fprintf(c, "334 Y2hhbGxlbmdl\r\n")
					case strings.HasPrefix(line, "XPROXYFROM"):
						fmt.Fprintf(c, "250 XProxyFrom accepted\r\n")
					case strings.HasPrefix(line, "MAIL"):
						fmt.Fprintf(c, "%s\r\n", mailReply)
					case strings.HasPrefix(line, "RCPT"):
						fmt.Fprintf(c, "250 2.1.5 Recipient OK\r\n")
					case line == "DATA":
						inData = true
						fmt.Fprintf(c, "354 go\r\n")
					case line == "RSET":
						fmt.Fprintf(c, "250 2.0.0 Resetting\r\n")
					case line == "QUIT":
						fmt.Fprintf(c, "221 bye\r\n")
						return
					default: // the X-EXPS response
						fmt.Fprintf(c, "235 2.7.0 Authentication successful\r\n")
					}
				}
			}()
		}
	}()
	return l.Addr().String(), got
}

// TestHubRepliesPassThrough: the hub's own final reply reaches the client unchanged, and so
// does a refusal at MAIL (back pressure, R34).
func TestHubRepliesPassThrough(t *testing.T) {
	hub, lines := fakeHub(t, "250 2.1.0 Sender OK", "250 2.6.0 <x@y> [InternalId=123456789012345, Hostname=hub.contoso.test] 10 bytes in 0.001, 9.766 KB/sec Queued mail for delivery")
	fe := startFrontend(t, hub, 5*time.Second)
	c, err := smtp.Dial(fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("user1@contoso.test", nil); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	fmt.Fprintf(w, "Subject: x\r\n\r\nbody\r\n")
	resp, err := w.CloseWithResponse()
	if err != nil || resp.StatusText != "2.6.0 <x@y> [InternalId=123456789012345, Hostname=hub.contoso.test] 10 bytes in 0.001, 9.766 KB/sec Queued mail for delivery" {
		t.Fatalf("final reply %+v %v", resp, err)
	}
	var seen []string
	for len(lines) > 0 {
		seen = append(seen, <-lines)
	}
	all := strings.Join(seen, "\n")
	for _, want := range []string{"EHLO ex01.contoso.test", "X-EXPS GSSAPI", "XPROXYFROM SID=", " IP=127.0.0.1 ", "DOMAIN=localhost",
		"AUTHSRC=Anonymous", "MAIL FROM:<a@example.org>", "RCPT TO:<user1@contoso.test>",
		"Received: from localhost (127.0.0.1) by ex01.contoso.test (127.0.0.1) with", "Subject: x"} {
		if !strings.Contains(all, want) {
			t.Errorf("the hub did not see %q:\n%s", want, all)
		}
	}

	hub2, _ := fakeHub(t, "452 4.3.1 Insufficient system resources", "250 unused")
	fe2 := startFrontend(t, hub2, 5*time.Second)
	wantReply(t, send(t, fe2), 452, "Insufficient system resources")
}
