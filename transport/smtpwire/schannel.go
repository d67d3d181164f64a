// schannel.go holds what Exchange's TLS looks like from outside and in its protocol logs: the
// cipher-suite and curve order of Schannel on Windows Server 2019, and the "TLS protocol …
// negotiation succeeded" line that SmtpReceive and SmtpSend write after a handshake (spec §7.1,
// §13.15, §13.17). Both sides use it, so it lives here.

package smtpwire

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"regexp"
	"strings"
)

// SchannelCipherSuites is the default cipher-suite priority of Schannel on Windows 10 1809 /
// Windows Server 2019, reduced to the suites Go's crypto/tls implements ("TLS Cipher Suites in
// Windows 10 v1809", learn.microsoft.com/windows/win32/secauthn/tls-cipher-suites-in-windows-10-v1809):
//
//	TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
//	TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
//	TLS_DHE_RSA_WITH_AES_256_GCM_SHA384*, TLS_DHE_RSA_WITH_AES_128_GCM_SHA256*,
//	TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384*, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
//	TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384*, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
//	TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
//	TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
//	TLS_RSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_AES_128_GCM_SHA256,
//	TLS_RSA_WITH_AES_256_CBC_SHA256*, TLS_RSA_WITH_AES_128_CBC_SHA256,
//	TLS_RSA_WITH_AES_256_CBC_SHA, TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA,
//	TLS_RSA_WITH_NULL_SHA256*, TLS_RSA_WITH_NULL_SHA*, TLS_PSK_…*
//
// (* not in Go: a scan of exlab lacks these five, a known difference). A real Exchange 2019 picks
// 0xC030 ECDHE-RSA-AES256-GCM-SHA384 for a modern client (spec §13.15, SANS SEC560 masscan) and
// offers RSA key exchange to clients that have nothing else (printers, scanners). Listing the RSA
// and 3DES suites explicitly enables them in Go 1.22+ despite the tlsrsakex and tls3des defaults.
var SchannelCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
}

// SchannelCurves is Schannel's default elliptic-curve order since Windows 10 1607 (so Windows
// Server 2016 and 2019): curve25519, NistP256, NistP384 ("TLS Elliptic Curves in Windows 10 1607
// and later", learn.microsoft.com/windows/win32/secauthn/tls-elliptic-curves-in-windows-10-1607-and-later;
// that page was not in the search index when this was written, so the order is [I] until a scan
// of a real server confirms it — nmap 7.93 reports only the curve it offered itself).
// No hybrid post-quantum group: Server 2019 has none, and they exist only in TLS 1.3.
var SchannelCurves = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}

// SchannelMaxVersion is the highest protocol Schannel on Windows Server 2012 R2-2019 speaks
// (TLS 1.3 came with Server 2022); SchannelMinVersion the lowest it enables by default.
const (
	SchannelMaxVersion = tls.VersionTLS12
	SchannelMinVersion = tls.VersionTLS10
)

// SchannelSuite says what Schannel's SecPkgContext_ConnectionInfo reports for one cipher suite:
// the bulk cipher and its strength, the MAC hash and its strength (0 for AEAD suites, whose
// integrity is the cipher's: the 2016 CU23 capture logs "CALG_SHA_256 with strength 0 bits" for
// AES-128-GCM), and whether the key exchange is ephemeral ECDH or RSA.
type SchannelSuite struct {
	Bulk         string
	BulkStrength int
	Hash         string
	HashStrength int
	ECDHE        bool
}

// SchannelSuiteInfo describes id; ok is false for a suite Schannel does not have.
func SchannelSuiteInfo(id uint16) (s SchannelSuite, ok bool) {
	switch id {
	case tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return SchannelSuite{"CALG_AES_256", 256, "CALG_SHA_384", 0, true}, true
	case tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return SchannelSuite{"CALG_AES_128", 128, "CALG_SHA_256", 0, true}, true
	case tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256:
		return SchannelSuite{"CALG_AES_128", 128, "CALG_SHA_256", 256, true}, true
	case tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:
		return SchannelSuite{"CALG_AES_256", 256, "CALG_SHA1", 160, true}, true
	case tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:
		return SchannelSuite{"CALG_AES_128", 128, "CALG_SHA1", 160, true}, true
	case tls.TLS_RSA_WITH_AES_256_GCM_SHA384:
		return SchannelSuite{"CALG_AES_256", 256, "CALG_SHA_384", 0, false}, true
	case tls.TLS_RSA_WITH_AES_128_GCM_SHA256:
		return SchannelSuite{"CALG_AES_128", 128, "CALG_SHA_256", 0, false}, true
	case tls.TLS_RSA_WITH_AES_128_CBC_SHA256:
		return SchannelSuite{"CALG_AES_128", 128, "CALG_SHA_256", 256, false}, true
	case tls.TLS_RSA_WITH_AES_256_CBC_SHA:
		return SchannelSuite{"CALG_AES_256", 256, "CALG_SHA1", 160, false}, true
	case tls.TLS_RSA_WITH_AES_128_CBC_SHA:
		return SchannelSuite{"CALG_AES_128", 128, "CALG_SHA1", 160, false}, true
	case tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA:
		return SchannelSuite{"CALG_3DES", 168, "CALG_SHA1", 160, false}, true
	}
	return SchannelSuite{}, false
}

// SchannelProtocol is the SP_PROT_* name of a TLS version on the server or client side.
func SchannelProtocol(version uint16, client bool) string {
	name := map[uint16]string{tls.VersionTLS10: "SP_PROT_TLS1_0", tls.VersionTLS11: "SP_PROT_TLS1_1",
		tls.VersionTLS12: "SP_PROT_TLS1_2", tls.VersionTLS13: "SP_PROT_TLS1_3"}[version]
	if name == "" {
		name = fmt.Sprintf("SP_PROT_0x%04X", version)
	}
	if client {
		return name + "_CLIENT"
	}
	return name + "_SERVER"
}

// curveStrength is the key-exchange strength Schannel reports for a curve: its size in bits,
// 255 for curve25519 (spec §13.15; 256 for NistP256 in the 2016 CU23 capture).
func curveStrength(id tls.CurveID) int {
	switch id {
	case tls.X25519:
		return 255
	case tls.CurveP384:
		return 384
	case tls.CurveP521:
		return 521
	}
	return 256
}

// SchannelNegotiation is the protocol-log text of a finished handshake, as SmtpReceive
// (client false) and SmtpSend (client true) write it:
//
//	TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm
//	CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and
//	key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits
//
// (artefacts.help "Microsoft Exchange", a 2016 CU23 RECV log; one line, spec §13.17). RSA key
// exchange is CALG_RSA_KEYX with the strength of the server's key, server (2048 bits for
// Exchange's own certificate; nil counts as that).
func SchannelNegotiation(st tls.ConnectionState, client bool, server *x509.Certificate) string {
	s, ok := SchannelSuiteInfo(st.CipherSuite)
	if !ok {
		// TLS 1.3 suites (a next hop's, on the send side) and anything Schannel lacks: named
		// from the suite itself.
		s = SchannelSuite{"CALG_AES_128", 128, "CALG_SHA_256", 0, true}
		switch st.CipherSuite {
		case tls.TLS_AES_256_GCM_SHA384:
			s = SchannelSuite{"CALG_AES_256", 256, "CALG_SHA_384", 0, true}
		case tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
			s = SchannelSuite{"CALG_CHACHA20_POLY1305", 256, "CALG_SHA_256", 0, true}
		}
	}
	// SmtpReceive names ephemeral ECDH CALG_ECDH_EPHEM (the 2016 CU23 RECV capture), SmtpSend
	// CALG_ECDHE (an Exchange 2013 SEND log: "… key exchange algorithm CALG_ECDHE with strength
	// 256 bits").
	kex, strength := "CALG_ECDH_EPHEM", curveStrength(st.CurveID)
	if client {
		kex = "CALG_ECDHE"
	}
	if !s.ECDHE {
		kex, strength = "CALG_RSA_KEYX", KeyBits(server)
	}
	return fmt.Sprintf("TLS protocol %s negotiation succeeded using bulk encryption algorithm %s with strength %d bits, "+
		"MAC hash algorithm %s with strength %d bits and key exchange algorithm %s with strength %d bits",
		SchannelProtocol(st.Version, client), s.Bulk, s.BulkStrength, s.Hash, s.HashStrength, kex, strength)
}

// KeyBits is the size of a certificate's public key (2048 when there is none).
func KeyBits(c *x509.Certificate) int {
	if c != nil {
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			return k.N.BitLen()
		case *ecdsa.PublicKey:
			return k.Curve.Params().BitSize
		}
	}
	return 2048
}

// DistinguishedName writes a certificate name as .NET's X500DistinguishedName.Name does, which
// is what Exchange prints (protocol logs, TlsCertificateName, Get-ExchangeCertificate): most
// specific first, ", " between RDNs, Windows' short names (S for the state, E for e-mail), and
// values with special characters in double quotes ("CN=xxxxxx, OU=xxxxxx, O=xxxx, L=xxxx,
// S=xxxxx, C=xx" in the SmtpSend log of KB 4495258).
func DistinguishedName(n pkix.Name) string {
	rdns := n.ToRDNSequence()
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		var atvs []string
		for _, atv := range rdns[i] {
			key, ok := dnShortNames[atv.Type.String()]
			if !ok {
				key = "OID." + atv.Type.String()
			}
			v := fmt.Sprint(atv.Value)
			if v == "" || strings.ContainsAny(v, `,+="<>#;`+"\n") || strings.TrimSpace(v) != v {
				v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
			}
			atvs = append(atvs, key+"="+v)
		}
		parts = append(parts, strings.Join(atvs, " + "))
	}
	return strings.Join(parts, ", ")
}

var dnShortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.11": "OU", "2.5.4.10": "O", "2.5.4.7": "L", "2.5.4.8": "S", "2.5.4.6": "C",
	"2.5.4.9": "STREET", "2.5.4.5": "SERIALNUMBER", "2.5.4.4": "SN", "2.5.4.42": "G", "2.5.4.12": "T",
	"2.5.4.17": "PostalCode", "1.2.840.113549.1.9.1": "E", "0.9.2342.19200300.100.1.25": "DC",
}

// SameDistinguishedName compares two names as written by an admin and by DistinguishedName:
// case and the spaces after the separators do not count, and ST is S.
func SameDistinguishedName(a, b string) bool {
	norm := func(s string) string {
		s = dnSpace.ReplaceAllString(strings.ToUpper(strings.TrimSpace(s)), "$1")
		return dnState.ReplaceAllString(s, "${1}S=")
	}
	return norm(a) == norm(b)
}

var (
	dnSpace = regexp.MustCompile(`\s*([,+>])\s*`)
	dnState = regexp.MustCompile(`(^|[,+>])ST=`)
)
