package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadFiles is the step after validation that reads the files the organization names: each
// certificate's PEM files (Certificate.KeyPair) and each enabled DKIM signing key
// (DkimSigningConfig.Signer). Relative paths are relative to baseDir, the directory of the
// configuration file. It is the only step besides reading the file itself that does I/O. A
// file that cannot be read or parsed is a Problem with the file, line and field that name it;
// the error, if any, is Problems. A certificate or key whose name validation found empty is
// skipped.
func (o *Organization) LoadFiles(baseDir string) error {
	d := &decoder{file: o.File}
	c := checker{o: o, d: d}
	rel := func(f string) string {
		if f == "" || filepath.IsAbs(f) {
			return f
		}
		return filepath.Join(baseDir, f)
	}
	for i := range o.Certificates {
		if cert := &o.Certificates[i]; cert.CertificateFile != "" {
			loadCertificate(c, fmt.Sprintf("Certificates[%d]", i), cert, rel)
		}
	}
	for i := range o.SendConnectors {
		if dk := &o.SendConnectors[i].DkimSigning; dk.Enabled && dk.PrivateKeyFile != "" {
			loadDkimKey(c, fmt.Sprintf("SendConnectors[%d].DkimSigning", i), dk, rel(dk.PrivateKeyFile))
		}
	}
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return d.problems
	}
	return nil
}

// loadDkimKey reads a send connector's DKIM key from path (PrivateKeyFile resolved).
func loadDkimKey(c checker, p string, d *DkimSigningConfig, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		c.fail(p+".PrivateKeyFile", "%q: %v", d.PrivateKeyFile, err)
		return
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		c.fail(p+".PrivateKeyFile", "%q holds no PEM block", d.PrivateKeyFile)
		return
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	}
	signer, ok := key.(crypto.Signer)
	_, isRSA := key.(*rsa.PrivateKey)
	_, isEd := key.(ed25519.PrivateKey)
	if err != nil || !ok || !(isRSA || isEd) {
		c.fail(p+".PrivateKeyFile", "%q is not an RSA or Ed25519 private key", d.PrivateKeyFile)
		return
	}
	d.Signer = signer
}

// loadCertificate reads one certificate and its key, as Import-ExchangeCertificate would.
func loadCertificate(c checker, p string, cert *Certificate, rel func(string) string) {
	certFile, keyFile := rel(cert.CertificateFile), rel(cert.PrivateKeyFile)
	if keyFile == "" {
		keyFile = certFile
	}
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		field := ".CertificateFile"
		if cert.PrivateKeyFile != "" && strings.Contains(err.Error(), "key") {
			field = ".PrivateKeyFile"
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%q: %v", cert.CertificateFile, pe.Err) // the path as written, not as resolved
			if filepath.Base(pe.Path) == filepath.Base(keyFile) && keyFile != certFile {
				field, err = ".PrivateKeyFile", fmt.Errorf("%q: %v", cert.PrivateKeyFile, pe.Err)
			}
		}
		c.fail(p+field, "%v", err)
		return
	}
	cert.KeyPair = &kp
}
