package emshell

import (
	"fmt"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
)

// Get-SendConnector's default view: `Identity  AddressSpaces  Enabled` (spec §11; the
// format of Exchange's SendConnector type, CSS-SC).
var sendConnectorView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Identity"}, {Property: "AddressSpaces"}, {Property: "Enabled"}}}

const scType = "Microsoft.Exchange.Data.Directory.SystemConfiguration.SmtpSendConnectorConfig"

// sendUsages are New-SendConnector's usage types.
var sendUsages = []string{"Custom", "Internal", "Internet", "Partner"}

// findSendConnectors resolves an Identity: a send connector's Identity is its name (send
// connectors belong to the organization, not to a server); wildcards allowed; "" is all.
func findSendConnectors(org *config.Organization, identity string) []*config.SendConnector {
	var out []*config.SendConnector
	for i := range org.SendConnectors {
		sc := &org.SendConnectors[i]
		if identity == "" || shell.Like(sc.Name, identity) {
			out = append(out, sc)
		}
	}
	return out
}

func (s *Shell) sendConnectorCmdlets() []*shell.Cmdlet {
	// AuthenticationCredential takes a PSCredential and DkimSigning is a nested object: the
	// file keeps them, the cmdlets do not set them.
	params := objectParams("SendConnector", "Name", "AuthenticationCredential", "DkimSigning")
	const ns = "Microsoft.Exchange.Management.SystemConfigurationTasks."
	idParam := shell.Param{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "SendConnectorIdParameter"}
	mandatoryID := idParam
	mandatoryID.Mandatory = true
	show := func(sc *config.SendConnector) *shell.Object {
		all := objectOf(scType, sc, sc.Name, sendConnectorView)
		o := shell.NewObject(scType)
		o.View = sendConnectorView
		for _, n := range all.Names() {
			v, _ := all.Get(n)
			switch n {
			case "DkimSigning":
				continue // exlab's own nested settings; the file shows them
			case "AuthenticationCredential":
				// The password is never shown (Exchange prints a PSCredential's type).
				v = nil
				if sc.AuthenticationCredential.UserName != "" {
					v = "System.Management.Automation.PSCredential"
				}
			}
			o.Set(n, v)
		}
		return o
	}
	one := func(c *shell.Call) (*config.SendConnector, error) {
		org, _, err := s.org(c.Ctx)
		if err != nil {
			return nil, s.failure(c, err)
		}
		id := identityOf(c.Value("Identity"))
		scs := findSendConnectors(org, id)
		switch len(scs) {
		case 0:
			return nil, s.notFound(c, id)
		case 1:
			return scs[0], nil
		}
		rec := shell.NewError(shell.NotSpecified, "ManagementObjectAmbiguousException", "",
			"The operation couldn't be performed because '%s' matches multiple entries.", id)
		rec.ErrorID = s.errorID(c, rec.Reason, "3B8E1D4A")
		return nil, rec
	}
	get := &shell.Cmdlet{Name: "Get-SendConnector", Synopsis: "Use the Get-SendConnector cmdlet to view the settings for a Send connector.",
		ClassName: ns + "GetSendConnector", View: sendConnectorView, Params: []shell.Param{idParam},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			id := identityOf(c.Value("Identity"))
			scs := findSendConnectors(org, id)
			if len(scs) == 0 && id != "" && !strings.ContainsAny(id, "*?") {
				return s.notFound(c, id)
			}
			for _, sc := range scs {
				c.Write(show(sc))
			}
			return nil
		}}
	set := &shell.Cmdlet{Name: "Set-SendConnector", Synopsis: "Use the Set-SendConnector cmdlet to modify a Send connector.",
		ClassName: ns + "SetSendConnector", SupportsShouldProcess: true,
		Params: append([]shell.Param{mandatoryID, {Name: "Name", Type: shell.String}}, params...),
		Process: func(c *shell.Call) error {
			sc, err := one(c)
			if err != nil {
				return err
			}
			if !c.ShouldProcess(sc.Name, "Setting Send connector") {
				return nil
			}
			cur := show(sc)
			return s.edit(c, func(d *config.Document) error {
				node := d.Find("SendConnectors", sc.Name)
				if node == nil {
					return fmt.Errorf("%s is not in the organization file", sc.Name)
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
					c.WriteWarning(fmt.Sprintf("The command completed successfully but no settings of '%s' have been modified.", sc.Name))
				}
				return nil
			})
		}}
	newParams := []shell.Param{{Name: "Name", Type: shell.String, Position: 1, Mandatory: true},
		{Name: "Usage", Type: shell.Enum, Values: sendUsages, TypeName: "UsageType"}}
	// The usage types set the connector's default permissions in Exchange, which exlab does
	// not model; they are taken so that scripts written for Exchange run.
	for _, u := range sendUsages {
		newParams = append(newParams, shell.Param{Name: u, Type: shell.Switch})
	}
	newSC := &shell.Cmdlet{Name: "New-SendConnector", Synopsis: "Use the New-SendConnector cmdlet to create a new Send connector.",
		ClassName: ns + "NewSendConnector", SupportsShouldProcess: true, View: sendConnectorView,
		Params: append(newParams, params...),
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			name := c.String("Name")
			if len(findSendConnectors(org, name)) > 0 && !strings.ContainsAny(name, "*?") {
				// Exchange: the object already exists in Active Directory.
				rec := shell.NewError(shell.NotSpecified, "ADObjectAlreadyExistsException", "",
					"Active Directory operation failed on %s. The object 'CN=%s,CN=Connections,CN=Exchange Routing Group (DWBGZMFD01QNBJR),CN=Routing Groups,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=%s,CN=Microsoft Exchange,CN=Services,CN=Configuration%s' already exists.",
					s.ComputerName, name, org.Organization.Name, domainDN(s.ComputerName))
				rec.ErrorID = s.errorID(c, rec.Reason, "8B6A2C3F")
				return rec
			}
			if !c.ShouldProcess(name, "Creating Send connector") {
				return nil
			}
			if err := s.edit(c, func(d *config.Document) error {
				fields := []config.Field{{Param: "Name", Value: name}}
				// SourceTransportServers omitted: the server the cmdlet runs on, as
				// New-SendConnector on a Mailbox server does.
				if !c.IsSet("SourceTransportServers") {
					if srv := s.server(org); srv != nil {
						fields = append(fields, config.Field{Param: "SourceTransportServers", Value: []string{srv.Name}})
					}
				}
				node, err := d.Add("SendConnectors", fields...)
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
			if scs := findSendConnectors(org, name); len(scs) == 1 {
				c.Write(show(scs[0]))
			}
			return nil
		}}
	remove := &shell.Cmdlet{Name: "Remove-SendConnector", Synopsis: "Use the Remove-SendConnector cmdlet to delete a Send connector.",
		ClassName: ns + "RemoveSendConnector", SupportsShouldProcess: true, HighImpact: true, Params: []shell.Param{mandatoryID},
		Process: func(c *shell.Call) error {
			sc, err := one(c)
			if err != nil {
				return err
			}
			if !c.ShouldProcess(sc.Name, "Removing Send connector") {
				return nil
			}
			return s.edit(c, func(d *config.Document) error {
				if !d.Remove("SendConnectors", sc.Name) {
					return fmt.Errorf("%s is not in the organization file", sc.Name)
				}
				return nil
			})
		}}
	return []*shell.Cmdlet{get, set, newSC, remove}
}

// domainDN is the DC= part of a distinguished name in the domain of fqdn: ",DC=contoso,DC=test".
func domainDN(fqdn string) string {
	_, dom, ok := strings.Cut(fqdn, ".")
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(dom, ".") {
		b.WriteString(",DC=" + l)
	}
	return b.String()
}
