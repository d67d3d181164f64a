package smtpreceive

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTLSPolicy(t *testing.T) {
	dir := t.TempDir()
	cert, err := SelfSignedCertificate(dir, "ex01.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	again, err := SelfSignedCertificate(dir, "ex01.contoso.test")
	if err != nil || !bytes.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Fatal("the certificate is not kept in the data directory")
	}
	if cert.Leaf.Subject.CommonName != "EX01" || len(cert.Leaf.DNSNames) != 2 || cert.Leaf.DNSNames[1] != "ex01.contoso.test" {
		t.Errorf("subject %s, names %v (spec §5.4: CN = host name, SAN = host name and FQDN)", cert.Leaf.Subject, cert.Leaf.DNSNames)
	}
	var logs bytes.Buffer
	p := &TLSPolicy{Config: &tls.Config{Certificates: []tls.Certificate{cert}}, Leaf: cert.Leaf,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	rc := *connector(t, "Default Frontend EX01")
	if p.For(&rc) == nil {
		t.Fatal("a Tls connector gets no TLS")
	}
	named := rc
	named.TlsCertificateName = CertificateName(cert.Leaf)
	if p.For(&named) == nil {
		t.Error("a connector naming this certificate gets no TLS")
	}
	other := rc
	other.TlsCertificateName = "<I>CN=Contoso CA<S>CN=mail.contoso.com"
	if p.For(&other) != nil || !strings.Contains(logs.String(), "EventID=12014") ||
		!strings.Contains(logs.String(), "could not find a certificate that contains the domain name <I>CN=Contoso CA<S>CN=mail.contoso.com") {
		t.Errorf("a connector naming another certificate: %s", logs.String())
	}
	noTLS := rc
	noTLS.AuthMechanism = nil
	if p.For(&noTLS) != nil {
		t.Error("a connector without the Tls mechanism gets TLS")
	}

	expired, err := WriteSelfSigned(filepath.Join(t.TempDir(), "old.pem"), "ex01.contoso.test",
		time.Now().AddDate(-6, 0, 0), time.Now().AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	p = &TLSPolicy{Config: &tls.Config{Certificates: []tls.Certificate{expired}}, Leaf: expired.Leaf,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if p.For(&rc) != nil || !strings.Contains(logs.String(), "because it expired on") {
		t.Errorf("expired certificate: %s", logs.String())
	}
	p.For(&rc)
	if strings.Count(logs.String(), "EventID=12014") != 1 {
		t.Errorf("Event 12014 is logged once per connector:\n%s", logs.String())
	}
}

// issue makes a certificate for names valid until notAfter, signed by parent (self-signed when
// parent is nil).
func issue(t *testing.T, cn string, names []string, notAfter time.Time, parent *tls.Certificate) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IsCA: parent == nil, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	signer, signerKey := tmpl, any(key)
	if parent != nil {
		signer, signerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestTLSPolicyChoosesCertificate: Exchange's STARTTLS certificate selection among the
// certificates enabled for SMTP.
func TestTLSPolicyChoosesCertificate(t *testing.T) {
	self, err := SelfSignedCertificate(t.TempDir(), "ex01.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	ca := issue(t, "Contoso CA", nil, time.Now().AddDate(10, 0, 0), nil)
	mail := issue(t, "mail.contoso.test", []string{"mail.contoso.test"}, time.Now().AddDate(1, 0, 0), &ca)
	mailLonger := issue(t, "mail.contoso.test", []string{"mail.contoso.test"}, time.Now().AddDate(2, 0, 0), &ca)
	mailSelf := issue(t, "mail.contoso.test", []string{"mail.contoso.test"}, time.Now().AddDate(5, 0, 0), nil)
	wildcard := issue(t, "*.contoso.test", []string{"*.contoso.test"}, time.Now().AddDate(1, 0, 0), &ca)
	expired := issue(t, "old.fabrikam.test", []string{"old.fabrikam.test"}, time.Now().Add(-time.Hour), &ca)
	p := &TLSPolicy{Config: &tls.Config{Certificates: []tls.Certificate{self}}, Leaf: self.Leaf,
		Certificates: []tls.Certificate{mailSelf, mail, mailLonger, wildcard, expired}, Logger: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name, fqdn, certName string
		want                 *tls.Certificate // nil: no STARTTLS
	}{
		{"CA-issued before self-signed, then the later expiry", "mail.contoso.test", "", &mailLonger},
		{"a wildcard covers the FQDN", "smtp.contoso.test", "", &wildcard},
		{"nothing covers it: the self-signed certificate", "ex01.fabrikam.test", "", &self},
		{"TlsCertificateName picks one", "mail.contoso.test", CertificateName(wildcard.Leaf), &wildcard},
		{"TlsCertificateName naming two: the later expiry", "x.fabrikam.test", CertificateName(mail.Leaf), &mailLonger},
		{"TlsCertificateName names the self-signed one", "mail.contoso.test", CertificateName(self.Leaf), &self},
		{"TlsCertificateName names an expired one", "x.contoso.test", CertificateName(expired.Leaf), nil},
		{"an expired certificate is never chosen by name match", "old.fabrikam.test", "", &self},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := *connector(t, "Default Frontend EX01")
			rc.Name, rc.Fqdn, rc.TlsCertificateName = tc.name, tc.fqdn, tc.certName
			got := p.For(&rc)
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("STARTTLS offered with %s", got.Certificates[0].Leaf.Subject)
			case tc.want != nil && got == nil:
				t.Error("no STARTTLS")
			case tc.want != nil && !bytes.Equal(got.Certificates[0].Certificate[0], tc.want.Certificate[0]):
				t.Errorf("got %s until %s", got.Certificates[0].Leaf.Subject, got.Certificates[0].Leaf.NotAfter)
			}
		})
	}
}
