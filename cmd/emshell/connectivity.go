package emshell

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/exlab/exlab/bench"
	"github.com/exlab/exlab/cmd/shell"
)

// Test-SmtpConnectivity's table: one row per binding of every receive connector (spec §11,
// PS-TSC).
var connectivityView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Server"}, {Property: "ReceiveConnector"},
	{Property: "Binding"}, {Property: "EndPoint"}, {Property: "StatusCode"}, {Property: "Details"}}}

func (s *Shell) connectivityCmdlet() *shell.Cmdlet {
	return &shell.Cmdlet{Name: "Test-SmtpConnectivity", Synopsis: "Use the Test-SmtpConnectivity cmdlet to diagnose whether an SMTP connection can be established to the Receive connectors on a specific server.",
		ClassName: "Microsoft.Exchange.Monitoring.TestSmtpConnectivity", View: connectivityView,
		Params: []shell.Param{{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "ServerIdParameter"},
			{Name: "MonitoringContext", Type: shell.Bool}},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			srv := s.server(org)
			if id := identityOf(c.Value("Identity")); id != "" {
				if srv = org.Server(id); srv == nil {
					return s.notFound(c, id)
				}
			}
			for i := range org.ReceiveConnectors {
				rc := &org.ReceiveConnectors[i]
				if !rc.Enabled || !strings.EqualFold(rc.Server, srv.Name) {
					continue
				}
				for _, b := range rc.Bindings {
					addr := b.Addr
					if addr.IsUnspecified() { // a wildcard listens on loopback too
						addr = netip.MustParseAddr("127.0.0.1")
						if b.Addr.Is6() {
							addr = netip.IPv6Loopback()
						}
					}
					ep := netip.AddrPortFrom(addr, uint16(int(b.Port)+s.portOffset)).String()
					status, details := probeSMTP(c.Ctx, ep)
					c.Write(shell.NewObject("Microsoft.Exchange.Monitoring.SmtpConnectivityStatus", "Server", srv.Name,
						"ReceiveConnector", rc.Name, "Binding", b.String(), "EndPoint", ep, "StatusCode", status, "Details", details))
				}
			}
			return nil
		}}
}

// probeSMTP opens a session as exlab probe does (bench.Probe: the banner, EHLO, QUIT) and
// words it as Test-SmtpConnectivity: Success, Unable to connect, Transient error (a 4xx
// banner, or no EHLO reply), Permanent error (5xx), External error (no banner).
func probeSMTP(ctx context.Context, ep string) (status, details string) {
	o := bench.Probe(ctx, ep, 1, 10*time.Second)[0]
	switch {
	case o.Banner == "" && strings.HasPrefix(o.Err, "no banner"):
		return "External error", "the connection was closed without a banner: " + o.Err
	case o.Banner == "":
		return "Unable to connect", o.Err
	case o.Banner[0] == '4':
		return "Transient error", o.Banner
	case o.Banner[0] == '5':
		return "Permanent error", o.Banner
	case o.Err != "":
		return "Transient error", o.Err
	}
	return "Success", o.Banner
}
