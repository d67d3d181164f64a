package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/bench"
)

// The 587 path (issue 14 point 3): STARTTLS + AUTH LOGIN into exlab's Client Frontend (587 →
// Client Proxy 465 → Pebble) against Postfix's submission service with STARTTLS and Cyrus SASL
// on a private sasldb.
const (
	subAddr   = "127.0.0.1:20587" // exlab's Client Frontend at the bench's port offset
	pfSubAddr = "127.0.0.1:20028" // Postfix's submission service
	subUser   = "user1@contoso.test"
	subPass   = "P@ssw0rd" // the embedded default's lab password for user1
	subRealm  = "contoso.test"
)

// The 587 targets' names in the report.
const (
	subExlabName   = "exlab Client Frontend (587 → 465 → Pebble)"
	subPostfixName = "Postfix submission (STARTTLS, Cyrus SASL)"
)

// subPoints are the 587 points: one message per session (every message pays a TLS handshake
// and an AUTH) and 20 per session.
var subPoints = []point{
	{"587, 1 KiB, 20 sessions, 1/conn", 1024, 20, 1},
	{"587, 1 KiB, 20 sessions, 20/conn", 1024, 20, 20},
}

// saslConfig is the Cyrus SASL application config Postfix's smtpd reads as smtpd.conf from
// cyrus_sasl_config_path (smtpd_sasl_path = smtpd). auxprop with the sasldb plugin checks the
// password itself (no saslauthd); LOGIN is what both exlab's 587 and the bench client speak.
// See Postfix's SASL_README, "Cyrus SASL configuration file location" and "sasldb".
func saslConfig(sasldb string) string {
	return "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: " + sasldb + "\nmech_list: PLAIN LOGIN\n"
}

// submissionMainCF is appended to Postfix's private main.cf: Cyrus SASL from dir/conf/sasl and
// a self-signed certificate from dir/tls. The smtpd.conf lives in the private config
// directory's sasl/ because Debian's Postfix looks there ($config_directory/sasl/smtpd.conf, then
// /usr/lib/sasl/smtpd.conf, as strace shows) whatever cyrus_sasl_config_path says; upstream
// Postfix reads cyrus_sasl_config_path, which names the same directory. smtpd_sasl_auth_enable is set on the submission
// service alone (master.cf), so the port-25 figures do not change.
func submissionMainCF(dir string) string {
	return fmt.Sprintf(`smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = %[1]s/conf/sasl
smtpd_sasl_local_domain =
smtpd_tls_cert_file = %[1]s/tls/cert.pem
smtpd_tls_key_file = %[1]s/tls/key.pem
`, dir)
}

// submissionMasterCF is the submission service: STARTTLS required before AUTH, only
// authenticated clients may send. It runs unchrooted like the rest of the private master.cf,
// so the sasldb and smtpd.conf paths are the real ones. smtpd's TLS needs tlsmgr (its PRNG
// and session cache): without it smtpd answers STARTTLS with 454 4.7.0 "TLS not available due
// to local problem" ("connect to private/tlsmgr: No such file or directory" in its log).
const submissionMasterCF = `tlsmgr    unix  - - n 1000? 1 tlsmgr
` + pfSubAddr + ` inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
`

// writeSubmissionConfig writes dir/conf/sasl/smtpd.conf, the sasldb with subUser, and a
// certificate, readable by the postfix user. It never touches /etc/sasldb2 or /etc/postfix.
func writeSubmissionConfig(dir string) error {
	for _, d := range []string{"conf/sasl", "tls"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	db := filepath.Join(dir, "conf", "sasl", "sasldb2")
	if err := os.WriteFile(filepath.Join(dir, "conf", "sasl", "smtpd.conf"), []byte(saslConfig(db)), 0o644); err != nil {
		return err
	}
	if _, err := exec.LookPath("saslpasswd2"); err != nil {
		if err := aptInstall("sasl2-bin", "libsasl2-modules"); err != nil {
			return err
		}
	}
	user, _, _ := strings.Cut(subUser, "@")
	// Cyrus splits "user1@contoso.test" into user and realm, so the entry is user1 in realm contoso.test.
	cmd := exec.Command("saslpasswd2", "-f", db, "-c", "-p", "-u", subRealm, user)
	cmd.Stdin = strings.NewReader(subPass)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("saslpasswd2: %v %s", err, out)
	}
	if err := os.Chmod(db, 0o644); err != nil { // a lab password, read by smtpd as postfix
		return err
	}
	return writeSelfSigned(filepath.Join(dir, "tls"), "postfix.bench.test")
}

// writeSelfSigned writes cert.pem and key.pem for host into dir: an RSA 2048 key, the kind of
// Debian's own snakeoil certificate (make-ssl-cert) and of exlab's Exchange-like self-signed
// one, so that both servers pay the same kind of signature in every full handshake. (Until
// 2026-12-03 Postfix had a P-256 key, whose signature costs OpenSSL a tenth of an RSA one.)
func writeSelfSigned(dir, host string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	kder := x509.MarshalPKCS1PrivateKey(key)
	return os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: kder}), 0o644)
}

// rsaSignCost measures one RSA 2048 signature (PSS, SHA-256, as TLS 1.2's ECDHE_RSA suites
// sign) with Go's crypto/rsa, exlab's TLS, and with OpenSSL (openssl speed), Postfix's, when
// the openssl command is there; 0 when a figure could not be had.
func rsaSignCost() (goMs, opensslMs float64) {
	if key, err := rsa.GenerateKey(rand.Reader, 2048); err == nil {
		h := sha256.Sum256([]byte("exlab"))
		n, start := 0, time.Now()
		for time.Since(start) < time.Second {
			if _, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, h[:], nil); err != nil {
				break
			}
			n++
		}
		if n > 0 {
			goMs = float64(time.Since(start).Microseconds()) / float64(n) / 1000
		}
	}
	out, err := exec.Command("openssl", "speed", "-seconds", "1", "rsa2048").Output()
	if err != nil {
		return goMs, 0
	}
	return goMs, parseOpensslSpeed(string(out))
}

// parseOpensslSpeed reads the seconds per signature of openssl speed rsa2048's summary line,
// "rsa 2048 bits 0.000296s 0.000016s 3378.5 61336.5", in milliseconds.
func parseOpensslSpeed(out string) float64 {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "rsa" && f[1] == "2048" && f[2] == "bits" {
			if v, err := strconv.ParseFloat(strings.TrimSuffix(f[3], "s"), 64); err == nil {
				return v * 1000
			}
		}
	}
	return 0
}

// aptInstall installs Debian packages the way installPostfix does: once, then after an update.
func aptInstall(pkgs ...string) error {
	install := func() error {
		cmd := exec.Command("apt-get", append([]string{"install", "-y", "-q"}, pkgs...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get install %v: %v %s", pkgs, err, out)
		}
		return nil
	}
	if install() == nil {
		return nil
	}
	if out, err := exec.Command("apt-get", "update", "-q").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v %s", err, out)
	}
	return install()
}

// subMeasure is one 587 target at one point.
type subMeasure struct {
	measure
	Sessions float64 // sessions per second: TLS handshakes per second
	Err      string  // why the run failed, when it did
}

// loadSubmission runs one 587 point: STARTTLS then AUTH LOGIN in every session.
func loadSubmission(t target, p point, dur time.Duration) subMeasure {
	c0 := t.cpu()
	res, err := bench.Run(context.Background(), bench.Options{Target: t.Addr, Sessions: p.Sessions, PerSession: p.PerSession,
		Size: p.Size, Duration: dur, Timeout: 30 * time.Second, StartTLS: true, Auth: subUser + ":" + subPass,
		From: subUser, To: subUser})
	if err != nil {
		return subMeasure{Err: err.Error()}
	}
	c1 := settle(t.cpu)
	m := subMeasure{measure: measure{Rate: res.Rate(), P99: res.Latency["data"].P99, Failed: res.Failed}}
	m.Sessions = m.Rate / float64(p.PerSession)
	if res.Sent > 0 {
		m.CPUMs = float64((c1 - c0).Milliseconds()) / float64(res.Sent) * 1000
	}
	if res.Sent == 0 || res.Failed > 0 {
		m.Err = fmt.Sprintf("%d sent, %d failed: %v", res.Sent, res.Failed, res.Errors)
	}
	return m
}

// handshakeCPUMs estimates the server CPU of one session's TLS handshake and AUTH in
// milliseconds: CPU per message at one message per session less CPU per message at 20 per
// session (the message's own share). The CPU figures are per 1,000 messages.
func handshakeCPUMs(oneCPUMs, manyCPUMs float64) float64 {
	return max(oneCPUMs-manyCPUMs, 0) / 1000
}

// writeSubmission is the report's 587 section.
func writeSubmission(b *strings.Builder, names []string, res map[string]map[string][]subMeasure) {
	fmt.Fprintf(b, "\n## The 587 path (STARTTLS + AUTH LOGIN)\n\nexlab: Client Frontend 587 → Client Proxy 465 → Pebble (MessageRateLimit Unlimited on both for the run); Postfix: its submission service with STARTTLS required and Cyrus SASL (auxprop, sasldb) on a private config, delivery to discard. Self-signed certificates on both; the client does not verify them. At one message per session every message pays a TLS handshake and an AUTH, so handshakes/s = sessions/s.\n\n| point | target | msgs/s | TLS handshakes/s | server CPU s / 1,000 msgs | vs Postfix | note |\n|---|---|---:|---:|---:|---:|---|\n")
	med := subMedians(names, res)
	medSub := func(pn, tn string) subMeasure { return med[pn][tn] }
	for _, p := range subPoints {
		pf := medSub(p.Name, names[1])
		for _, tn := range names {
			m := medSub(p.Name, tn)
			ratio := ""
			if tn == names[0] && pf.Rate > 0 {
				ratio = fmt.Sprintf("%.2f×", m.Rate/pf.Rate)
			}
			fmt.Fprintf(b, "| %s | %s | %.0f | %.0f | %.3f | %s | %s |\n", p.Name, tn, m.Rate, m.Sessions, m.CPUMs/1000, ratio, m.Err)
		}
	}
	if goMs, sslMs := rsaSignCost(); goMs > 0 {
		fmt.Fprintf(b, "\nOne RSA 2048 signature, the server's part of every full handshake (both certificates are RSA 2048): %.2f ms in Go's crypto/rsa (exlab)", goMs)
		if sslMs > 0 {
			fmt.Fprintf(b, ", %.2f ms in OpenSSL (Postfix; `openssl speed rsa2048`)", sslMs)
		}
		b.WriteString(", measured on this machine after the runs.\n")
	}
	for _, tn := range names {
		one, many := medSub(subPoints[0].Name, tn), medSub(subPoints[1].Name, tn)
		fmt.Fprintf(b, "\n%s: %.0f TLS handshakes/s at one message per session; server CPU per handshake and AUTH ≈ %.2f ms (CPU per message at 1/conn less that at 20/conn).\n",
			tn, one.Sessions, handshakeCPUMs(one.CPUMs, many.CPUMs))
	}
}

// subMedians takes the median run (by rate) of every 587 point and target.
func subMedians(names []string, res map[string]map[string][]subMeasure) map[string]map[string]subMeasure {
	out := map[string]map[string]subMeasure{}
	for pn, byTarget := range res {
		out[pn] = map[string]subMeasure{}
		for _, tn := range names {
			runs := byTarget[tn]
			var ms []measure
			for _, r := range runs {
				ms = append(ms, r.measure)
			}
			m := median(ms)
			for _, r := range runs {
				if r.measure == m {
					out[pn][tn] = r
					break
				}
			}
		}
	}
	return out
}
