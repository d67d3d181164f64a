package smtpreceive

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// TestExchangeCertificate: the self-signed certificate is what New-ExchangeCertificate makes
// (spec §13.16): RSA 2048, CN and issuer the host name, SANs host name and FQDN, serverAuth,
// five years to the second from now, a 16-byte serial; SHA-256, SHA-1 on Exchange 2013.
func TestExchangeCertificate(t *testing.T) {
	for _, tc := range []struct {
		version config.ExchangeVersion
		sig     x509.SignatureAlgorithm
	}{
		{config.Version2019, x509.SHA256WithRSA},
		{config.Version2016, x509.SHA256WithRSA},
		{config.Version2013, x509.SHA1WithRSA},
	} {
		t.Run(string(tc.version), func(t *testing.T) {
			before := time.Now().UTC().Truncate(time.Second)
			cert, err := SelfSignedCertificateFor(t.TempDir(), "ex01.contoso.test", tc.version)
			if err != nil {
				t.Fatal(err)
			}
			l := cert.Leaf
			key, ok := l.PublicKey.(*rsa.PublicKey)
			if !ok || key.N.BitLen() != 2048 {
				t.Errorf("key %T, want RSA 2048", l.PublicKey)
			}
			if l.SignatureAlgorithm != tc.sig {
				t.Errorf("signature %v, want %v", l.SignatureAlgorithm, tc.sig)
			}
			if l.Subject.String() != "CN=EX01" || l.Issuer.String() != "CN=EX01" {
				t.Errorf("subject %s, issuer %s", l.Subject, l.Issuer)
			}
			if len(l.DNSNames) != 2 || l.DNSNames[0] != "EX01" || l.DNSNames[1] != "ex01.contoso.test" {
				t.Errorf("SANs %v", l.DNSNames)
			}
			if len(l.ExtKeyUsage) != 1 || l.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("EKU %v, want serverAuth", l.ExtKeyUsage)
			}
			if l.NotBefore.Before(before) || l.NotBefore.After(time.Now()) || !l.NotAfter.Equal(l.NotBefore.AddDate(5, 0, 0)) {
				t.Errorf("valid %s to %s: want from now, five years to the second", l.NotBefore, l.NotAfter)
			}
			if n := len(l.SerialNumber.Bytes()); n != 16 {
				t.Errorf("serial of %d bytes, want 16", n)
			}
			if err := l.CheckSignature(l.SignatureAlgorithm, l.RawTBSCertificate, l.Signature); err != nil && tc.sig != x509.SHA1WithRSA {
				t.Errorf("not self-signed: %v", err)
			}
		})
	}
}

// TestExchangeCertificateReplacesECDSA: a data directory from an exlab that made ECDSA
// certificates gets an RSA one (an RSA-only client could not use the old one); an RSA
// certificate, as `exlab certificate new` writes it, is kept.
func TestExchangeCertificateReplacesECDSA(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Exchange Certificate.pem")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	old := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := SelfSignedCertificate(dir, "ex01.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cert.PrivateKey.(*rsa.PrivateKey); !ok {
		t.Fatalf("key %T after an ECDSA certificate", cert.PrivateKey)
	}
	again, err := SelfSignedCertificate(dir, "ex01.contoso.test")
	if err != nil || !again.Leaf.Equal(cert.Leaf) {
		t.Error("the RSA certificate is not kept")
	}
}

// TestSchannelChoice: over real handshakes, the suite, version and curve Schannel on Windows
// Server 2019 picks for what the client offers (spec §13.15): the server's order, not the
// client's; TLS 1.2 at most; RSA key exchange for RSA-only clients; and the negotiation line
// of the protocol log that follows from it.
func TestSchannelChoice(t *testing.T) {
	cert, err := SelfSignedCertificate(t.TempDir(), "ex01.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	server := SchannelConfig(cert)
	rsaOnly := []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA} // openssl -cipher AES128-SHA:AES256-SHA
	for _, tc := range []struct {
		name      string
		client    *tls.Config
		suite     uint16 // 0: the handshake fails
		version   uint16
		curve     tls.CurveID
		negotiate string // the protocol-log line's tail after "negotiation succeeded using "
	}{
		{"a modern client gets ECDHE-RSA-AES256-GCM-SHA384 over x25519", &tls.Config{},
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, tls.X25519,
			"bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 255 bits"},
		{"the server's order, not the client's",
			&tls.Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12, tls.X25519,
			"bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 255 bits"},
		{"RSA-only client: AES256-SHA before AES128-SHA", &tls.Config{CipherSuites: rsaOnly, MaxVersion: tls.VersionTLS12},
			tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.VersionTLS12, 0,
			"bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"RSA key exchange with GCM", &tls.Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, MaxVersion: tls.VersionTLS12},
			tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, 0,
			"bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"3DES, the last resort", &tls.Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, MaxVersion: tls.VersionTLS12},
			tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.VersionTLS12, 0,
			"bulk encryption algorithm CALG_3DES with strength 168 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"TLS 1.0 client: no GCM, ECDHE with CBC", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA}},
			tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.VersionTLS10, tls.X25519,
			"bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 255 bits"},
		{"TLS 1.1 client", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11, CipherSuites: rsaOnly},
			tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.VersionTLS11, 0,
			"bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"P-256 when the client has no x25519", &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP384, tls.CurveP256}},
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, tls.CurveP256,
			"bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits"},
		{"P-384 alone", &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP384}},
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, tls.CurveP384,
			"bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits"},
		{"no curve in common: RSA key exchange", &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP521},
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12, 0,
			"bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"TLS 1.3 only: refused", &tls.Config{MinVersion: tls.VersionTLS13}, 0, 0, 0, ""},
		{"ChaCha20 only (not in Schannel): refused", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}}, 0, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
			_ = sc.SetDeadline(time.Now().Add(10 * time.Second))
			client := tc.client.Clone()
			client.InsecureSkipVerify = true
			srv := tls.Server(sc, server)
			done := make(chan error, 1)
			go func() { done <- srv.Handshake() }()
			err := tls.Client(cc, client).Handshake()
			if tc.suite == 0 {
				if err == nil {
					t.Fatalf("handshake succeeded with %s", tls.CipherSuiteName(srv.ConnectionState().CipherSuite))
				}
				cc.Close()
				// Nothing in common: Schannel's SEC_E_ALGORITHM_MISMATCH in the protocol log.
				if serr := <-done; serr == nil || tlsFailureName(serr) != "AlgorithmMismatch" {
					t.Errorf("server error %v is named %q, want AlgorithmMismatch", serr, tlsFailureName(serr))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			st := srv.ConnectionState()
			if st.CipherSuite != tc.suite || st.Version != tc.version || st.CurveID != tc.curve {
				t.Errorf("got %s, %s, curve %v; want %s, %s, curve %v", tls.CipherSuiteName(st.CipherSuite), tls.VersionName(st.Version), st.CurveID,
					tls.CipherSuiteName(tc.suite), tls.VersionName(tc.version), tc.curve)
			}
			want := "TLS protocol " + smtpwire.SchannelProtocol(tc.version, false) + " negotiation succeeded using " + tc.negotiate
			if got := smtpwire.SchannelNegotiation(st, false, cert.Leaf); got != want {
				t.Errorf("log line\n got  %s\n want %s", got, want)
			}
		})
	}
}

// TestSchannelFollowsCertificate: a connector's ECDSA certificate (TlsCertificateName) gets the
// ECDHE_ECDSA suites in Schannel's order.
func TestSchannelFollowsCertificate(t *testing.T) {
	self, err := SelfSignedCertificate(t.TempDir(), "ex01.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	ca := issue(t, "Contoso CA", nil, time.Now().AddDate(10, 0, 0), nil)
	mail := issue(t, "mail.contoso.test", []string{"mail.contoso.test"}, time.Now().AddDate(1, 0, 0), &ca) // ECDSA P-256
	p := &TLSPolicy{Config: SchannelConfig(self), Leaf: self.Leaf, Certificates: []tls.Certificate{mail}}
	rc := *connector(t, "Default Frontend EX01")
	rc.Fqdn = "mail.contoso.test"
	cfg := p.For(&rc)
	if cfg == nil {
		t.Fatal("no TLS")
	}
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	srv := tls.Server(sc, cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	if err := tls.Client(cc, &tls.Config{InsecureSkipVerify: true}).Handshake(); err != nil {
		t.Fatal(err)
	}
	<-done
	if got := srv.ConnectionState().CipherSuite; got != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("ECDSA certificate: %s", tls.CipherSuiteName(got))
	}
}

// TestTLSFailureName: a client that goes away and one that sends no TLS get the SSPI names of
// the protocol log's "TLS negotiation failed with error …" line.
func TestTLSFailureName(t *testing.T) {
	cert, err := SelfSignedCertificate(t.TempDir(), "ex01.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, send string
		want       string
	}{
		{"the client goes away", "", "SocketError"},
		{"plain text instead of a ClientHello", "EHLO client.example\r\n", "IllegalMessage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer sc.Close()
			_ = sc.SetDeadline(time.Now().Add(5 * time.Second))
			done := make(chan error, 1)
			go func() { done <- tls.Server(sc, SchannelConfig(cert)).Handshake() }()
			if tc.send != "" {
				go func() { _, _ = cc.Write([]byte(tc.send)); _, _ = io.Copy(io.Discard, cc) }()
			} else {
				cc.Close()
			}
			if got := tlsFailureName(<-done); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			cc.Close()
		})
	}
}
