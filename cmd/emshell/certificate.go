package emshell

import (
	"context"
	"fmt"
	"strings"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/shell"
)

// certificateLister is a Backend that lists the server's certificates (*adminapi.Client: GET
// /api/v1/certificates).
type certificateLister interface {
	Certificates(ctx context.Context) ([]adminapi.CertificateInfo, error)
}

// Get-ExchangeCertificate's table: `Thumbprint  Services  Subject`, Services as its flag
// string (IMAP, POP, UM, IIS, SMTP, Federation, UMCallRouter: "IP.WS.." for Exchange setup's
// own certificate, "....S.." for SMTP only).
var certificateView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Thumbprint"}, {Label: "Services", Property: "ServicesFlags"}, {Property: "Subject"}}}

// servicesFlags is the Services column of Get-ExchangeCertificate.
func servicesFlags(services []string) string {
	flags := []byte(".......")
	for _, s := range services {
		switch strings.ToUpper(s) {
		case "IMAP":
			flags[0] = 'I'
		case "POP":
			flags[1] = 'P'
		case "UM":
			flags[2] = 'U'
		case "IIS":
			flags[3] = 'W'
		case "SMTP":
			flags[4] = 'S'
		case "FEDERATION":
			flags[5] = 'F'
		case "UMCALLROUTER":
			flags[6] = 'C'
		}
	}
	return string(flags)
}

func (s *Shell) certificateCmdlet() *shell.Cmdlet {
	return &shell.Cmdlet{Name: "Get-ExchangeCertificate", Synopsis: "Use the Get-ExchangeCertificate cmdlet to view Exchange certificates that are installed on Exchange servers.",
		ClassName: "Microsoft.Exchange.Management.SystemConfigurationTasks.GetExchangeCertificate", View: certificateView,
		Params: []shell.Param{{Name: "Thumbprint", Type: shell.String, Position: 1}, {Name: "Server", Type: shell.String}, {Name: "Identity", Type: shell.String}},
		Process: func(c *shell.Call) error {
			cl, ok := s.b.(certificateLister)
			if !ok {
				return s.failure(c, fmt.Errorf("the certificates are the running server's: start exlab serve"))
			}
			certs, err := cl.Certificates(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			tp := c.String("Thumbprint")
			if id := c.String("Identity"); tp == "" && id != "" {
				tp = id[strings.LastIndex(id, `\`)+1:]
			}
			found := false
			for _, ci := range certs {
				if tp != "" && !strings.EqualFold(ci.Thumbprint, tp) {
					continue
				}
				found = true
				dns := make([]any, len(ci.DnsNameList))
				for i, x := range ci.DnsNameList {
					dns[i] = x
				}
				o := shell.NewObject("Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate",
					"CertificateDomains", dns, "FriendlyName", ci.FriendlyName, "Issuer", ci.Issuer, "IsSelfSigned", ci.IsSelfSigned,
					"NotAfter", ci.NotAfter.Local(), "NotBefore", ci.NotBefore.Local(), "Services", strings.Join(ci.Services, ", "),
					"ServicesFlags", servicesFlags(ci.Services), "Status", ci.Status, "Subject", ci.Subject, "Thumbprint", ci.Thumbprint,
					"Identity", s.serverName+`\`+ci.Thumbprint)
				o.View = certificateView
				c.Write(o)
			}
			if !found && tp != "" {
				return s.notFound(c, tp)
			}
			return nil
		}}
}
