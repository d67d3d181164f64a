package main

import (
	"bufio"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tlsTestTool returns the path of a real client, skipping the test when it is not installed,
// unless CI is set (CI installs them, .ci/run), where a missing tool fails the test.
func tlsTestTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// sClient is one openssl s_client session driven line by line: what it prints is read as it
// comes, commands are written when the reply before them has arrived.
type sClient struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	seen  []string
	exit  chan error
}

func startSClient(t *testing.T, addr string, args ...string) *sClient {
	t.Helper()
	bin := tlsTestTool(t, "openssl")
	all := append([]string{"s_client", "-starttls", "smtp", "-connect", addr, "-name", "client.example", "-crlf", "-ign_eof"}, args...)
	c := &sClient{t: t, cmd: exec.Command(bin, all...), lines: make(chan string, 256), exit: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), "OPENSSL_CONF=/dev/null") // the distribution's SECLEVEL does not decide for Exchange's suites
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = c.cmd.Stdout
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- strings.TrimRight(sc.Text(), "\r")
		}
		close(c.lines)
		c.exit <- c.cmd.Wait()
	}()
	t.Cleanup(func() {
		c.in.Close()
		// Kill, not a look at ProcessState first: the reading goroutine's Wait writes it (a
		// race); killing a process that has ended is a harmless error.
		_ = c.cmd.Process.Kill()
	})
	return c
}

// expect reads up to the first line matching re and returns its submatches; nil when the
// client ended first.
func (c *sClient) expect(re string) []string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return nil
			}
			c.seen = append(c.seen, l)
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			c.t.Fatalf("no line matching %q from openssl s_client:\n%s", re, strings.Join(c.seen, "\n"))
		}
	}
}

// negotiated reads the SSL-Session block openssl prints after the handshake: the protocol and
// the cipher ("New, …, Cipher is" names the cipher's own version, not the negotiated one);
// "" when the client ended first.
func (c *sClient) negotiated() (protocol, cipher string) {
	c.t.Helper()
	m := c.expect(`^\s+Protocol\s*: (\S+)`)
	if m == nil {
		return "", ""
	}
	if m2 := c.expect(`^\s+Cipher\s*: (\S+)`); m2 != nil {
		return m[1], m2[1]
	}
	return m[1], ""
}

func (c *sClient) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

// TestOpenSSLRSAOnlyClient: an RSA-only client (openssl s_client -tls1_2 -cipher AES256-SHA, as
// printers and scanners offer) completes STARTTLS on Default Frontend and sends a message
// through it (issue 13 point 2), and the session's protocol log has Exchange's TLS lines
// (spec §13.17, the artefacts.help capture): the certificate line, the Schannel negotiation
// line for RSA key exchange, and after the next EHLO the two client-certificate lines.
func TestOpenSSLRSAOnlyClient(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	c := startSClient(t, fe, "-tls1_2", "-cipher", "AES256-SHA")
	if p, ci := c.negotiated(); p != "TLSv1.2" || ci != "AES256-SHA" {
		t.Fatalf("handshake: %s %s\n%s", p, ci, strings.Join(c.seen, "\n"))
	}
	c.send("EHLO client.example")
	c.expect(`^250 `)
	c.send("MAIL FROM:<printer@example.org>")
	c.expect(`^250 2\.1\.0 `)
	c.send("RCPT TO:<user1@contoso.test>")
	c.expect(`^250 2\.1\.5 `)
	c.send("DATA")
	c.expect(`^354 `)
	c.send("Subject: scan from the printer\n\nscanned page\n.")
	if m := c.expect(`^250 2\.6\.0 `); m == nil {
		t.Fatalf("no 250 2.6.0:\n%s", strings.Join(c.seen, "\n"))
	}
	c.send("QUIT")
	c.expect(`^221 `)
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	waitSessionEnded(t, s.data)
	s.stop()

	cert, err := tls.LoadX509KeyPair(filepath.Join(s.data, certDir, "Exchange Certificate.pem"), filepath.Join(s.data, certDir, "Exchange Certificate.pem"))
	if err != nil {
		t.Fatal(err)
	}
	l := cert.Leaf
	certLine := fmt.Sprintf(" CN=EX01 CN=EX01 %X %X %s %s EX01;ex01.contoso.test", l.SerialNumber.Bytes(), sha1.Sum(l.Raw),
		l.NotBefore.UTC().Format("2006-01-02T15:04:05.000Z"), l.NotAfter.UTC().Format("2006-01-02T15:04:05.000Z"))
	if !regexp.MustCompile(`^ CN=EX01 CN=EX01 [0-9A-F]{32} [0-9A-F]{40} \S+\.000Z \S+\.000Z EX01;ex01\.contoso\.test$`).MatchString(certLine) {
		t.Errorf("certificate line %q is not in the capture's shape", certLine)
	}
	lines := protocolLogLines(t, frontendReceiveLog(s.data))
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprintf("%c,%s,%s", l.Event, l.Data, l.Context))
	}
	want := []string{
		"<,STARTTLS,",
		">,220 2.0.0 SMTP server ready,",
		"*," + certLine + ",Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after Subject alternate names",
		"*,,TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, " +
			"MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits",
		"<,EHLO client.example,",
		"*,,Client certificate chain validation status: 'EmptyCertificate'",
		"*,,TlsDomainCapabilities='None'; Status='NoRemoteCertificate'",
		">,250  ex01.contoso.test Hello [127.0.0.1] SIZE",
	}
	all := strings.Join(got, "\n")
	start := strings.Index(all, want[0])
	if start < 0 {
		t.Fatalf("no STARTTLS in the log:\n%s", all)
	}
	after := strings.Split(all[start:], "\n")
	for i, w := range want {
		if i >= len(after) || !strings.HasPrefix(after[i], w) {
			t.Errorf("log line %d after STARTTLS:\n got  %q\n want %q", i, after[min(i, len(after)-1)], w)
		}
	}
	if strings.Count(all, "Client certificate chain validation status") != 1 {
		t.Errorf("the client-certificate lines are written once, at the first EHLO inside TLS:\n%s", all)
	}
}

// TestOpenSSLNegotiation: what openssl s_client gets from exlab's STARTTLS, as from Schannel on
// Windows Server 2019 (spec §13.15): the default client ECDHE-RSA-AES256-GCM-SHA384 over TLS 1.2
// (the SANS SEC560 capture of Exchange 2019: cipher 0xC030), TLS 1.3 refused, TLS 1.0 and 1.1
// accepted as Windows enables them by default, RSA key exchange with GCM, and the certificate
// New-ExchangeCertificate makes (spec §13.16).
func TestOpenSSLNegotiation(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	for _, tc := range []struct {
		name     string
		args     []string
		protocol string // "": the handshake fails
		cipher   string
	}{
		{"default client", nil, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"},
		{"TLS 1.3 only", []string{"-tls1_3"}, "", ""},
		{"TLS 1.2, client prefers AES128", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"}, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"},
		{"RSA key exchange, GCM", []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384"}, "TLSv1.2", "AES256-GCM-SHA384"},
		{"RSA-only, AES128-SHA", []string{"-tls1_2", "-cipher", "AES128-SHA"}, "TLSv1.2", "AES128-SHA"},
		{"TLS 1.1", []string{"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, "TLSv1.1", "ECDHE-RSA-AES256-SHA"},
		{"TLS 1.0", []string{"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"}, "TLSv1", "ECDHE-RSA-AES256-SHA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startSClient(t, fe, tc.args...)
			p, ci := c.negotiated()
			if tc.protocol == "" {
				if ci != "" && ci != "0000" {
					t.Errorf("handshake succeeded: %s %s", p, ci)
				}
				for range c.lines {
				}
				if err := <-c.exit; err == nil {
					t.Errorf("openssl s_client exited 0; the handshake must fail:\n%s", strings.Join(c.seen, "\n"))
				}
				return
			}
			if p != tc.protocol || ci != tc.cipher {
				t.Fatalf("got %s %s, want %s %s\n%s", p, ci, tc.protocol, tc.cipher, strings.Join(c.seen, "\n"))
			}
			c.send("QUIT")
			c.expect(`^221 `)
		})
	}

	// The refused TLS 1.3 client is in the protocol log as Schannel's SEC_E_ALGORITHM_MISMATCH.
	waitSessionEnded(t, s.data)
	s.stop()
	lines := protocolLogLines(t, frontendReceiveLog(s.data))
	failed := 0
	for _, l := range lines {
		if l.Event == '*' && l.Context == "TLS negotiation failed with error AlgorithmMismatch" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d 'TLS negotiation failed with error AlgorithmMismatch' lines, want 1 (the TLS 1.3 client)", failed)
	}

	// The certificate, as openssl x509 prints it.
	bin := tlsTestTool(t, "openssl")
	out, err := exec.Command(bin, "x509", "-noout", "-text", "-in", filepath.Join(s.data, certDir, "Exchange Certificate.pem")).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"Signature Algorithm: sha256WithRSAEncryption", "Issuer: CN = EX01", "Subject: CN = EX01",
		"Public-Key: (2048 bit)", "DNS:EX01, DNS:ex01.contoso.test", "TLS Web Server Authentication"} {
		if !strings.Contains(text, want) {
			t.Errorf("certificate lacks %q:\n%s", want, text)
		}
	}
	nb := regexp.MustCompile(`Not Before: (.+)\n\s+Not After : (.+)\n`).FindStringSubmatch(text)
	if nb == nil {
		t.Fatalf("no validity:\n%s", text)
	}
	from, err1 := time.Parse("Jan _2 15:04:05 2006 MST", strings.TrimSpace(nb[1]))
	to, err2 := time.Parse("Jan _2 15:04:05 2006 MST", strings.TrimSpace(nb[2]))
	if err1 != nil || err2 != nil || !to.Equal(from.AddDate(5, 0, 0)) || time.Since(from) > time.Hour || time.Since(from) < 0 {
		t.Errorf("valid %q to %q: want from now, five years to the second (no backdating)", nb[1], nb[2])
	}
}

// TestNmapSSLScripts: nmap's ssl-enum-ciphers and ssl-cert against Default Frontend. nmap speaks
// STARTTLS only on a port it knows as smtp, so -sV names the service from the banner first.
// The scan lists TLS 1.0-1.2 and no TLS 1.3, ECDHE-RSA-AES256-GCM first in the server's order,
// the RSA key-exchange suites, and the certificate's subject and names (nmap 7.93 names the
// curve it offered itself, secp256r1).
func TestNmapSSLScripts(t *testing.T) {
	bin := tlsTestTool(t, "nmap")
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	host, port, _ := strings.Cut(fe, ":")
	cmd := exec.Command(bin, "-Pn", "-n", "-sV", "--version-intensity", "0", "-p", port,
		"--script", "ssl-enum-ciphers,ssl-cert", "--script-timeout", "120s", host)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nmap: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"ssl-cert: Subject: commonName=EX01", "Subject Alternative Name: DNS:EX01, DNS:ex01.contoso.test",
		"Public Key type: rsa", "Public Key bits: 2048", "Signature Algorithm: sha256WithRSAEncryption",
		"TLSv1.0:", "TLSv1.1:", "TLSv1.2:",
		"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (secp256r1)", "TLS_RSA_WITH_AES_256_CBC_SHA (rsa 2048)",
		"TLS_RSA_WITH_3DES_EDE_CBC_SHA (rsa 2048)", "cipher preference: server",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("nmap output lacks %q", want)
		}
	}
	if strings.Contains(text, "TLSv1.3:") {
		t.Error("nmap found TLS 1.3; Windows Server 2019 has none")
	}
	// In the TLSv1.2 section, Schannel's order: ECDHE-RSA-AES256-GCM before AES128-GCM, ECDHE
	// before RSA key exchange.
	if i := strings.Index(text, "TLSv1.2:"); i >= 0 {
		sec := text[i:]
		order := []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
			"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_GCM_SHA256",
			"TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}
		last := -1
		for _, name := range order {
			j := strings.Index(sec, name+" (") // not a prefix of a longer name
			if j < last {
				t.Errorf("%s is out of Schannel's order in the TLSv1.2 list", name)
			}
			last = max(last, j)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestRSAOnlyClientsSendMail: real clients restricted to RSA key exchange (what old printers and
// scanners offer, the classic relay senders) complete STARTTLS on Default Frontend and deliver
// (issue 13 point 2): swaks with --tls-cipher and curl with --ciphers.
func TestRSAOnlyClientsSendMail(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	host, port, _ := strings.Cut(fe, ":")
	body := filepath.Join(t.TempDir(), "scan.eml")
	if err := os.WriteFile(body, []byte("From: printer@example.org\r\nTo: user1@contoso.test\r\nSubject: scanned\r\n\r\npage 1\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, tc := range []struct {
		tool string
		args []string
		want []string // in the tool's output
	}{
		{"swaks", []string{"--server", host, "--port", port, "--from", "printer@example.org", "--to", "user1@contoso.test",
			"--tls", "--tls-protocol", "tlsv1_2", "--tls-cipher", "AES128-SHA", "--helo", "printer.example.org", "--header", "Subject: swaks scan"},
			[]string{"TLS started with cipher TLSv1.2:AES128-SHA:128", "<~  250 2.6.0 "}},
		{"curl", []string{"--silent", "--show-error", "--verbose", "--ssl-reqd", "--insecure", "--tlsv1.2", "--tls-max", "1.2", "--ciphers", "AES256-SHA",
			"--mail-from", "printer@example.org", "--mail-rcpt", "user1@contoso.test", "--upload-file", body, "smtp://" + fe},
			[]string{"SSL connection using TLSv1.2 / AES256-SHA", "< 250 2.6.0 "}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			bin := tlsTestTool(t, tc.tool)
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "OPENSSL_CONF=/dev/null")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.tool, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("%s output lacks %q:\n%s", tc.tool, w, out)
				}
			}
			delivered++
			waitMailbox(t, s.data, "user1@contoso.test", delivered)
		})
	}
}

// TestCertificateNew: exlab certificate new makes the certificate New-ExchangeCertificate makes
// (spec §13.16): from now to five years later to the second, RSA 2048, the thumbprint printed as
// the protocol log shows it; --not-before/--not-after give the dates of a lab's choice (the
// capture's 2020-01-17 → 2025-01-17 here).
func TestCertificateNew(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, certDir, "Exchange Certificate.pem")
	out, errOut, code := exlab(t, "certificate", "new", "--data", data)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	cert, err := tls.LoadX509KeyPair(path, path)
	if err != nil {
		t.Fatal(err)
	}
	l := cert.Leaf
	if key, ok := l.PublicKey.(*rsa.PublicKey); !ok || key.N.BitLen() != 2048 || l.Subject.String() != "CN=EX01" ||
		!l.NotAfter.Equal(l.NotBefore.AddDate(5, 0, 0)) || time.Since(l.NotBefore) > time.Minute || time.Since(l.NotBefore) < 0 {
		t.Errorf("certificate: %T %s valid %s to %s", l.PublicKey, l.Subject, l.NotBefore, l.NotAfter)
	}
	if want := fmt.Sprintf("subject CN=EX01, valid %s to %s, thumbprint %X", l.NotBefore.Format(time.DateOnly), l.NotAfter.Format(time.DateOnly), sha1.Sum(l.Raw)); !strings.Contains(out, want) {
		t.Errorf("output %q lacks %q", out, want)
	}

	if out, errOut, code = exlab(t, "certificate", "new", "--data", data, "--not-before", "2020-01-17", "--not-after", "2025-01-17"); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if cert, err = tls.LoadX509KeyPair(path, path); err != nil {
		t.Fatal(err)
	}
	if got := cert.Leaf.NotBefore.Format(time.RFC3339) + " " + cert.Leaf.NotAfter.Format(time.RFC3339); got != "2020-01-17T00:00:00Z 2025-01-17T00:00:00Z" {
		t.Errorf("validity %s", got)
	}
}
