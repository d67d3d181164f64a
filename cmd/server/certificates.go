package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// certificates is adminapi.Options.Certificates: the server's self-signed certificate (what
// Exchange setup makes, "Microsoft Exchange", enabled for IMAP, POP, IIS and SMTP) and the
// organization's certificates of this server, as the running organization has them.
func (s *services) certificates(tls *smtpreceive.TLSPolicy) func() []adminapi.CertificateInfo {
	return func() []adminapi.CertificateInfo {
		now := time.Now()
		var out []adminapi.CertificateInfo
		if tls != nil && tls.Leaf != nil {
			out = append(out, adminapi.CertificateOf(tls.Leaf, "Microsoft Exchange", []string{"IMAP", "POP", "IIS", "SMTP"}, now))
		}
		org := s.org.Load()
		for _, c := range smtpCertificatesOf(org, s.srv.Name) {
			if c.KeyPair != nil && c.KeyPair.Leaf != nil {
				ci := adminapi.CertificateOf(c.KeyPair.Leaf, c.FriendlyName, c.Services, now)
				ci.File = c.CertificateFile
				out = append(out, ci)
			}
		}
		return out
	}
}

// newCertificate is adminapi.Options.NewCertificate: New-ExchangeCertificate's self-signed
// certificate (Exchange's defaults: CN=<server>, the server's name and FQDN as its domains,
// IMAP, POP and SMTP, five years), written to DATA/Certificates/<thumbprint>.pem and added to
// the organization's Certificates, which is written and applied as a cmdlet's change is (so
// STARTTLS offers it at once when it is enabled for SMTP).
func (s *services) newCertificate(set func([]byte) (string, error)) func(adminapi.NewCertificateRequest) (adminapi.CertificateInfo, error) {
	return func(req adminapi.NewCertificateRequest) (adminapi.CertificateInfo, error) {
		srv := s.srv
		subject := strings.TrimPrefix(strings.TrimSpace(req.SubjectName), "CN=")
		if subject == "" {
			subject = strings.ToUpper(srv.Name)
		}
		dns := req.DomainName
		if len(dns) == 0 {
			dns = []string{strings.ToUpper(srv.Name), srv.Fqdn}
		}
		services := req.Services
		if len(services) == 0 {
			services = []string{"IMAP", "POP", "SMTP"}
		}
		name := req.FriendlyName
		if name == "" {
			name = "Microsoft Exchange"
		}
		dir := filepath.Join(s.o.DataDir, CertDir)
		tmp := filepath.Join(dir, fmt.Sprintf(".new-%d.pem", time.Now().UnixNano()))
		now := time.Now().UTC().Truncate(time.Second)
		cert, err := smtpreceive.WriteCertificate(tmp, subject, dns, srv.Version, now, now.AddDate(5, 0, 0))
		if err != nil {
			return adminapi.CertificateInfo{}, err
		}
		ci := adminapi.CertificateOf(cert.Leaf, name, services, now)
		path, err := filepath.Abs(filepath.Join(dir, ci.Thumbprint+".pem"))
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			_ = os.Remove(tmp)
			return adminapi.CertificateInfo{}, err
		}
		file, src, err := s.organizationSource()
		if err != nil {
			return adminapi.CertificateInfo{}, err
		}
		if file == "" {
			file = config.DefaultFileName
		}
		out, _, err := config.EditBytes(file, src, func(d *config.Document) error {
			_, err := d.Add("Certificates", config.Field{Param: "Server", Value: srv.Name}, config.Field{Param: "FriendlyName", Value: name},
				config.Field{Param: "CertificateFile", Value: path}, config.Field{Param: "Services", Value: services})
			return err
		})
		if err == nil {
			_, err = set(out)
		}
		if err != nil {
			_ = os.Remove(path)
			return adminapi.CertificateInfo{}, err
		}
		ci.File = path
		return ci, nil
	}
}
