package emshell

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
)

// The default tables of Get-TransportService and Get-FrontendTransportService. Exchange's
// formatting of these types is not published (spec §11 names no output); these columns are
// exlab's choice [I]: the name and the settings labs change most. `| fl` shows every setting.
var (
	transportServiceView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Name"}, {Property: "MessageTrackingLogEnabled"},
		{Property: "MessageRetryInterval"}, {Property: "MessageExpirationTimeout"}}}
	frontendTransportServiceView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Name"}, {Property: "IntraOrgConnectorProtocolLoggingLevel"},
		{Property: "ReceiveProtocolLogMaxAge"}, {Property: "SendProtocolLogMaxAge"}}}
)

// serviceParams are the parameters of the Server table (config.Objects) that belong to one
// transport service: those whose Ref names its Set- cmdlet, and for the Front End Transport
// service also the protocol-log settings it has of its own in Exchange
// (Set-FrontendTransportService: ReceiveProtocolLog*, SendProtocolLog*; spec §7.1). exlab
// keeps one value of each per server, which both services use.
//
// objectParams cannot build them: its field types (fieldTypes in objects.go) do not include
// Server, so they are typed here from config.Server's fields the same way.
func serviceParams(cmdlet string, protocolLogs bool) []shell.Param {
	t := reflect.TypeOf(config.Server{})
	var out []shell.Param
	for _, o := range config.Objects() {
		if o.Name != "Server" {
			continue
		}
		for _, p := range o.Params {
			if strings.Contains(p.Name, ".") || !(strings.Contains(p.Ref, cmdlet) ||
				(protocolLogs && (strings.HasPrefix(p.Name, "ReceiveProtocolLog") || strings.HasPrefix(p.Name, "SendProtocolLog")))) {
				continue
			}
			f, ok := t.FieldByName(p.Name)
			if !ok {
				continue
			}
			sp := shell.Param{Name: p.Name, Help: p.Doc}
			switch {
			case f.Type.Kind() == reflect.Slice:
				sp.Type, sp.TypeName = shell.MultiValued, "MultiValuedProperty"
			case f.Type.Kind() == reflect.Bool:
				sp.Type = shell.Bool
			case f.Type.Kind() == reflect.Int:
				sp.Type = shell.Int
			case len(p.Values) > 0:
				sp.Type, sp.Values, sp.TypeName = shell.Enum, p.Values, f.Type.Name()
			case f.Type == reflect.TypeOf(config.ByteSize(0)):
				// 100MB reaches the editor as a number, written as Exchange prints a size.
				sp.Type, sp.TypeName = shell.Any, "ByteQuantifiedSize"
			default:
				sp.Type = shell.String
				if f.Type.Name() != "string" {
					sp.TypeName = f.Type.Name()
				}
			}
			out = append(out, sp)
		}
	}
	return out
}

// serviceObject is a server's transport service as Get-TransportService shows it: the
// service's settings (params), alphabetically, then Name and Identity (the server's name).
func serviceObject(typeName string, srv *config.Server, params []shell.Param, view *shell.View) *shell.Object {
	all := objectOf(typeName, srv, srv.Name, nil)
	o := shell.NewObject(typeName)
	o.View = view
	for _, n := range all.Names() {
		if contains([]string{"Name", "Identity"}, n) {
			continue
		}
		for _, p := range params {
			if strings.EqualFold(p.Name, n) {
				v, _ := all.Get(n)
				o.Set(n, v)
			}
		}
	}
	o.Set("Name", srv.Name)
	o.Set("Identity", srv.Name)
	return o
}

func findServers(org *config.Organization, identity string) []*config.Server {
	var out []*config.Server
	for i := range org.Servers {
		srv := &org.Servers[i]
		if identity == "" || shell.Like(srv.Name, identity) || strings.EqualFold(srv.Fqdn, identity) {
			out = append(out, srv)
		}
	}
	return out
}

func (s *Shell) transportServiceCmdlets() []*shell.Cmdlet {
	const ns = "Microsoft.Exchange.Management.SystemConfigurationTasks."
	services := []struct {
		noun, typeName, action string
		role                   config.TransportRole
		params                 []shell.Param
		view                   *shell.View
		getSynopsis, setSyn    string
	}{
		{"TransportService", "Microsoft.Exchange.Data.Directory.Management.TransportServer", "Setting Transport service", config.HubTransport,
			serviceParams("Set-TransportService", false), transportServiceView,
			"Use the Get-TransportService cmdlet to view the settings of the Transport service on Exchange 2013 or later Mailbox servers or Edge Transport servers.",
			"Use the Set-TransportService cmdlet to modify the settings of the Transport service on Exchange 2013 or later Mailbox servers or Edge Transport servers."},
		{"FrontendTransportService", "Microsoft.Exchange.Data.Directory.Management.FrontendTransportServer", "Setting Front End Transport service", config.FrontendTransport,
			serviceParams("Set-FrontendTransportService", true), frontendTransportServiceView,
			"Use the Get-FrontEndTransportService cmdlet to view the configuration of the Front End Transport service on Exchange 2013 or later servers that have the Client Access server role installed.",
			"Use the Set-FrontEndTransportService cmdlet to modify the configuration of the Front End Transport service on Exchange 2013 or later servers that have the Client Access server role installed."},
	}
	var out []*shell.Cmdlet
	for _, sv := range services {
		sv := sv
		idParam := shell.Param{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "ServerIdParameter", Help: "the server's name or FQDN"}
		// servers are the organization's servers that run the service, matching the Identity.
		servers := func(c *shell.Call) ([]*config.Server, error) {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return nil, s.failure(c, err)
			}
			id := identityOf(c.Value("Identity"))
			var out []*config.Server
			for _, srv := range findServers(org, id) {
				for _, r := range srv.Roles {
					if r == sv.role {
						out = append(out, srv)
						break
					}
				}
			}
			if len(out) == 0 && id != "" && !strings.ContainsAny(id, "*?") {
				return nil, s.notFound(c, id)
			}
			return out, nil
		}
		get := &shell.Cmdlet{Name: "Get-" + sv.noun, Synopsis: sv.getSynopsis, ClassName: ns + "Get" + sv.noun, View: sv.view,
			Params: []shell.Param{idParam},
			Process: func(c *shell.Call) error {
				srvs, err := servers(c)
				if err != nil {
					return err
				}
				for _, srv := range srvs {
					c.Write(serviceObject(sv.typeName, srv, sv.params, sv.view))
				}
				return nil
			}}
		mandatoryID := idParam
		mandatoryID.Mandatory = true
		set := &shell.Cmdlet{Name: "Set-" + sv.noun, Synopsis: sv.setSyn, ClassName: ns + "Set" + sv.noun, SupportsShouldProcess: true,
			Params: append([]shell.Param{mandatoryID}, sv.params...),
			Process: func(c *shell.Call) error {
				srvs, err := servers(c)
				if err != nil {
					return err
				}
				if len(srvs) != 1 {
					return s.notFound(c, identityOf(c.Value("Identity")))
				}
				srv := srvs[0]
				if !c.ShouldProcess(srv.Name, sv.action) {
					return nil
				}
				cur := serviceObject(sv.typeName, srv, sv.params, nil)
				return s.edit(c, func(d *config.Document) error {
					node := d.Find("Servers", srv.Name)
					if node == nil {
						return fmt.Errorf("%s is not in the organization file", srv.Name)
					}
					if err := setParams(c, node, sv.params, cur); err != nil {
						return err
					}
					if !d.Changed() {
						c.WriteWarning(fmt.Sprintf("The command completed successfully but no settings of '%s' have been modified.", srv.Name))
					}
					return nil
				})
			}}
		out = append(out, get, set)
	}
	return out
}
