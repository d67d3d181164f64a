package smtpreceive

import (
	"bytes"
	"crypto/tls"
	"log/slog"
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
