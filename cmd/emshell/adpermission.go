package emshell

import (
	"fmt"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
)

// Get-ADPermission's default view: `Identity  User  Deny  Inherited` (the ADAcePresentationObject
// table of the Exchange Management Shell; spec §11, QA-RELAY) in its fixed widths 20, 20 and 5,
// as a real server prints Add-ADPermission's result:
//
//	Identity             User                 Deny  Inherited
//	--------             ----                 ----  ---------
//	Mailbox Database ... EXC10\inter6         False False
var adPermissionView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Identity", Width: 20}, {Property: "User", Width: 20},
	{Property: "Deny", Width: 5}, {Label: "Inherited", Property: "IsInherited"}}}

const aceType = "Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject"

// aceObject is one access control entry of a connector: one extended right of one user, as
// Exchange lists them (one row per right, QA-RELAY: `NT AUTHORITY\ANONYMOUS LOGON
// {ms-Exch-SMTP-Accept-Any-Recipient}`).
func aceObject(identity, user, right string, deny bool) *shell.Object {
	o := shell.NewObject(aceType,
		"AccessRights", []any{"ExtendedRight"}, "ExtendedRights", []any{right}, "ChildObjectTypes", nil, "InheritedObjectType", nil,
		"Properties", nil, "IsValid", true, "Deny", deny, "InheritanceType", "All", "User", user, "Identity", identity, "IsInherited", false)
	o.View = adPermissionView
	return o
}

// canonicalRight is an extended right in config.ExtendedRights' spelling; ok false for one a
// receive connector does not have.
func canonicalRight(r string) (string, bool) {
	for _, x := range config.ExtendedRights {
		if strings.EqualFold(x, r) {
			return x, true
		}
	}
	return r, false
}

// permissionOn says whether an ADPermissions entry is on connector rc (SERVER\Name, or the name).
func permissionOn(ap *config.ADPermission, rc *config.ReceiveConnector) bool {
	return strings.EqualFold(ap.Identity, rc.Identity()) || strings.EqualFold(ap.Identity, rc.Name)
}

func (s *Shell) adPermissionCmdlets() []*shell.Cmdlet {
	const ns = "Microsoft.Exchange.Management.RecipientTasks."
	idParam := shell.Param{Name: "Identity", Type: shell.Any, Position: 1, Mandatory: true, FromPipeline: true, TypeName: "ADRawEntryIdParameter",
		Help: "the receive connector (SERVER\\Name, or the name alone when it is unique)"}
	// connector resolves the Identity to exactly one receive connector.
	connector := func(c *shell.Call) (*config.ReceiveConnector, *config.Organization, error) {
		org, _, err := s.org(c.Ctx)
		if err != nil {
			return nil, nil, s.failure(c, err)
		}
		id := identityOf(c.Value("Identity"))
		rcs := findReceiveConnectors(org, id, "")
		if len(rcs) != 1 {
			return nil, nil, s.notFound(c, id)
		}
		return rcs[0], org, nil
	}
	get := &shell.Cmdlet{Name: "Get-ADPermission", Synopsis: "Use the Get-ADPermission cmdlet to get permissions on an Active Directory object.",
		ClassName: ns + "GetADPermission", View: adPermissionView,
		Params: []shell.Param{idParam, {Name: "User", Type: shell.String, TypeName: "SecurityPrincipalIdParameter"}},
		Process: func(c *shell.Call) error {
			rc, org, err := connector(c)
			if err != nil {
				return err
			}
			user := c.String("User")
			// What the PermissionGroups grant comes first, as entries on the connector itself
			// (not inherited): Exchange writes them when the groups are set (spec §2.1).
			for _, g := range routing.GroupGrants(rc, s.netbiosDomain(org)) {
				if user != "" && !strings.EqualFold(g.User, user) {
					continue
				}
				for _, r := range g.Rights {
					c.Write(aceObject(rc.Identity(), g.User, r, false))
				}
			}
			for i := range org.ADPermissions {
				ap := &org.ADPermissions[i]
				if !permissionOn(ap, rc) || (user != "" && !strings.EqualFold(ap.User, user)) {
					continue
				}
				for _, r := range ap.ExtendedRights {
					c.Write(aceObject(rc.Identity(), ap.User, r, ap.Deny))
				}
			}
			return nil
		}}
	rightsParams := []shell.Param{idParam, {Name: "User", Type: shell.String, Mandatory: true, TypeName: "SecurityPrincipalIdParameter"},
		{Name: "ExtendedRights", Type: shell.Strings, TypeName: "ExtendedRightIdParameter[]"},
		// GenericAll holds every extended right of the object, as in Active Directory.
		{Name: "AccessRights", Type: shell.Enum, Values: []string{"ExtendedRight", "GenericAll"}, TypeName: "ActiveDirectoryRights[]"},
		{Name: "Deny", Type: shell.Switch}}
	// rightsOf are the rights a call names, in config's spelling (an unknown one as typed, for
	// the validation to refuse).
	rightsOf := func(c *shell.Call) []string {
		if strings.EqualFold(c.String("AccessRights"), "GenericAll") && !c.IsSet("ExtendedRights") {
			return append([]string(nil), config.ExtendedRights[:]...)
		}
		var out []string
		for _, r := range c.Strings("ExtendedRights") {
			cr, _ := canonicalRight(r)
			out = append(out, cr)
		}
		return out
	}
	add := &shell.Cmdlet{Name: "Add-ADPermission", Synopsis: "Use the Add-ADPermission cmdlet to add permissions to an Active Directory object.",
		ClassName: ns + "AddADPermission", SupportsShouldProcess: true, View: adPermissionView, Params: rightsParams,
		Process: func(c *shell.Call) error {
			rc, org, err := connector(c)
			if err != nil {
				return err
			}
			user, deny := c.String("User"), c.Bool("Deny")
			rights := rightsOf(c)
			if len(rights) == 0 {
				rec := shell.NewError(shell.InvalidArgument, "ArgumentException", "",
					"You must specify either the AccessRights or the ExtendedRights parameter.")
				rec.ErrorID = s.errorID(c, rec.Reason, "4C7D2E91")
				return rec
			}
			// Rights the user already holds the same way are not added twice.
			var fresh []string
			for _, r := range rights {
				held := false
				for i := range org.ADPermissions {
					ap := &org.ADPermissions[i]
					if permissionOn(ap, rc) && strings.EqualFold(ap.User, user) && ap.Deny == deny && contains(ap.ExtendedRights, r) {
						held = true
					}
				}
				if !held && !contains(fresh, r) {
					fresh = append(fresh, r)
				}
			}
			if !c.ShouldProcess(rc.Identity(), fmt.Sprintf("Adding Active Directory permission for user \"%s\"", user)) {
				return nil
			}
			if len(fresh) > 0 {
				if err := s.edit(c, func(d *config.Document) error {
					fields := []config.Field{{Param: "Identity", Value: rc.Identity()}, {Param: "User", Value: user}, {Param: "ExtendedRights", Value: fresh}}
					if deny {
						fields = append(fields, config.Field{Param: "Deny", Value: true})
					}
					_, err := d.Add("ADPermissions", fields...)
					return err
				}); err != nil {
					return err
				}
			}
			for _, r := range rights {
				c.Write(aceObject(rc.Identity(), user, r, deny))
			}
			return nil
		}}
	// Remove- takes the user from an entry piped in from Get-ADPermission too.
	removeParams := append([]shell.Param(nil), rightsParams...)
	removeParams[1].Mandatory = false
	remove := &shell.Cmdlet{Name: "Remove-ADPermission", Synopsis: "Use the Remove-ADPermission cmdlet to remove permissions from an Active Directory object.",
		ClassName: ns + "RemoveADPermission", SupportsShouldProcess: true, HighImpact: true, Params: removeParams,
		Process: func(c *shell.Call) error {
			rc, org, err := connector(c)
			if err != nil {
				return err
			}
			user, deny, rights := c.String("User"), c.Bool("Deny"), rightsOf(c)
			// An entry from Get-ADPermission names its user, right and Deny itself.
			if o, ok := c.Value("Identity").(*shell.Object); ok && o.TypeName == aceType {
				if v, ok := o.Get("User"); ok && !c.IsSet("User") {
					user = fmt.Sprint(v)
				}
				if v, ok := o.Get("Deny"); ok && !c.IsSet("Deny") {
					deny = v == true
				}
				if v, ok := o.Get("ExtendedRights"); ok && len(rights) == 0 {
					rights = strs(v)
				}
			}
			if user == "" {
				rec := shell.NewError(shell.InvalidArgument, "ParameterBindingException", "",
					"Cannot process command because of one or more missing mandatory parameters: User.")
				rec.ErrorID = s.errorID(c, rec.Reason, "7A3C5E08")
				return rec
			}
			matched := false
			for i := range org.ADPermissions {
				ap := &org.ADPermissions[i]
				if permissionOn(ap, rc) && strings.EqualFold(ap.User, user) && ap.Deny == deny {
					for _, r := range ap.ExtendedRights {
						matched = matched || len(rights) == 0 || contains(rights, r)
					}
				}
			}
			if !matched {
				c.WriteWarning(fmt.Sprintf("The command completed successfully but no settings of '%s' have been modified.", rc.Identity()))
				return nil
			}
			if !c.ShouldProcess(rc.Identity(), fmt.Sprintf("Removing Active Directory permission for user \"%s\"", user)) {
				return nil
			}
			return s.edit(c, func(d *config.Document) error {
				for _, o := range d.Objects("ADPermissions") {
					id, _ := o.Get("Identity")
					u, _ := o.Get("User")
					dv, _ := o.Get("Deny")
					ap := config.ADPermission{Identity: fmt.Sprint(id), User: fmt.Sprint(u)}
					if !permissionOn(&ap, rc) || !strings.EqualFold(ap.User, user) || strings.EqualFold(fmt.Sprint(dv), "true") != deny {
						continue
					}
					cur, _ := o.Get("ExtendedRights")
					var keep []string
					for _, r := range toStrings(cur) {
						if len(rights) > 0 && !contains(rights, r) {
							keep = append(keep, r)
						}
					}
					if len(keep) == 0 {
						if err := d.RemoveObject(o); err != nil {
							return err
						}
					} else if len(keep) < len(toStrings(cur)) {
						if err := o.Set("ExtendedRights", keep); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}}
	return []*shell.Cmdlet{get, add, remove}
}

// toStrings is a value of ObjectNode.Get as a list: a list, or one scalar.
func toStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case string:
		if x == "" {
			return nil
		}
		var out []string
		for _, p := range strings.Split(x, ",") {
			out = append(out, strings.TrimSpace(p))
		}
		return out
	}
	return nil
}

// netbiosDomain is the Active Directory domain's NetBIOS name as Exchange's group names carry
// it (CONTOSO\Exchange Servers): the first label of adDomain, upper case.
func (s *Shell) netbiosDomain(org *config.Organization) string {
	label, _, _ := strings.Cut(s.adDomain(org), ".")
	return strings.ToUpper(label)
}
