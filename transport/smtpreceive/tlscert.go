package smtpreceive

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SelfSignedCertificate loads the server's self-signed certificate from dir, making it on first
// use the way Exchange setup does: subject CN = the host name, SAN = host name and FQDN, valid
// five years (spec §5.4). The PEM file holds certificate and key and is readable by its owner
// only.
func SelfSignedCertificate(dir, fqdn string) (tls.Certificate, error) {
	path := filepath.Join(dir, "Exchange Certificate.pem")
	if b, err := os.ReadFile(path); err == nil {
		return tls.X509KeyPair(b, b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, err
	}
	host, _, _ := strings.Cut(fqdn, ".")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: strings.ToUpper(host)},
		Issuer:                pkix.Name{CommonName: strings.ToUpper(host)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		DNSNames:              []string{strings.ToUpper(host), fqdn},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(out, out)
}
