package emshell

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

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
					status, details := probeSMTP(ep)
					c.Write(shell.NewObject("Microsoft.Exchange.Monitoring.SmtpConnectivityStatus", "Server", srv.Name,
						"ReceiveConnector", rc.Name, "Binding", b.String(), "EndPoint", ep, "StatusCode", status, "Details", details))
				}
			}
			return nil
		}}
}

// probeSMTP opens a session: the banner, EHLO, QUIT. The status is Test-SmtpConnectivity's:
// Success, Unable to connect, Transient error (4xx), Permanent error (5xx), External error.
func probeSMTP(ep string) (status, details string) {
	conn, err := net.DialTimeout("tcp", ep, 5*time.Second)
	if err != nil {
		return "Unable to connect", err.Error()
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	banner, err := readReply(br)
	if err != nil {
		return "External error", "the connection was closed without a banner: " + err.Error()
	}
	switch banner[0] {
	case '4':
		return "Transient error", banner
	case '5':
		return "Permanent error", banner
	}
	fmt.Fprintf(conn, "EHLO exlab-test-smtpconnectivity\r\n")
	if ehlo, err := readReply(br); err != nil || ehlo[0] != '2' {
		return "Transient error", "EHLO: " + ehlo + errText(err)
	}
	fmt.Fprintf(conn, "QUIT\r\n")
	_, _ = readReply(br)
	return "Success", banner
}

// readReply reads one SMTP reply, the lines of a multi-line reply joined by spaces.
func readReply(br *bufio.Reader) (string, error) {
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return strings.Join(lines, " "), err
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			if len(l) < 3 {
				return strings.Join(lines, " "), fmt.Errorf("not a reply: %q", l)
			}
			if _, err := strconv.Atoi(l[:3]); err != nil {
				return strings.Join(lines, " "), fmt.Errorf("not a reply: %q", l)
			}
			return strings.Join(lines, " "), nil
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
