package main

import (
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestShellSeedScenario is seed 001 through the shell, as the admin typed it: a custom
// connector on the frontend's port created without -TransportRole lands on the hub
// (Exchange's default there). With BindingConflictMode Exclusive the cmdlet is refused with
// ReceiveConnectorRoleConflictException and nothing changes; with Shared it is created, both
// services listen on the port (Test-SmtpConnectivity sees the hub's banner for the relay's
// binding) until Set-ReceiveConnector -TransportRole FrontendTransport repairs it. A fixed
// port: this test is about binding.
func TestShellSeedScenario(t *testing.T) {
	for _, mode := range []string{"Exclusive", "Shared"} {
		t.Run(mode, func(t *testing.T) {
			port := freePort(t)
			bind := fmt.Sprintf("127.0.0.1:%d", port)
			cfg := labConfig(func(y string) string {
				i := strings.Index(y, "  - Name: Default Frontend EX01")
				j := i + strings.Index(y[i:], `Bindings: ["127.0.0.1:0"]`)
				y = y[:j] + `Bindings: ["` + bind + `"]` + y[j+len(`Bindings: ["127.0.0.1:0"]`):]
				return strings.Replace(y, "BindingConflictMode: Exclusive", "BindingConflictMode: "+mode, 1)
			})
			path := filepath.Join(t.TempDir(), "org.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			s := startServerFile(t, path, "")
			newRC := fmt.Sprintf(`New-ReceiveConnector -Name "Relay EX01" -Usage Custom -Bindings %s -RemoteIPRanges 127.0.0.2 -Server EX01`, bind)
			out, errOut, code := exlab(t, "shell", "--data", s.data, "-c", newRC)
			if mode == "Exclusive" {
				if code != 1 || !strings.Contains(errOut, "ReceiveConnectorRoleConflictException") ||
					!strings.Contains(errOut, `conflict with the settings on Receive connector "EX01\Default Frontend EX01"`) {
					t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
				}
				if b, _ := os.ReadFile(path); string(b) != cfg {
					t.Error("a refused New-ReceiveConnector changed the organization file")
				}
				if _, err := os.Stat(path + ".bak"); !os.IsNotExist(err) {
					t.Errorf("a refused change left a backup: %v", err)
				}
				return
			}
			if code != 0 || !strings.Contains(out, `EX01\Relay EX01`) {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			if b, _ := os.ReadFile(path + ".bak"); string(b) != cfg {
				t.Error("no backup of the file before the change")
			}
			check := `Get-ReceiveConnector "Relay EX01" | fl TransportRole; Test-SmtpConnectivity | ? { $_.ReceiveConnector -eq "Relay EX01" } | fl StatusCode,Details`
			// The hub connector now listens on the frontend's port beside it: its banner for
			// the relay's binding (the kernel spreads sessions; some probes reach the frontend,
			// and a hub listener drops a 127.0.0.1 client its connector does not cover).
			waitUntil(t, 20*time.Second, "the hub's listener on the frontend's port", func() bool {
				out, _, _ := exlab(t, "shell", "--data", s.data, "-c", check)
				return strings.Contains(out, "TransportRole : HubTransport")
			})
			if !listenersOn(t, port, 2) {
				t.Errorf("Shared: %s has not two listeners", bind)
			}
			out, errOut, code = exlab(t, "shell", "--data", s.data, "-c", `Set-ReceiveConnector "Relay EX01" -TransportRole FrontendTransport`)
			if code != 0 {
				t.Fatalf("the repair: exit %d\n%s\n%s", code, out, errOut)
			}
			waitUntil(t, 20*time.Second, "the repaired connector on the frontend", func() bool {
				out, _, _ := exlab(t, "shell", "--data", s.data, "-c", check)
				return strings.Contains(out, "TransportRole : FrontendTransport") && strings.Contains(out, "StatusCode : Success") && listenersOn(t, port, 1)
			})
			if b, _ := os.ReadFile(path); !strings.Contains(string(b), "    TransportRole: FrontendTransport\n") || !strings.Contains(string(b), "# ") {
				t.Errorf("the file after the repair:\n%s", b)
			}
		})
	}
}

// listenersOn says whether n distinct sockets listen on 127.0.0.1:port (Linux: /proc/net/tcp).
func listenersOn(t *testing.T, port, n int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	count := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 3 && f[1] == want && f[3] == "0A" { // 0A: LISTEN
			count++
		}
	}
	return count == n
}

// TestShellStoppedServer: with no server running, exlab shell changes the organization in the
// data directory (organization.yaml, from the embedded default), which exlab serve without
// --config then runs on; queue actions say they need the running server.
func TestShellStoppedServer(t *testing.T) {
	// On the embedded default: the change creates organization.yaml, comments and all.
	fresh := t.TempDir()
	out, errOut, code := exlab(t, "shell", "--data", fresh, "-c", `Set-ReceiveConnector "Default EX01" -MaxMessageSize 50MB; (Get-ReceiveConnector "Default EX01").MaxMessageSize`)
	if code != 0 || out != "50 MB (52,428,800 bytes)\n" || !strings.Contains(errOut, "WARNING: no server runs on") {
		t.Fatalf("exit %d\n%q\n%s", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(fresh, "organization.yaml")); err != nil || !strings.Contains(string(b), "# The shape of an exlab configuration file") ||
		!strings.Contains(string(b), "    MaxMessageSize: 50 MB (52,428,800 bytes)") {
		t.Fatalf("organization.yaml: %v\n%s", err, b)
	}
	if _, errOut, code := exlab(t, "shell", "--data", fresh, "-c", `Retry-Queue EX01\Submission`); code != 1 || !strings.Contains(errOut, "needs the running Transport service") {
		t.Errorf("Retry-Queue without a server: %d\n%s", code, errOut)
	}
	// A data directory whose organization.yaml is the lab's (loopback, ephemeral ports): the
	// shell changes it while the server is down, and exlab serve without --config runs on it.
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "organization.yaml"), []byte(labConfig(nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := exlab(t, "shell", "--data", data, "-c", `Set-ReceiveConnector "Default EX01" -MaxMessageSize 40MB`); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	startService(t, "serve", "", data)
	out, errOut, code = exlab(t, "shell", "--data", data, "-c", `(Get-ReceiveConnector "Default EX01").MaxMessageSize`)
	if code != 0 || out != "40 MB (41,943,040 bytes)\n" || strings.Contains(errOut, "WARNING") {
		t.Errorf("after exlab serve: %d %q\n%s", code, out, errOut)
	}
	// The running server's certificate: Exchange setup's self-signed one, for the server's name.
	out, errOut, code = exlab(t, "shell", "--data", data, "-c", `Get-ExchangeCertificate | fl Subject,Services,IsSelfSigned,Status`)
	if code != 0 || !strings.Contains(out, "Subject      : CN=EX01\nServices     : IMAP, POP, IIS, SMTP\nIsSelfSigned : True\nStatus       : Valid") {
		t.Errorf("Get-ExchangeCertificate: %d\n%s\n%s", code, out, errOut)
	}
}

// TestShellCertificates: New-ExchangeCertificate makes a self-signed certificate with
// Exchange's defaults; one not enabled for SMTP leaves STARTTLS on the server's own, and
// Enable-ExchangeCertificate -Services SMTP has the next STARTTLS offer it, at once.
func TestShellCertificates(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	peer := func() string {
		c, err := smtp.DialStartTLS(s.address("Default Frontend EX01"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Noop(); err != nil { // go-smtp greets and upgrades at the first command
			t.Fatal(err)
		}
		st, ok := c.TLSConnectionState()
		if !ok || len(st.PeerCertificates) == 0 {
			t.Fatal("no TLS")
		}
		sum := sha1.Sum(st.PeerCertificates[0].Raw)
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	own := peer()
	out, errOut, code := exlab(t, "shell", "--data", s.data, "-c",
		`$c = New-ExchangeCertificate -FriendlyName "Lab IMAP" -Services IMAP; $c.Thumbprint; $c | fl Subject,CertificateDomains,Services,IsSelfSigned`)
	lines := strings.SplitN(out, "\n", 2)
	if code != 0 || len(lines[0]) != 40 || !strings.Contains(out, "Subject            : CN=EX01\nCertificateDomains : {EX01, ex01.contoso.test}\nServices           : IMAP\nIsSelfSigned       : True") {
		t.Fatalf("New-ExchangeCertificate: %d\n%s\n%s", code, out, errOut)
	}
	thumb := lines[0]
	if got := peer(); got != own {
		t.Errorf("a certificate not enabled for SMTP is offered: %s", got)
	}
	if out, errOut, code := exlab(t, "shell", "--data", s.data, "-c", "Enable-ExchangeCertificate "+thumb+" -Services SMTP; (Get-ExchangeCertificate "+thumb+").Services"); code != 0 || out != "IMAP, SMTP\n" {
		t.Fatalf("Enable-ExchangeCertificate: %d %q\n%s", code, out, errOut)
	}
	if got := peer(); got != thumb {
		t.Errorf("STARTTLS offers %s, not the certificate just enabled for SMTP (%s; the server's own %s)", got, thumb, own)
	}
	if _, errOut, code := exlab(t, "shell", "--data", s.data, "-c", "Enable-ExchangeCertificate 00000000000000000000000000000000000000AA -Services SMTP"); code != 1 || !strings.Contains(errOut, "ManagementObjectNotFoundException") {
		t.Errorf("unknown thumbprint: %d\n%s", code, errOut)
	}
}

// TestShellSuspendQueue: Suspend-Queue stops a Retry queue's attempts (Retry-Queue included)
// and Get-Queue shows it Suspended; Resume-Queue has its message delivered at once. The
// Submission queue cannot be suspended.
func TestShellSuspendQueue(t *testing.T) {
	dead := freePort(t)
	cfg := deadSmartHostConfig(dead)
	s := startServer(t, cfg, "")
	c := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	if err := c.SendMail("user1@contoso.test", []string{"ann@tailspin.test"}, strings.NewReader("Subject: held\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf(`EX01\[127.0.0.1]:%d`, dead)
	sh := func(script string) (string, string, int) { return exlab(t, "shell", "--data", s.data, "-c", script) }
	waitUntil(t, 15*time.Second, "the Tailspin queue in Retry", func() bool {
		out, _, _ := sh(`(Get-Queue "` + q + `").Status`)
		return out == "Retry\n"
	})
	if out, errOut, code := sh(`Suspend-Queue "` + q + `"; (Get-Queue "` + q + `").Status`); code != 0 || out != "Suspended\n" {
		t.Fatalf("Suspend-Queue: %d %q\n%s", code, out, errOut)
	}
	host := startSmartHostOn(t, fmt.Sprintf("127.0.0.1:%d", dead))
	if _, errOut, code := sh(`Retry-Queue "` + q + `"`); code != 0 {
		t.Fatalf("Retry-Queue: %s", errOut)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := host.messages(); len(got) != 0 {
		t.Fatalf("a suspended queue delivered: %q", got)
	}
	if out, errOut, code := sh(`Get-Queue -Filter "Status -eq 'Suspended'" | Resume-Queue`); code != 0 {
		t.Fatalf("Resume-Queue: %d %s %s", code, out, errOut)
	}
	waitUntil(t, 10*time.Second, "delivery after Resume-Queue", func() bool { return len(host.messages()) == 1 })
	if _, errOut, code := sh(`Suspend-Queue EX01\Submission`); code != 1 || !strings.Contains(errOut, "only delivery queues (Active or Retry) can be suspended") {
		t.Errorf("Suspend-Queue of Submission: %d\n%s", code, errOut)
	}
}
