package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realClient returns the path of an installed client, or skips the test; with CI set (where
// .ci/run installs swaks, curl and nmap) a missing client fails it instead.
func realClient(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it, .ci/run)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// runClient runs a real client with a bound on its time and returns its combined output.
func runClient(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, realClient(t, name), args...).CombinedOutput()
	return string(out), err
}

// ntResponseLength finds the AUTHENTICATE_MESSAGE in a client's trace and returns the length of
// its NT response (MS-NLMP §2.2.1.3): 24 for NTLMv1, more for NTLMv2.
func ntResponseLength(t *testing.T, trace string) int {
	t.Helper()
	for _, l := range strings.Split(trace, "\n") {
		i := strings.Index(l, "TlRMTVNTUAADAAAA")
		if i < 0 {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(l[i:]))
		if err != nil || len(b) < 24 {
			t.Fatalf("AUTHENTICATE_MESSAGE %q: %v", l, err)
		}
		return int(binary.LittleEndian.Uint16(b[20:]))
	}
	t.Fatalf("no AUTHENTICATE_MESSAGE in\n%s", trace)
	return 0
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// TestSwaksNTLM: swaks with Authen::NTLM (an NTLMv1 client, the one swaks documents as tested
// against Exchange 2007) submits through Client Frontend 587 before TLS, where Exchange offers
// AUTH GSSAPI NTLM (spec §5.2), and the message reaches the mailbox; on Default Frontend 25,
// which offers AUTH NTLM too, it authenticates (what the user may then send is the connector's
// PermissionGroups' business, as after AUTH LOGIN). A wrong password is refused with 535 5.7.3.
func TestSwaksNTLM(t *testing.T) {
	realClient(t, "swaks")
	if out, err := exec.Command("perl", "-MAuthen::NTLM", "-e", "1").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Authen::NTLM is missing: %s", out)
		}
		t.Skipf("Authen::NTLM is missing: %s", out)
	}
	s := startServer(t, labConfig(nil), "")
	for _, tt := range []struct{ connector, user, extra string }{
		{"Default Frontend EX01", "user1@contoso.test", ""},
		{"Client Frontend EX01", "user1", "domain=CONTOSO"},
	} {
		host, port := hostPort(t, s.address(tt.connector))
		args := []string{"--server", host, "--port", port, "--ehlo", "client.example", "--timeout", "20",
			"--auth", "NTLM", "--auth-user", tt.user, "--auth-password", "P@ssw0rd",
			"--from", "user1@contoso.test", "--to", "administrator@contoso.test",
			"--header", "Subject: swaks NTLM via " + tt.connector, "--body", "sent with swaks --auth NTLM"}
		if tt.extra != "" {
			args = append(args, "--auth-extra", tt.extra)
		}
		submit := tt.connector == "Client Frontend EX01"
		if !submit {
			args = append(args, "--quit-after", "AUTH")
		}
		out, err := runClient(t, "swaks", args...)
		if err != nil || !strings.Contains(out, "<-  235 2.7.0 Authentication successful") || submit && !strings.Contains(out, "<-  250 2.6.0 ") {
			t.Fatalf("swaks via %s: %v\n%s", tt.connector, err, out)
		}
		if !strings.Contains(out, " -> AUTH NTLM") || !strings.Contains(out, "<-  334 NTLM supported") {
			t.Errorf("swaks did not use AUTH NTLM:\n%s", out)
		}
		if n := ntResponseLength(t, out); n != 24 {
			t.Errorf("swaks sent an NT response of %d bytes, want NTLMv1's 24", n)
		}
	}
	waitMailbox(t, s.data, "administrator@contoso.test", 1)
	host, port := hostPort(t, s.address("Default Frontend EX01"))
	out, _ := runClient(t, "swaks", "--server", host, "--port", port, "--ehlo", "client.example", "--timeout", "20",
		"--auth", "NTLM", "--auth-user", "user1", "--auth-password", "wrong", "--auth-extra", "domain=CONTOSO",
		"--from", "user1@contoso.test", "--to", "administrator@contoso.test")
	if !strings.Contains(out, "535 5.7.3 Authentication unsuccessful") {
		t.Errorf("wrong password:\n%s", out)
	}
	if !strings.Contains(s.stderr(), "The authentication mechanism is Ntlm.") {
		t.Errorf("no Event 1035 for the NTLM failure:\n%s", s.stderr())
	}

	// Default Frontend's protocol log (Verbose by default) has both exchanges as Exchange writes
	// an AUTH (spec §13.18): the command alone, "334 <authentication response>" for each
	// challenge, none of the client's lines, and on failure two LogonDenied lines and the user
	// name under one sequence number.
	waitSessionEnded(t, s.data)
	s.stop()
	lines := protocolLogLines(t, frontendReceiveLog(s.data))
	var got []string
	seqs := map[string]map[int]bool{}
	for _, l := range lines {
		got = append(got, string(l.Event)+","+l.Data+","+l.Context)
		if seqs[l.Session] == nil {
			seqs[l.Session] = map[int]bool{}
		}
		if l.Event == '*' && (strings.HasPrefix(l.Context, "Inbound AUTH NTLM failed") || strings.HasPrefix(l.Context, "User Name:")) {
			seqs[l.Session][l.Seq] = true
		}
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		// A success: the session's rights and the account before the 235, as the Exchange 2013
		// RECV log of Veritas article 100038601 shows them.
		"<,AUTH NTLM,\n>,334 <authentication response>,\n>,334 <authentication response>,\n*,",
		",Set Session Permissions\n*,CONTOSO\\user1,authenticated\n>,235 2.7.0 Authentication successful,",
		"<,AUTH NTLM,\n>,334 <authentication response>,\n>,334 <authentication response>,\n" +
			"*,,Inbound AUTH NTLM failed because of LogonDenied\n*,,Inbound AUTH NTLM failed because of LogonDenied\n" +
			"*,,User Name: CONTOSO\\user1\n>,535 5.7.3 Authentication unsuccessful,",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no\n%s\nin the protocol log:\n%s", want, text)
		}
	}
	if strings.Contains(text, "TlRMTVNT") || strings.Contains(text, "<authentication response>,\n<") {
		t.Errorf("a client's SASL line is in the protocol log:\n%s", text)
	}
	for session, seq := range seqs {
		if len(seq) > 1 {
			t.Errorf("session %s: the failure lines have sequence numbers %v, want one", session, seq)
		}
	}
}

// TestCurlNTLM: curl 7.88 (NTLMv2, since the challenge carries target info) submits through
// Client Frontend 587 with --login-options AUTH=NTLM, and the message reaches the mailbox with
// the sender's identity.
func TestCurlNTLM(t *testing.T) {
	if out, _ := runClient(t, "curl", "-V"); !strings.Contains(out, " NTLM") {
		t.Skipf("this curl has no NTLM:\n%s", out)
	}
	s := startServer(t, labConfig(nil), "")
	msg := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(msg, []byte("From: user1@contoso.test\r\nTo: admin@contoso.test\r\nSubject: curl NTLM\r\n\r\nsent with curl\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{`user1@contoso.test:P@ssw0rd`, `CONTOSO\user1:P@ssw0rd`} {
		out, err := runClient(t, "curl", "-sS", "-v", "--max-time", "30", "smtp://"+s.address("Client Frontend EX01"),
			"--login-options", "AUTH=NTLM", "--user", user,
			"--mail-from", "user1@contoso.test", "--mail-rcpt", "administrator@contoso.test", "-T", msg)
		if err != nil || !strings.Contains(out, "< 235 2.7.0 Authentication successful") || !strings.Contains(out, "< 250 2.6.0 ") {
			t.Fatalf("curl as %s: %v\n%s", user, err, out)
		}
		if !strings.Contains(out, "> AUTH NTLM") {
			t.Errorf("curl did not use AUTH NTLM:\n%s", out)
		}
		if n := ntResponseLength(t, out); n <= 24 {
			t.Errorf("curl sent an NT response of %d bytes, want NTLMv2's (more than 24)", n)
		}
	}
	waitMailbox(t, s.data, "administrator@contoso.test", 2)
	shown, _, _ := exlab(t, "mailbox", "show", "administrator@contoso.test", "--data", s.data)
	// As after AUTH LOGIN: the session went to the hub's Client Proxy (465) carrying the user.
	if !strings.Contains(shown, "Subject: curl NTLM") || !strings.Contains(shown, "X-MS-Exchange-Organization-AuthAs: Internal") ||
		!strings.Contains(shown, "X-ClientProxiedBy: ex01.contoso.test (127.0.0.1) To ex01.contoso.test (127.0.0.1)") ||
		!strings.Contains(shown, "X-MS-Exchange-Organization-AuthMechanism: 06") {
		t.Errorf("delivered message:\n%s", shown)
	}
	// Send-as is checked against the NTLM user's mailbox, as after AUTH LOGIN.
	out, _ := runClient(t, "curl", "-sS", "-v", "--max-time", "30", "smtp://"+s.address("Client Frontend EX01"),
		"--login-options", "AUTH=NTLM", "--user", "user1@contoso.test:P@ssw0rd",
		"--mail-from", "administrator@contoso.test", "--mail-rcpt", "administrator@contoso.test", "-T", msg)
	if !strings.Contains(out, "< 235 2.7.0 Authentication successful") || !strings.Contains(out, "< 550 5.7.60 SMTP; Client does not have permissions to send as this sender") {
		t.Errorf("send-as another mailbox:\n%s", out)
	}
	out, _ = runClient(t, "curl", "-sS", "-v", "--max-time", "30", "smtp://"+s.address("Client Frontend EX01"),
		"--login-options", "AUTH=NTLM", "--user", "user1@contoso.test:wrong",
		"--mail-from", "user1@contoso.test", "--mail-rcpt", "administrator@contoso.test", "-T", msg)
	if !strings.Contains(out, "< 535 5.7.3 Authentication unsuccessful") {
		t.Errorf("wrong password:\n%s", out)
	}
}

// TestNmapNTLMInfo: nmap's smtp-ntlm-info decodes exlab's challenge as it does a real
// Exchange 2019's (spec §13.4, the AD-RTS scan): the organization's names and Windows Server
// 2019's version, on the frontend's 25 and 587 and on the hub's 2525 and 465 (the capture shows
// 25 and 465; every connector with Integrated offers NTLM).
func TestNmapNTLMInfo(t *testing.T) {
	realClient(t, "nmap")
	s := startServer(t, labConfig(nil), "")
	for _, c := range []string{"Default Frontend EX01", "Client Frontend EX01", "Client Proxy EX01", "Default EX01"} {
		host, port := hostPort(t, s.address(c))
		out, err := runClient(t, "nmap", "-Pn", "-n", "--script", "+smtp-ntlm-info", "--script-args", "smtp-ntlm-info.domain=client.example",
			"-p", port, host)
		if err != nil {
			t.Fatalf("nmap: %v\n%s", err, out)
		}
		for _, want := range []string{"Target_Name: CONTOSO", "NetBIOS_Domain_Name: CONTOSO", "NetBIOS_Computer_Name: EX01",
			"DNS_Domain_Name: contoso.test", "DNS_Computer_Name: ex01.contoso.test", "DNS_Tree_Name: contoso.test",
			"Product_Version: 10.0.17763"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", c, want, out)
			}
		}
	}
}
