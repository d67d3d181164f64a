package smtpwire

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"testing"
)

// TestSchannelNegotiation: the protocol-log line of a handshake in Schannel's words. The first
// row is the line of the 2016 CU23 RECV log on artefacts.help's "Microsoft Exchange" page
// (spec §13.17), byte for byte.
func TestSchannelNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint16
		suite   uint16
		curve   tls.CurveID
		client  bool
		want    string
	}{
		{"capture: AES-128-GCM over P-256", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.CurveP256, false,
			"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits"},
		{"Exchange 2019's first choice over x25519", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.X25519, false,
			"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 255 bits"},
		{"P-384", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.CurveP384, false,
			"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits"},
		{"RSA key exchange, CBC with SHA-1", tls.VersionTLS12, tls.TLS_RSA_WITH_AES_256_CBC_SHA, 0, false,
			"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"TLS 1.0", tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.X25519, false,
			"TLS protocol SP_PROT_TLS1_0_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 255 bits"},
		{"TLS 1.1, 3DES", tls.VersionTLS11, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, 0, false,
			"TLS protocol SP_PROT_TLS1_1_SERVER negotiation succeeded using bulk encryption algorithm CALG_3DES with strength 168 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"CBC with SHA-256", tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_CBC_SHA256, 0, false,
			"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 256 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"SmtpSend", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.CurveP256, true,
			"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDHE with strength 256 bits"},
		// An Exchange 2013 SEND log (kbgitbook case 17388217, 2019), byte for byte.
		{"capture: SmtpSend, TLS 1.0", tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.CurveP256, true,
			"TLS protocol SP_PROT_TLS1_0_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_ECDHE with strength 256 bits"},
		{"SmtpSend to a TLS 1.3 next hop", tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384, tls.X25519, true,
			"TLS protocol SP_PROT_TLS1_3_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDHE with strength 255 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SchannelNegotiation(tls.ConnectionState{Version: tc.version, CipherSuite: tc.suite, CurveID: tc.curve}, tc.client, nil)
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestSchannelSuitesKnown: every suite exlab offers has Schannel's description, and Go
// implements it (a suite Go lacks would silently drop out of the handshake).
func TestSchannelSuitesKnown(t *testing.T) {
	implemented := map[uint16]bool{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		implemented[s.ID] = true
	}
	for _, id := range SchannelCipherSuites {
		if _, ok := SchannelSuiteInfo(id); !ok || !implemented[id] {
			t.Errorf("%s: described %v, implemented %v", tls.CipherSuiteName(id), ok, implemented[id])
		}
	}
	if SchannelCipherSuites[2] != tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 {
		t.Error("ECDHE-RSA-AES256-GCM-SHA384 is not Schannel's first RSA suite")
	}
}

// TestDistinguishedName: names as .NET (and so Exchange) writes them, and the comparison of a
// configured TlsCertificateName with them.
func TestDistinguishedName(t *testing.T) {
	for _, tc := range []struct {
		name pkix.Name
		want string
	}{
		{pkix.Name{CommonName: "EX01"}, "CN=EX01"},
		// KB 4495258's issuer line: "CN=Trusted Secure Certificate Authority 5, O=Corporation
		// Service Company, L=Wilmington, S=DE, C=US".
		{pkix.Name{CommonName: "Trusted Secure Certificate Authority 5", Organization: []string{"Corporation Service Company"},
			Locality: []string{"Wilmington"}, Province: []string{"DE"}, Country: []string{"US"}},
			"CN=Trusted Secure Certificate Authority 5, O=Corporation Service Company, L=Wilmington, S=DE, C=US"},
		{pkix.Name{CommonName: "mail.contoso.com", Organization: []string{"Contoso, Ltd"}, OrganizationalUnit: []string{"IT"}},
			`CN=mail.contoso.com, OU=IT, O="Contoso, Ltd"`},
	} {
		if got := DistinguishedName(tc.name); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"<I>CN=Contoso CA, O=Contoso, S=WA<S>CN=mail.contoso.com", "<I>CN=Contoso CA,O=Contoso,ST=WA<S>CN=mail.contoso.com", true},
		{"<i>cn=contoso ca<s>cn=mail.contoso.com", "<I>CN=Contoso CA<S>CN=mail.contoso.com", true},
		{"<I>CN=Contoso CA<S>CN=mail.contoso.com", "<I>CN=Contoso CA<S>CN=smtp.contoso.com", false},
	} {
		if got := SameDistinguishedName(tc.a, tc.b); got != tc.same {
			t.Errorf("SameDistinguishedName(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
