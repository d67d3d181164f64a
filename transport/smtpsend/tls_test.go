package smtpsend

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
)

// TestSendTLSLikeSchannel: SmtpSend's client side negotiates as Schannel on Windows Server 2019
// (spec §13.15): TLS 1.2 at most, and RSA key exchange with a next hop that has nothing else (Go's
// default client refuses it); the protocol-log line names the client side, SP_PROT_TLS1_2_CLIENT.
func TestSendTLSLikeSchannel(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.fabrikam.test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"relay.fabrikam.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	for _, tc := range []struct {
		name   string
		server *tls.Config
		want   string // "": the handshake fails
	}{
		{"a TLS 1.3 next hop gets TLS 1.2", &tls.Config{Certificates: []tls.Certificate{cert}},
			"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_"},
		{"an old next hop with RSA key exchange only",
			&tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},
			"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, " +
				"MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"},
		{"a TLS 1.3-only next hop: no common version", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
			_ = sc.SetDeadline(time.Now().Add(10 * time.Second))
			go func() { _ = tls.Server(sc, tc.server).Handshake(); sc.Close() }()
			client := tls.Client(cc, SendOptions{}.tlsConfig("relay.fabrikam.test"))
			err := client.Handshake()
			if tc.want == "" {
				if err == nil {
					t.Fatalf("handshake succeeded with %s", tls.VersionName(client.ConnectionState().Version))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := client.ConnectionState()
			if got := smtpwire.SchannelNegotiation(st, true, st.PeerCertificates[0]); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got  %s\nwant %s…", got, tc.want)
			}
		})
	}
}
