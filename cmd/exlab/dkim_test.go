package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// TestDKIM: the hub stamps Authentication-Results on mail from anonymous senders with the
// result of verifying its DKIM signatures (pass, fail, none; keys generated here and answered
// by a loopback DNS server), and a send connector with DkimSigning signs outbound mail so that
// the next hop can verify it.
func TestDKIM(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	txt := map[string]string{
		"s1._domainkey.example.org":   "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub),
		"lab._domainkey.contoso.test": "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(rsaPub),
	}
	dns := startDNSWith(t, nil, nil, txt)
	keyFile := filepath.Join(t.TempDir(), "dkim.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	sh := startSmartHost(t)
	cfg := dnsLab(dns, fmt.Sprintf(`
  - Name: Internet
    AddressSpaces: ["SMTP:*;1"]
    SmartHosts: ["%s"]
    DNSRoutingEnabled: false
    DkimSigning:
      Enabled: true
      Domain: contoso.test
      Selector: lab
      PrivateKeyFile: %s`, sh.addr, keyFile))
	s := startServer(t, cfg, "")
	fe := s.address("Default Frontend EX01")

	sign := func(msg string) string {
		var b bytes.Buffer
		if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.org", Selector: "s1", Signer: priv,
			Hash: crypto.SHA256, HeaderKeys: []string{"From", "Subject"}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	signed := sign("From: a@example.org\r\nSubject: signed\r\n\r\nhello\r\n")
	tampered := strings.Replace(sign("From: a@example.org\r\nSubject: tampered\r\n\r\nhello\r\n"), "hello", "HELLO", 1)
	for _, m := range []string{signed, tampered, "From: a@example.org\r\nSubject: unsigned\r\n\r\nhello\r\n"} {
		if err := sendMail(t, fe, "a@example.org", []string{"user1@contoso.test"}, m); err != nil {
			t.Fatal(err)
		}
	}
	waitMailbox(t, s.data, "user1@contoso.test", 3)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	for _, want := range []string{
		`Authentication-Results: ex01.contoso.test; dkim=pass reason="signature was verified" header.d=example.org`,
		`Authentication-Results: ex01.contoso.test; dkim=fail reason="body hash did not verify" header.d=example.org`,
		"Authentication-Results: ex01.contoso.test; dkim=none\r\n",
		"X-MS-Exchange-Organization-AuthAs: Anonymous",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the delivered messages:\n%s", want, out)
		}
	}

	// Outbound: an authenticated user's mail to the Internet leaves signed by contoso.test and
	// verifies against the published key; internal mail gets no Authentication-Results.
	c := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	if err := c.SendMail("user1@contoso.test", []string{"joe@fabrikam.example", "admin@contoso.test"},
		strings.NewReader("From: user1@contoso.test\r\nTo: joe@fabrikam.example\r\nSubject: outbound\r\n\r\nsigned by the connector\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(sh.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := sh.messages()
	if len(got) != 1 {
		t.Fatalf("the smart host got %d messages", len(got))
	}
	_, data, _ := strings.Cut(got[0], "\n")
	vs, err := dkim.VerifyWithOptions(strings.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if v, ok := txt[name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("no TXT for %s", name)
	}})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "contoso.test" {
		t.Fatalf("outbound signature: %v %+v\n%s", err, vs, data)
	}
	waitMailbox(t, s.data, "admin@contoso.test", 1)
	if out, _, _ := exlab(t, "mailbox", "show", "admin@contoso.test", "--data", s.data); strings.Contains(out, "Authentication-Results") {
		t.Errorf("internal mail was stamped:\n%s", out)
	}
}
