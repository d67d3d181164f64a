package emshell

import (
	"fmt"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
)

// Get-ReceiveConnector's default view: `Identity  Bindings  Enabled` (spec §11, P365-RELAY).
var receiveConnectorView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Identity"}, {Property: "Bindings"}, {Property: "Enabled"}}}

const rcType = "Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector"

// identityParam is the Identity of a Get-/Set-/Remove- cmdlet: positional, and taken from
// the pipeline (an object's Identity property).
func identityParam(mandatory bool) shell.Param {
	return shell.Param{Name: "Identity", Type: shell.Any, Position: 1, Mandatory: mandatory, FromPipeline: true,
		TypeName: "ReceiveConnectorIdParameter", Help: "SERVER\\Name, or the name alone when it is unique"}
}

// identityOf is the text of an Identity argument: an object from the pipeline gives its
// Identity property.
func identityOf(v any) string {
	if o, ok := v.(*shell.Object); ok {
		if id, ok := o.Get("Identity"); ok {
			return fmt.Sprint(id)
		}
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// findReceiveConnectors resolves an Identity as Exchange does: SERVER\Name, or a name (with
// wildcards) of connectors on any server; "" is every connector.
func findReceiveConnectors(org *config.Organization, identity, server string) []*config.ReceiveConnector {
	var out []*config.ReceiveConnector
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		if server != "" && !strings.EqualFold(rc.Server, server) {
			continue
		}
		switch {
		case identity == "":
		case strings.Contains(identity, `\`):
			if !shell.Like(rc.Identity(), identity) {
				continue
			}
		default:
			if !shell.Like(rc.Name, identity) {
				continue
			}
		}
		out = append(out, rc)
	}
	return out
}

func (s *Shell) receiveConnectorCmdlets() []*shell.Cmdlet {
	params := objectParams("ReceiveConnector", "Name", "Server")
	const ns = "Microsoft.Exchange.Management.SystemConfigurationTasks."
	get := &shell.Cmdlet{Name: "Get-ReceiveConnector", Synopsis: "Use the Get-ReceiveConnector cmdlet to view Receive connectors on Mailbox servers and Edge Transport servers.",
		ClassName: ns + "GetReceiveConnector", View: receiveConnectorView,
		Params: []shell.Param{identityParam(false), {Name: "Server", Type: shell.String, Help: "the server whose connectors to list"}},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			id := identityOf(c.Value("Identity"))
			rcs := findReceiveConnectors(org, id, c.String("Server"))
			if len(rcs) == 0 && id != "" && !strings.ContainsAny(id, "*?") {
				return s.notFound(c, id)
			}
			for _, rc := range rcs {
				c.Write(objectOf(rcType, rc, rc.Identity(), receiveConnectorView))
			}
			return nil
		}}
	// one resolves the Identity of a Set-/Remove- to exactly one connector.
	one := func(c *shell.Call) (*config.ReceiveConnector, *config.Organization, error) {
		org, _, err := s.org(c.Ctx)
		if err != nil {
			return nil, nil, s.failure(c, err)
		}
		id := identityOf(c.Value("Identity"))
		rcs := findReceiveConnectors(org, id, "")
		switch len(rcs) {
		case 0:
			return nil, nil, s.notFound(c, id)
		case 1:
			return rcs[0], org, nil
		}
		rec := shell.NewError(shell.NotSpecified, "ManagementObjectAmbiguousException", "",
			"The operation couldn't be performed because '%s' matches multiple entries.", id)
		rec.ErrorID = s.errorID(c, rec.Reason, "3B8E1D4A")
		return nil, nil, rec
	}
	set := &shell.Cmdlet{Name: "Set-ReceiveConnector", Synopsis: "Use the Set-ReceiveConnector cmdlet to modify Receive connectors on Mailbox servers and Edge Transport servers.",
		ClassName: ns + "SetReceiveConnector", SupportsShouldProcess: true,
		Params: append([]shell.Param{identityParam(true), {Name: "Name", Type: shell.String}}, params...),
		Process: func(c *shell.Call) error {
			rc, _, err := one(c)
			if err != nil {
				return err
			}
			if !c.ShouldProcess(rc.Identity(), "Configuring Receive connector") {
				return nil
			}
			cur := objectOf(rcType, rc, rc.Identity(), nil)
			return s.edit(c, func(d *config.Document) error {
				node := d.Find("ReceiveConnectors", rc.Identity())
				if node == nil {
					return fmt.Errorf("%s is not in the organization file", rc.Identity())
				}
				if c.IsSet("Name") {
					if err := node.Set("Name", c.String("Name")); err != nil {
						return err
					}
				}
				if err := setParams(c, node, params, cur); err != nil {
					return err
				}
				if !d.Changed() {
					c.WriteWarning(fmt.Sprintf("The command completed successfully but no settings of '%s' have been modified.", rc.Identity()))
				}
				return nil
			})
		}}
	newRC := &shell.Cmdlet{Name: "New-ReceiveConnector", Synopsis: "Use the New-ReceiveConnector cmdlet to create Receive connectors on Mailbox servers and Edge Transport servers.",
		ClassName: ns + "NewReceiveConnector", SupportsShouldProcess: true, View: receiveConnectorView,
		Params: append([]shell.Param{{Name: "Name", Type: shell.String, Position: 1, Mandatory: true},
			{Name: "Server", Type: shell.String},
			// -Usage and the usage switches are parameter sets of their own: two of them
			// together is Exchange's "Parameter set cannot be resolved".
			{Name: "Usage", Type: shell.Enum, Values: usages, TypeName: "UsageType", Set: "UsageType"},
			{Name: "Client", Type: shell.Switch, Set: "Client"}, {Name: "Internal", Type: shell.Switch, Set: "Internal"},
			{Name: "Internet", Type: shell.Switch, Set: "Internet"}, {Name: "Partner", Type: shell.Switch, Set: "Partner"},
			{Name: "Custom", Type: shell.Switch, Set: "Custom"}}, params...),
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			server := c.String("Server")
			if server == "" {
				if srv := s.server(org); srv != nil {
					server = srv.Name
				}
			}
			usage := c.String("Usage")
			for _, u := range usages {
				if c.Bool(u) {
					usage = u
				}
			}
			if usage == "" {
				usage = "Custom"
			}
			name := c.String("Name")
			identity := server + `\` + name
			if !c.ShouldProcess(identity, "Creating Receive connector") {
				return nil
			}
			if err := s.edit(c, func(d *config.Document) error {
				fields := []config.Field{{Param: "Name", Value: name}, {Param: "Server", Value: server}}
				// -TransportRole omitted: HubTransport, Exchange's default on a Mailbox server
				// (the seed 001 failure: a custom port-25 connector lands on the hub). Before
				// the CU check the cmdlet said nothing and both services listened on 25
				// ("Incorrectly Adding New Receive Connector Breaks Exchange 2013 Transport",
				// exchangemaster.wordpress.com, 2014-01-24): BindingConflictMode Shared; since
				// then it refuses with ReceiveConnectorRoleConflictException (Practical365):
				// Exclusive, from config's validation.
				if !c.IsSet("TransportRole") {
					fields = append(fields, config.Field{Param: "TransportRole", Value: string(config.HubTransport)})
				}
				for _, f := range usageDefaults[usage] {
					if !c.IsSet(f.Param) {
						fields = append(fields, f)
					}
				}
				node, err := d.Add("ReceiveConnectors", fields...)
				if err != nil {
					return err
				}
				return setParams(c, node, params, nil)
			}); err != nil {
				return err
			}
			org, _, err = s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			if rcs := findReceiveConnectors(org, identity, ""); len(rcs) == 1 {
				c.Write(objectOf(rcType, rcs[0], rcs[0].Identity(), receiveConnectorView))
			}
			return nil
		}}
	remove := &shell.Cmdlet{Name: "Remove-ReceiveConnector", Synopsis: "Use the Remove-ReceiveConnector cmdlet to delete Receive connectors on Mailbox servers and Edge Transport servers.",
		ClassName: ns + "RemoveReceiveConnector", SupportsShouldProcess: true, HighImpact: true,
		Params: []shell.Param{identityParam(true)},
		Process: func(c *shell.Call) error {
			rc, _, err := one(c)
			if err != nil {
				return err
			}
			if !c.ShouldProcess(rc.Identity(), "Removing Receive connector") {
				return nil
			}
			return s.edit(c, func(d *config.Document) error {
				node := d.Find("ReceiveConnectors", rc.Identity())
				if node == nil {
					return fmt.Errorf("%s is not in the organization file", rc.Identity())
				}
				return d.RemoveObject(node)
			})
		}}
	return []*shell.Cmdlet{get, set, newRC, remove}
}

// usages are New-ReceiveConnector's usage types.
var usages = []string{"Client", "Internal", "Internet", "Partner", "Custom"}

// usageDefaults are what each usage type sets when the parameter is not given (New-
// ReceiveConnector's documentation, spec §3): Client listens on 587 for ExchangeUsers,
// Internal on 25 for Exchange servers, Internet on 25 for anyone, Partner for Partners with
// TLS, Custom nothing beyond TLS (its rights come from Add-ADPermission).
var usageDefaults = map[string][]config.Field{
	"Client": {{Param: "Bindings", Value: []string{"[::]:587", "0.0.0.0:587"}}, {Param: "PermissionGroups", Value: []string{"ExchangeUsers"}},
		{Param: "AuthMechanism", Value: []string{"Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"}}},
	"Internal": {{Param: "Bindings", Value: []string{"[::]:25", "0.0.0.0:25"}}, {Param: "PermissionGroups", Value: []string{"ExchangeServers", "ExchangeLegacyServers"}},
		{Param: "AuthMechanism", Value: []string{"Tls", "ExchangeServer"}}},
	"Internet": {{Param: "RemoteIPRanges", Value: []string{"0.0.0.0-255.255.255.255"}}, {Param: "PermissionGroups", Value: []string{"AnonymousUsers"}},
		{Param: "AuthMechanism", Value: []string{"Tls"}}},
	"Partner": {{Param: "PermissionGroups", Value: []string{"Partners"}}, {Param: "AuthMechanism", Value: []string{"Tls"}}},
	"Custom":  {{Param: "AuthMechanism", Value: []string{"Tls"}}},
}
