package emshell

import (
	"context"
	"fmt"
	"strings"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
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
				o := certificateObject(s, ci)
				c.Write(o)
			}
			if !found && tp != "" {
				return s.notFound(c, tp)
			}
			return nil
		}}
}

// certificateMaker is a Backend that makes certificates on the server (*adminapi.Client: POST
// /api/v1/certificates).
type certificateMaker interface {
	NewCertificate(ctx context.Context, req adminapi.NewCertificateRequest) (adminapi.CertificateInfo, error)
}

var certServices = []string{"None", "IMAP", "POP", "UM", "IIS", "SMTP", "Federation", "UMCallRouter"}

func certificateObject(s *Shell, ci adminapi.CertificateInfo) *shell.Object {
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
	return o
}

func (s *Shell) certificateChangeCmdlets() []*shell.Cmdlet {
	newCert := &shell.Cmdlet{Name: "New-ExchangeCertificate", Synopsis: "Use the New-ExchangeCertificate cmdlet to create and renew self-signed certificates, and to create certificate requests (also known as certificate signing requests or CSRs) for new certificates and certificate renewals from a certification authority (CA).",
		ClassName: "Microsoft.Exchange.Management.SystemConfigurationTasks.NewExchangeCertificate", SupportsShouldProcess: true, View: certificateView,
		Params: []shell.Param{{Name: "SubjectName", Type: shell.String, TypeName: "X500DistinguishedName"}, {Name: "DomainName", Type: shell.Strings, TypeName: "MultiValuedProperty"},
			{Name: "FriendlyName", Type: shell.String}, {Name: "Services", Type: shell.Strings, TypeName: "AllowedServices"},
			{Name: "Server", Type: shell.String}, {Name: "PrivateKeyExportable", Type: shell.Bool}, {Name: "KeySize", Type: shell.Int}, {Name: "Force", Type: shell.Switch}},
		Process: func(c *shell.Call) error {
			mk, ok := s.b.(certificateMaker)
			if !ok {
				return s.failure(c, fmt.Errorf("certificates are made by the running server: start exlab serve"))
			}
			for _, sv := range c.Strings("Services") {
				if !contains(certServices, sv) {
					rec := shell.NewError(shell.InvalidArgument, "ParameterBindingException", "CannotConvertArgumentNoMessage",
						"Cannot process argument transformation on parameter 'Services'. Cannot convert value \"%s\" to type \"Microsoft.Exchange.Data.AllowedServices\".", sv)
					return rec
				}
			}
			if !c.ShouldProcess(s.ComputerName, "Generating a self-signed certificate") {
				return nil
			}
			ci, err := mk.NewCertificate(c.Ctx, adminapi.NewCertificateRequest{SubjectName: c.String("SubjectName"), DomainName: c.Strings("DomainName"),
				FriendlyName: c.String("FriendlyName"), Services: c.Strings("Services")})
			if err != nil {
				return s.invalid(c, err)
			}
			c.Write(certificateObject(s, ci))
			return nil
		}}
	enable := &shell.Cmdlet{Name: "Enable-ExchangeCertificate", Synopsis: "Use the Enable-ExchangeCertificate cmdlet to enable an existing certificate on the Exchange server for Exchange services such as Internet Information Services (IIS), SMTP, POP, IMAP, and Unified Messaging (UM).",
		ClassName: "Microsoft.Exchange.Management.SystemConfigurationTasks.EnableExchangeCertificate", SupportsShouldProcess: true,
		Params: []shell.Param{{Name: "Thumbprint", Type: shell.String, Position: 1}, {Name: "Identity", Type: shell.Any, FromPipeline: true},
			{Name: "Services", Type: shell.Strings, Mandatory: true, TypeName: "AllowedServices"}, {Name: "Server", Type: shell.String}, {Name: "Force", Type: shell.Switch}},
		Process: func(c *shell.Call) error {
			cl, ok := s.b.(certificateLister)
			if !ok {
				return s.failure(c, fmt.Errorf("the certificates are the running server's: start exlab serve"))
			}
			tp := c.String("Thumbprint")
			if tp == "" {
				id := identityOf(c.Value("Identity"))
				tp = id[strings.LastIndex(id, `\`)+1:]
			}
			certs, err := cl.Certificates(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			var ci *adminapi.CertificateInfo
			for i := range certs {
				if strings.EqualFold(certs[i].Thumbprint, tp) {
					ci = &certs[i]
				}
			}
			if ci == nil {
				return s.notFound(c, tp)
			}
			services := append([]string(nil), ci.Services...)
			for _, sv := range c.Strings("Services") {
				if !contains(services, sv) {
					services = append(services, sv)
				}
			}
			if len(services) == len(ci.Services) {
				c.WriteWarning(fmt.Sprintf("The command completed successfully but no settings of '%s' have been modified.", s.serverName+`\`+ci.Thumbprint))
				return nil
			}
			if ci.File == "" {
				rec := shell.NewError(shell.InvalidOperation, "InvalidOperationException", "",
					"The certificate with thumbprint %s is the server's own self-signed certificate; exlab cannot change its services.", ci.Thumbprint)
				rec.ErrorID = s.errorID(c, rec.Reason, "4C2D9E61")
				return rec
			}
			if !c.ShouldProcess(ci.Thumbprint, "Enabling certificate for "+strings.Join(c.Strings("Services"), ", ")) {
				return nil
			}
			return s.edit(c, func(d *config.Document) error {
				for _, o := range d.Objects("Certificates") {
					if f, ok := o.Get("CertificateFile"); ok && fmt.Sprint(f) == ci.File {
						return o.Set("Services", services)
					}
				}
				return fmt.Errorf("the certificate %s is not in the organization file", ci.Thumbprint)
			})
		}}
	return []*shell.Cmdlet{newCert, enable}
}
