package main

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaslConfig(t *testing.T) {
	got := saslConfig("/tmp/x/sasl/sasldb2")
	want := "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: /tmp/x/sasl/sasldb2\nmech_list: PLAIN LOGIN\n"
	if got != want {
		t.Errorf("saslConfig = %q, want %q", got, want)
	}
}

func TestSubmissionPostfixConfig(t *testing.T) {
	main := submissionMainCF("/tmp/pf")
	for _, want := range []string{
		"smtpd_sasl_type = cyrus\n",
		"smtpd_sasl_path = smtpd\n", // → smtpd.conf
		"cyrus_sasl_config_path = /tmp/pf/conf/sasl\n",
		"smtpd_tls_cert_file = /tmp/pf/tls/cert.pem\n",
		"smtpd_tls_key_file = /tmp/pf/tls/key.pem\n",
	} {
		if !strings.Contains(main, want) {
			t.Errorf("main.cf lacks %q:\n%s", want, main)
		}
	}
	// SASL stays off on port 25's smtpd: only the submission service turns it on.
	if strings.Contains(main, "smtpd_sasl_auth_enable") {
		t.Errorf("main.cf enables SASL globally:\n%s", main)
	}
	lines := strings.Split(strings.TrimSuffix(submissionMasterCF, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "tlsmgr ") {
		t.Errorf("master.cf lacks tlsmgr, which smtpd's STARTTLS needs: %q", lines[0])
	}
	fields := strings.Fields(lines[1])
	if len(fields) != 8 || fields[0] != pfSubAddr || fields[4] != "n" || fields[7] != "smtpd" {
		t.Errorf("master.cf service line %q: want %s inet, unchrooted (5th column n), smtpd", fields, pfSubAddr)
	}
	for _, want := range []string{"smtpd_tls_security_level=encrypt", "smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes", "permit_sasl_authenticated,reject"} {
		if !strings.Contains(submissionMasterCF, want) {
			t.Errorf("master.cf submission lacks %q", want)
		}
	}
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "  -o ") {
			t.Errorf("continuation line %q must start with whitespace", l)
		}
	}
}

func TestWriteSubmissionConfig(t *testing.T) {
	if _, err := exec.LookPath("saslpasswd2"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("saslpasswd2 (sasl2-bin) is missing")
		}
		t.Skip("saslpasswd2 (sasl2-bin) is not installed")
	}
	dir := t.TempDir()
	if err := writeSubmissionConfig(dir); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "conf/sasl/smtpd.conf"))
	if err != nil || string(conf) != saslConfig(filepath.Join(dir, "conf/sasl/sasldb2")) {
		t.Errorf("smtpd.conf = %q, %v", conf, err)
	}
	// The sasldb holds user1 in realm contoso.test, as Cyrus splits user1@contoso.test.
	out, err := exec.Command("sasldblistusers2", "-f", filepath.Join(dir, "conf/sasl/sasldb2")).CombinedOutput()
	if err != nil {
		t.Fatalf("sasldblistusers2: %v %s", err, out)
	}
	if !strings.Contains(string(out), "user1@contoso.test") {
		t.Errorf("sasldb lists %q, want user1@contoso.test", out)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls/cert.pem"), filepath.Join(dir, "tls/key.pem")); err != nil {
		t.Errorf("certificate: %v", err)
	}
}

func TestHandshakeCPU(t *testing.T) {
	tests := []struct{ one, many, want float64 }{
		{one: 3000, many: 500, want: 2.5}, // CPU ms per 1,000 messages → ms per handshake
		{one: 400, many: 500, want: 0},    // noise never goes negative
	}
	for _, tc := range tests {
		if got := handshakeCPUMs(tc.one, tc.many); got != tc.want {
			t.Errorf("handshakeCPUMs(%v, %v) = %v, want %v", tc.one, tc.many, got, tc.want)
		}
	}
}

func TestParseOpensslSpeed(t *testing.T) {
	// openssl speed -seconds 1 rsa2048 of OpenSSL 3.0 (Debian 12), its last two lines.
	out := "                  sign    verify    sign/s verify/s\nrsa 2048 bits 0.000296s 0.000016s   3378.5  61336.5\n"
	if got := parseOpensslSpeed(out); got < 0.2959 || got > 0.2961 {
		t.Errorf("parseOpensslSpeed = %v ms, want 0.296", got)
	}
	if got := parseOpensslSpeed("no such line\n"); got != 0 {
		t.Errorf("parseOpensslSpeed without the line = %v, want 0", got)
	}
}
