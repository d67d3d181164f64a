// tlsschannel.go makes exlab's STARTTLS negotiate as Schannel on Windows Server 2019 does
// (spec §13.15) and writes the protocol-log lines of a TLS session in Exchange's form (§13.17).

package smtpreceive

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/exlab/exlab/transport/smtpwire"
)

// SchannelConfig returns a server configuration for certs that negotiates like Schannel on
// Windows Server 2019: TLS 1.0 to 1.2 (Server 2019 has no TLS 1.3 and enables 1.0 and 1.1 by
// default), Schannel's cipher-suite and curve order, and the server's choice.
func SchannelConfig(certs ...tls.Certificate) *tls.Config {
	cfg := &tls.Config{Certificates: certs}
	schannel(cfg)
	return cfg
}

// schannel sets cfg up as SchannelConfig describes; a clone with other certificates must be
// set up again, since the choice depends on the certificate's key.
//
// Go's crypto/tls ignores the order of Config.CipherSuites and applies its own preference, so
// GetConfigForClient makes the choice: the first suite in Schannel's order that the ClientHello
// offers and that can be used with the version and curves it offers, and a configuration that
// holds just that suite.
func schannel(cfg *tls.Config) {
	cfg.MinVersion, cfg.MaxVersion = smtpwire.SchannelMinVersion, smtpwire.SchannelMaxVersion
	cfg.CipherSuites = smtpwire.SchannelCipherSuites
	cfg.CurvePreferences = smtpwire.SchannelCurves
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		var cert *tls.Certificate
		if len(cfg.Certificates) > 0 {
			cert = &cfg.Certificates[0]
		}
		suite, ok := schannelChoice(hello, cert)
		if !ok {
			// Nothing Schannel's rule picks (a certificate key other than RSA or ECDSA): Go
			// chooses among the same suites and versions, and refuses when nothing is common.
			return nil, nil
		}
		one := cfg.Clone()
		one.GetConfigForClient = nil
		one.CipherSuites = []uint16{suite}
		return one, nil
	}
}

// schannelChoice is the suite Schannel picks for hello with cert: the version is the highest
// both speak (TLS 1.2 at most), then the first suite in Schannel's order the client offers that
// the version allows, the certificate's key can sign (ECDSA suites for an ECDSA key, ECDHE_RSA
// and RSA key exchange for an RSA key) and, for ECDHE, with a curve both have.
func schannelChoice(hello *tls.ClientHelloInfo, cert *tls.Certificate) (uint16, bool) {
	version := uint16(0)
	for _, v := range hello.SupportedVersions {
		if v >= smtpwire.SchannelMinVersion && v <= smtpwire.SchannelMaxVersion && v > version {
			version = v
		}
	}
	if version == 0 {
		return 0, false
	}
	rsaKey, ecKey := true, false
	if cert != nil && cert.PrivateKey != nil {
		_, rsaKey = cert.PrivateKey.(*rsa.PrivateKey)
		_, ecKey = cert.PrivateKey.(*ecdsa.PrivateKey)
	}
	sharedCurve := slices.ContainsFunc(hello.SupportedCurves, func(c tls.CurveID) bool { return slices.Contains(smtpwire.SchannelCurves, c) })
	for _, id := range smtpwire.SchannelCipherSuites {
		if !slices.Contains(hello.CipherSuites, id) {
			continue
		}
		name := tls.CipherSuiteName(id)
		tls12Only := strings.HasSuffix(name, "_SHA256") || strings.HasSuffix(name, "_SHA384")
		if tls12Only && version < tls.VersionTLS12 {
			continue
		}
		ecdsaSuite := strings.HasPrefix(name, "TLS_ECDHE_ECDSA_")
		if ecdsaSuite != ecKey || (!ecdsaSuite && !rsaKey) {
			continue
		}
		if strings.HasPrefix(name, "TLS_ECDHE_") && !sharedCurve {
			continue
		}
		return id, true
	}
	return 0, false
}

// logTLSStarted writes the two '*' lines of a finished STARTTLS handshake (spec §13.17,
// artefacts.help "Microsoft Exchange"): the certificate sent,
//
//	' CN=H CN=H <serial> <thumbprint> <notBefore> <notAfter> H;H.DOMAIN', context 'Sending certificate Subject …'
//
// and the negotiation in Schannel's words.
func (c *conn) logTLSStarted(st *tls.ConnectionState, leaf *x509.Certificate) {
	if !c.plogOn {
		return
	}
	if leaf != nil {
		c.logLine('*', certificateLogData(leaf), "Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after Subject alternate names")
	}
	c.logLine('*', "", smtpwire.SchannelNegotiation(*st, false, leaf))
}

// certificateLogData is the data field of the certificate line: a leading space, subject,
// issuer, serial and SHA-1 thumbprint in upper-case hex, validity and the DNS names.
func certificateLogData(l *x509.Certificate) string {
	return fmt.Sprintf(" %s %s %X %X %s %s %s", smtpwire.DistinguishedName(l.Subject), smtpwire.DistinguishedName(l.Issuer), l.SerialNumber.Bytes(), sha1.Sum(l.Raw),
		l.NotBefore.UTC().Format("2006-01-02T15:04:05.000Z"), l.NotAfter.UTC().Format("2006-01-02T15:04:05.000Z"), strings.Join(l.DNSNames, ";"))
}

// logTLSAfterEhlo writes, at the first EHLO inside TLS, the two lines Exchange writes there
// about the client's certificate (spec §13.17): with none,
//
//	*,,Client certificate chain validation status: 'EmptyCertificate'
//	*,,TlsDomainCapabilities='None'; Status='NoRemoteCertificate'
//
// With a certificate the statuses are exlab's reading of Exchange's ChainValidityStatus
// ('Valid' for a chain to a trusted root, 'UntrustedRoot' otherwise) and Status='Success' or
// 'CertificateValidationFailed' [I: not in a public capture].
func (c *conn) logTLSAfterEhlo() {
	if !c.plogOn || c.info.TLS == nil || c.st != stateConnected {
		return
	}
	chain, status := "EmptyCertificate", "NoRemoteCertificate"
	if certs := c.info.TLS.PeerCertificates; len(certs) > 0 {
		opts := x509.VerifyOptions{Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		for _, ic := range certs[1:] {
			opts.Intermediates.AddCert(ic)
		}
		chain, status = "Valid", "Success"
		if _, err := certs[0].Verify(opts); err != nil {
			chain, status = "UntrustedRoot", "CertificateValidationFailed"
		}
	}
	c.logLine('*', "", "Client certificate chain validation status: '"+chain+"'")
	c.logLine('*', "", "TlsDomainCapabilities='None'; Status='"+status+"'")
}

// tlsFailureName names a failed inbound handshake as Exchange's "TLS negotiation failed with
// error …" line does (the form of KB 4495258's SmtpSend log; the receive side writes the same
// line): by the SSPI status .NET gives Schannel's error. No version or suite in common is
// SEC_E_ALGORITHM_MISMATCH, "AlgorithmMismatch" (Schannel's Event 36874/36888 case); a client
// that goes away is "SocketError"; anything else a malformed handshake, "IllegalMessage". Which
// status Windows gives each Go error is inferred [I].
func tlsFailureName(err error) string {
	var ne net.Error
	var re tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET),
		errors.As(err, &ne) && ne.Timeout():
		return "SocketError"
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "no cipher suite supported"),
		strings.Contains(msg, "no mutually supported"), strings.Contains(msg, "protocol version"):
		return "AlgorithmMismatch"
	case errors.As(err, &re):
		return "IllegalMessage"
	}
	return "IllegalMessage"
}
