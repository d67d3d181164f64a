// tlscert.go holds the certificates for STARTTLS: self-signed ones, TlsCertificateName and
// DomainSecure.

package smtpreceive

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// SelfSignedCertificate loads the server's self-signed certificate from dir, making it on first
// use the way Exchange 2016/2019 setup does (see WriteExchangeCertificate). The PEM file holds
// certificate and key and is readable by its owner only; it is kept and reused, except that one
// without an RSA key (made by exlab before issue 13) is made again, since RSA-only clients could
// not use it.
func SelfSignedCertificate(dir, fqdn string) (tls.Certificate, error) {
	return SelfSignedCertificateFor(dir, fqdn, config.Version2019)
}

// SelfSignedCertificateFor is SelfSignedCertificate for an Exchange version (2013 signs with
// SHA-1, see WriteExchangeCertificate).
func SelfSignedCertificateFor(dir, fqdn string, v config.ExchangeVersion) (tls.Certificate, error) {
	path := filepath.Join(dir, "Exchange Certificate.pem")
	if b, err := os.ReadFile(path); err == nil {
		cert, err := tls.X509KeyPair(b, b)
		if err != nil {
			return cert, err
		}
		if _, isRSA := cert.PrivateKey.(*rsa.PrivateKey); isRSA {
			return cert, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	return WriteExchangeCertificate(path, fqdn, v, now, now.AddDate(5, 0, 0))
}

// WriteSelfSigned makes a self-signed certificate for fqdn valid from notBefore to notAfter, as
// Exchange 2016/2019 makes it, and writes it with its key to path (labs reproduce an expired
// certificate with it).
func WriteSelfSigned(path, fqdn string, notBefore, notAfter time.Time) (tls.Certificate, error) {
	return WriteExchangeCertificate(path, fqdn, config.Version2019, notBefore, notAfter)
}

// WriteExchangeCertificate makes the certificate New-ExchangeCertificate (and setup) makes and
// writes it with its key to path (spec §13.16, from the X.509 dump in the SANS SEC560 masscan
// write-up and nmap ssl-cert of the AD-RTS lab): an RSA 2048 key; subject and issuer CN = the
// host name; SANs the host name and the FQDN; EKU serverAuth; valid from notBefore to notAfter
// (setup: now and five years later to the second, no backdating); a 16-byte random serial;
// signed with sha256WithRSAEncryption, or sha1WithRSAEncryption on Exchange 2013, whose builds
// the captures show with SHA-1.
func WriteExchangeCertificate(path, fqdn string, v config.ExchangeVersion, notBefore, notAfter time.Time) (tls.Certificate, error) {
	host, _, _ := strings.Cut(fqdn, ".")
	return WriteCertificate(path, strings.ToUpper(host), []string{strings.ToUpper(host), fqdn}, v, notBefore, notAfter)
}

// WriteCertificate makes a self-signed certificate as New-ExchangeCertificate does (RSA 2048,
// the release's signature algorithm, subject CN=subject, the DNS names as its domains) and
// writes it with its key to path (PEM).
func WriteCertificate(path, subject string, dnsNames []string, v config.ExchangeVersion, notBefore, notAfter time.Time) (tls.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, err
	}
	// 16 random bytes, the first one 0x01-0x7F so that the DER integer is positive and exactly
	// 16 bytes long and the log's serial has 32 hex digits as in the capture.
	sb := make([]byte, 16)
	if _, err := rand.Read(sb); err != nil {
		return tls.Certificate{}, err
	}
	sb[0] = sb[0]&0x7f | 0x01
	sig := x509.SHA256WithRSA
	if v == config.Version2013 {
		sig = x509.SHA1WithRSA
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sb),
		SignatureAlgorithm:    sig,
		Subject:               pkix.Name{CommonName: subject},
		Issuer:                pkix.Name{CommonName: subject},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              dnsNames,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(out, out)
}

// CertificateName is the certificate's name in a connector's TlsCertificateName form,
// "<I>issuer<S>subject" (PS-NRC), with the names as .NET writes them (Exchange's admins build it
// from $cert.Issuer and $cert.Subject); a configured name matches it with
// smtpwire.SameDistinguishedName, so Go's "CN=a,O=b" form matches too.
func CertificateName(c *x509.Certificate) string {
	return "<I>" + smtpwire.DistinguishedName(c.Issuer) + "<S>" + smtpwire.DistinguishedName(c.Subject)
}

// TLSPolicy decides which connectors offer STARTTLS, and with which certificate (spec §5.4):
// the one a connector's TlsCertificateName names; else a certificate enabled for SMTP whose
// names cover the connector's FQDN, a CA-issued one before a self-signed one, then the latest
// to expire (Exchange's selection for STARTTLS); else the server's self-signed certificate.
// None when the chosen certificate has expired, or TlsCertificateName names one that is not
// there. Each refusal is logged once as Event 12014 (Exchange's text for a certificate it
// cannot find; the expired case in the same shape, exlab's wording).
type TLSPolicy struct {
	Config *tls.Config       // with the self-signed certificate
	Leaf   *x509.Certificate // the self-signed certificate
	// Certificates are the ones the configuration enables for SMTP on this server (Leaf set).
	Certificates []tls.Certificate
	Logger       *slog.Logger
	Now          func() time.Time

	mu      sync.Mutex
	logged  map[string]bool
	configs map[tlsKey]*tls.Config
}

// SetCertificates replaces the certificates enabled for SMTP (exlab config apply, and
// Enable-ExchangeCertificate through it): sessions that start afterwards choose among them.
func (p *TLSPolicy) SetCertificates(cs []tls.Certificate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Certificates = cs
	p.configs = nil // keyed by leaf: the old ones would never be used again
}

// For returns the TLS configuration connector rc may use, or nil.
func (p *TLSPolicy) For(rc *config.ReceiveConnector) *tls.Config {
	if p == nil || p.Config == nil || !rc.HasAuth(config.AuthTls) {
		return nil
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	p.mu.Lock()
	certs := p.Certificates // SetCertificates replaces the slice, never its elements
	p.mu.Unlock()
	var chosen *tls.Certificate
	if rc.TlsCertificateName != "" {
		for i := range certs {
			c := &certs[i]
			if smtpwire.SameDistinguishedName(rc.TlsCertificateName, CertificateName(c.Leaf)) && (chosen == nil || better(c.Leaf, chosen.Leaf)) {
				chosen = c
			}
		}
		if chosen == nil && p.Leaf != nil && !smtpwire.SameDistinguishedName(rc.TlsCertificateName, CertificateName(p.Leaf)) {
			p.once(rc, fmt.Sprintf("Microsoft Exchange could not find a certificate that contains the domain name %s in the personal store on the local computer.",
				rc.TlsCertificateName))
			return nil
		}
	} else {
		for i := range certs {
			c := &certs[i]
			if c.Leaf.VerifyHostname(rc.Fqdn) != nil || now().After(c.Leaf.NotAfter) {
				continue
			}
			if chosen == nil || better(c.Leaf, chosen.Leaf) {
				chosen = c
			}
		}
	}
	leaf := p.Leaf
	if chosen != nil {
		leaf = chosen.Leaf
	}
	if leaf != nil && now().After(leaf.NotAfter) {
		p.once(rc, fmt.Sprintf("Microsoft Exchange could not use the certificate %s for Receive connector %s because it expired on %s. "+
			"STARTTLS is not offered.", CertificateName(leaf), rc.Name, leaf.NotAfter.UTC().Format(time.RFC3339)))
		return nil
	}
	if chosen == nil && !rc.DomainSecureEnabled {
		return p.Config
	}
	// One configuration per certificate and Domain Secure setting: a DomainSecureEnabled
	// connector asks for the client's certificate (DomainSecure checks it).
	key := tlsKey{leaf, rc.DomainSecureEnabled}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.configs == nil {
		p.configs = map[tlsKey]*tls.Config{}
	}
	cfg := p.configs[key]
	if cfg == nil {
		cfg = p.Config.Clone()
		if chosen != nil {
			cfg.Certificates = []tls.Certificate{*chosen}
		}
		if p.Config.GetConfigForClient != nil {
			schannel(cfg) // the choice follows the new certificate's key
		}
		if rc.DomainSecureEnabled {
			cfg.ClientAuth = tls.RequestClientCert
		}
		p.configs[key] = cfg
	}
	return cfg
}

type tlsKey struct {
	leaf         *x509.Certificate
	domainSecure bool
}

// DomainSecure returns the partner domain a client authenticated as with its certificate
// (Domain Secure): the first domain of list that the certificate, verified against the
// system's roots (SSL_CERT_FILE and SSL_CERT_DIR add a lab CA), is valid for; "" for none.
func DomainSecure(cs *tls.ConnectionState, list []string) string {
	if cs == nil || len(cs.PeerCertificates) == 0 || len(list) == 0 {
		return ""
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return ""
	}
	for _, d := range list {
		if leaf.VerifyHostname(strings.TrimPrefix(d, "*.")) == nil {
			return strings.ToLower(d)
		}
	}
	return ""
}

// better says whether a is preferred to b: CA-issued before self-signed, then the later expiry.
func better(a, b *x509.Certificate) bool {
	aCA, bCA := a.Issuer.String() != a.Subject.String(), b.Issuer.String() != b.Subject.String()
	if aCA != bCA {
		return aCA
	}
	return a.NotAfter.After(b.NotAfter)
}

func (p *TLSPolicy) once(rc *config.ReceiveConnector, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logged == nil {
		p.logged = map[string]bool{}
	}
	if p.logged[rc.Identity()] {
		return
	}
	p.logged[rc.Identity()] = true
	if p.Logger != nil {
		p.Logger.Error(text, "EventID", 12014, "Source", EventSource(rc.TransportRole), "TaskCategory", "TransportService",
			"Connector", rc.Identity())
	}
}
