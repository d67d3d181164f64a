package server

import (
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
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
				out = append(out, adminapi.CertificateOf(c.KeyPair.Leaf, c.FriendlyName, c.Services, now))
			}
		}
		return out
	}
}
