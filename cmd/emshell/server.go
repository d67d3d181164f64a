package emshell

import (
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
)

func (s *Shell) serverCmdlets() []*shell.Cmdlet {
	getServer := &shell.Cmdlet{Name: "Get-ExchangeServer", Synopsis: "Use the Get-ExchangeServer cmdlet to view the attributes of Exchange servers in your organization.",
		ClassName: "Microsoft.Exchange.Management.SystemConfigurationTasks.GetExchangeServer",
		View:      &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Name"}, {Property: "Site"}, {Property: "ServerRole"}, {Property: "Edition"}, {Property: "AdminDisplayVersion"}}},
		Params:    []shell.Param{{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "ServerIdParameter"}},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			id := identityOf(c.Value("Identity"))
			srvs := findServers(org, id)
			for _, srv := range srvs {
				var roles []any
				for _, r := range srv.Roles {
					roles = append(roles, string(r))
				}
				role := "Mailbox"
				if len(srv.Roles) == 1 && srv.Roles[0] == config.FrontendTransport {
					role = "ClientAccess"
				}
				o := shell.NewObject("Microsoft.Exchange.Data.Directory.Management.ExchangeServer", "Name", srv.Name,
					"Site", s.adDomain(org)+"/Configuration/Sites/Default-First-Site-Name", "ServerRole", role, "Edition", "StandardEvaluation",
					"AdminDisplayVersion", adminDisplayVersion[srv.Version], "Fqdn", srv.Fqdn, "TransportRoles", roles,
					"BindingConflictMode", string(srv.BindingConflictMode), "Identity", srv.Name)
				c.Write(o)
			}
			if len(srvs) == 0 && id != "" {
				return s.notFound(c, id)
			}
			return nil
		}}
	stateView := &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Server"}, {Property: "Component"}, {Property: "State"}}}
	getState := &shell.Cmdlet{Name: "Get-ServerComponentState", Synopsis: "Use the Get-ServerComponentState cmdlet to return configuration settings for Exchange server components.",
		ClassName: "Microsoft.Exchange.Management.SystemConfigurationTasks.GetServerComponentState", View: stateView,
		Params: []shell.Param{{Name: "Identity", Type: shell.String, Position: 1, Mandatory: true, TypeName: "ServerIdParameter"}, {Name: "Component", Type: shell.String}},
		Process: func(c *shell.Call) error {
			st, err := s.b.Maintenance()
			if err != nil {
				return s.failure(c, err)
			}
			if comp := c.String("Component"); comp != "" && !strings.EqualFold(comp, st.Component) {
				return nil
			}
			c.Write(shell.NewObject("Microsoft.Exchange.Data.Directory.Management.ServerComponentStatePresentationObject",
				"Server", s.ComputerName, "Component", st.Component, "State", st.State))
			return nil
		}}
	setState := &shell.Cmdlet{Name: "Set-ServerComponentState", Synopsis: "Use the Set-ServerComponentState cmdlet to configure settings for Exchange server components.",
		ClassName: "Microsoft.Exchange.Management.SystemConfigurationTasks.SetServerComponentState", SupportsShouldProcess: true,
		Params: []shell.Param{{Name: "Identity", Type: shell.String, Position: 1, Mandatory: true, TypeName: "ServerIdParameter"},
			{Name: "Component", Type: shell.String, Mandatory: true}, {Name: "State", Type: shell.Enum, Values: []string{"Active", "Inactive", "Draining"}, Mandatory: true},
			{Name: "Requester", Type: shell.Enum, Values: []string{"HealthAPI", "Maintenance", "Sidelined", "Functional", "Deployment"}, Mandatory: true}},
		Process: func(c *shell.Call) error {
			if !strings.EqualFold(c.String("Component"), "HubTransport") && !strings.EqualFold(c.String("Component"), "ServerWideOffline") {
				rec := shell.NewError(shell.InvalidArgument, "ArgumentException", "", "exlab emulates the transport components only: HubTransport and ServerWideOffline, not '%s'.", c.String("Component"))
				rec.ErrorID = s.errorID(c, rec.Reason, "5E2F7A90")
				return rec
			}
			if !c.ShouldProcess(c.String("Identity"), "Setting server component state") {
				return nil
			}
			if _, err := s.b.SetMaintenance(!strings.EqualFold(c.String("State"), "Active")); err != nil {
				return s.failure(c, err)
			}
			return nil
		}}
	return []*shell.Cmdlet{getServer, getState, setState}
}

// adminDisplayVersion is Get-ExchangeServer's version string of each release (the builds of
// the banner, spec §5.1).
var adminDisplayVersion = map[config.ExchangeVersion]string{
	config.Version2013: "Version 15.0 (Build 1497.2)", config.Version2016: "Version 15.1 (Build 2507.6)", config.Version2019: "Version 15.2 (Build 1544.9)",
}
