package emshell

import (
	"fmt"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
)

// Get-AcceptedDomain's default view: `Name  DomainName  DomainType  Default` (spec §11 [O]).
var acceptedDomainView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Name"}, {Property: "DomainName"}, {Property: "DomainType"}, {Property: "Default"}}}

const adType = "Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain"

func findAcceptedDomains(org *config.Organization, identity string) []*config.AcceptedDomain {
	var out []*config.AcceptedDomain
	for i := range org.AcceptedDomains {
		ad := &org.AcceptedDomains[i]
		if identity == "" || shell.Like(ad.Name, identity) || strings.EqualFold(ad.DomainName, identity) {
			out = append(out, ad)
		}
	}
	return out
}

func (s *Shell) acceptedDomainCmdlets() []*shell.Cmdlet {
	params := objectParams("AcceptedDomain", "Name", "DomainName")
	const ns = "Microsoft.Exchange.Management.SystemConfigurationTasks."
	idParam := shell.Param{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "AcceptedDomainIdParameter"}
	show := func(ad *config.AcceptedDomain) *shell.Object {
		return objectOf(adType, ad, ad.Name, acceptedDomainView)
	}
	one := func(c *shell.Call) (*config.AcceptedDomain, error) {
		org, _, err := s.org(c.Ctx)
		if err != nil {
			return nil, s.failure(c, err)
		}
		id := identityOf(c.Value("Identity"))
		ads := findAcceptedDomains(org, id)
		if len(ads) != 1 {
			return nil, s.notFound(c, id)
		}
		return ads[0], nil
	}
	get := &shell.Cmdlet{Name: "Get-AcceptedDomain", Synopsis: "Use the Get-AcceptedDomain cmdlet to view the configuration information for the accepted domains in your organization.",
		ClassName: ns + "GetAcceptedDomain", View: acceptedDomainView, Params: []shell.Param{idParam},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			id := identityOf(c.Value("Identity"))
			ads := findAcceptedDomains(org, id)
			if len(ads) == 0 && id != "" && !strings.ContainsAny(id, "*?") {
				return s.notFound(c, id)
			}
			for _, ad := range ads {
				c.Write(show(ad))
			}
			return nil
		}}
	mandatoryID := idParam
	mandatoryID.Mandatory = true
	set := &shell.Cmdlet{Name: "Set-AcceptedDomain", Synopsis: "Use the Set-AcceptedDomain cmdlet to modify existing accepted domains in your organization.",
		ClassName: ns + "SetAcceptedDomain", SupportsShouldProcess: true,
		Params: append([]shell.Param{mandatoryID, {Name: "Name", Type: shell.String}, {Name: "MakeDefault", Type: shell.Bool}}, params...),
		Process: func(c *shell.Call) error {
			ad, err := one(c)
			if err != nil {
				return err
			}
			if !c.ShouldProcess(ad.Name, "Setting accepted domain") {
				return nil
			}
			cur := show(ad)
			return s.edit(c, func(d *config.Document) error {
				if c.IsSet("MakeDefault") && c.Bool("MakeDefault") {
					// One default domain: the others lose it, as Exchange's -MakeDefault does.
					for _, o := range d.Objects("AcceptedDomains") {
						if !strings.EqualFold(o.Name(), ad.Name) {
							if v, ok := o.Get("Default"); ok && strings.EqualFold(fmt.Sprint(v), "true") {
								if err := o.Set("Default", nil); err != nil {
									return err
								}
							}
						}
					}
					if err := d.Find("AcceptedDomains", ad.Name).Set("Default", true); err != nil {
						return err
					}
				}
				node := d.Find("AcceptedDomains", ad.Name)
				if c.IsSet("Name") {
					if err := node.Set("Name", c.String("Name")); err != nil {
						return err
					}
				}
				return setParams(c, node, params, cur, "Default")
			})
		}}
	newAD := &shell.Cmdlet{Name: "New-AcceptedDomain", Synopsis: "Use the New-AcceptedDomain cmdlet to create accepted domains in your organization.",
		ClassName: ns + "NewAcceptedDomain", SupportsShouldProcess: true, View: acceptedDomainView,
		Params: append([]shell.Param{{Name: "Name", Type: shell.String, Position: 1, Mandatory: true},
			{Name: "DomainName", Type: shell.String, Mandatory: true, TypeName: "SmtpDomainWithSubdomains"}}, params...),
		Process: func(c *shell.Call) error {
			name := c.String("Name")
			if !c.ShouldProcess(name, "Creating accepted domain") {
				return nil
			}
			if err := s.edit(c, func(d *config.Document) error {
				dt := c.String("DomainType")
				if dt == "" {
					dt = string(config.Authoritative)
				}
				node, err := d.Add("AcceptedDomains", config.Field{Param: "Name", Value: name}, config.Field{Param: "DomainName", Value: c.String("DomainName")},
					config.Field{Param: "DomainType", Value: dt})
				if err != nil {
					return err
				}
				return setParams(c, node, params, nil, "DomainType")
			}); err != nil {
				return err
			}
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			if ads := findAcceptedDomains(org, name); len(ads) == 1 {
				c.Write(show(ads[0]))
			}
			return nil
		}}
	remove := &shell.Cmdlet{Name: "Remove-AcceptedDomain", Synopsis: "Use the Remove-AcceptedDomain cmdlet to remove an accepted domain.",
		ClassName: ns + "RemoveAcceptedDomain", SupportsShouldProcess: true, HighImpact: true, Params: []shell.Param{mandatoryID},
		Process: func(c *shell.Call) error {
			ad, err := one(c)
			if err != nil {
				return err
			}
			if !c.ShouldProcess(ad.Name, "Removing accepted domain") {
				return nil
			}
			return s.edit(c, func(d *config.Document) error {
				if !d.Remove("AcceptedDomains", ad.Name) {
					return fmt.Errorf("%s is not in the organization file", ad.Name)
				}
				return nil
			})
		}}
	return []*shell.Cmdlet{get, set, newAD, remove}
}
