package emshell

import (
	"fmt"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
)

// Get-Mailbox's default view: `Name  Alias  ServerName  ProhibitSendQuota` as the Exchange
// Management Shell prints a mailbox, in the fixed widths of its format file (25, 20 and 16
// columns: "Name                      Alias                ServerName       ProhibitSendQuota",
// "SystemMailbox{1f05a927... SystemMailbox{1f0... exchange-1" in captures of real servers,
// e.g. the Get-Mailbox example of Microsoft's "Working with command output" page).
var mailboxView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Name", Width: 25}, {Property: "Alias", Width: 20},
	{Property: "ServerName", Width: 16}, {Property: "ProhibitSendQuota"}}}

const mbType = "Microsoft.Exchange.Data.Directory.Management.Mailbox"

// mailboxAddresses are a mailbox's addresses without their smtp: prefix, the primary first.
func mailboxAddresses(mb *config.Mailbox) []string {
	out := []string{mb.PrimarySmtpAddress}
	for _, a := range mb.EmailAddresses {
		out = append(out, config.StripProxyPrefix(a))
	}
	return out
}

func mailboxAlias(mb *config.Mailbox) string {
	local, _, _ := strings.Cut(mb.PrimarySmtpAddress, "@")
	return local
}

// adDomain is the Active Directory domain of the organization: the domain of the server's FQDN.
func (s *Shell) adDomain(org *config.Organization) string {
	if srv := s.server(org); srv != nil {
		if _, dom, ok := strings.Cut(strings.ToLower(srv.Fqdn), "."); ok {
			return dom
		}
	}
	return ""
}

// mailboxIdentity is a mailbox's Identity as Exchange prints it: its user object's
// canonical name, contoso.test/Users/Name.
func (s *Shell) mailboxIdentity(org *config.Organization, mb *config.Mailbox) string {
	return s.adDomain(org) + "/Users/" + mb.Name
}

// findMailboxes resolves a mailbox Identity as Exchange does: its name, alias, any of its
// addresses (smtp: prefix optional) or its Identity; wildcards on name and alias; "" is all.
func (s *Shell) findMailboxes(org *config.Organization, identity string) []*config.Mailbox {
	id := config.StripProxyPrefix(identity)
	var out []*config.Mailbox
	for i := range org.Mailboxes {
		mb := &org.Mailboxes[i]
		match := id == "" || shell.Like(mb.Name, id) || shell.Like(mailboxAlias(mb), id) || strings.EqualFold(s.mailboxIdentity(org, mb), id)
		for _, a := range mailboxAddresses(mb) {
			match = match || strings.EqualFold(a, id)
		}
		if match {
			out = append(out, mb)
		}
	}
	return out
}

// mailboxObject is a mailbox as Get-Mailbox shows it; the lab password is never shown.
func (s *Shell) mailboxObject(org *config.Organization, mb *config.Mailbox) *shell.Object {
	srv := s.server(org)
	serverName, database := "", ""
	if srv != nil {
		serverName, database = strings.ToLower(srv.Name), srv.MailboxDatabaseName()
	}
	// EmailAddresses as Exchange prints them: SMTP: for the primary, smtp: for the others.
	addrs := []any{"SMTP:" + mb.PrimarySmtpAddress}
	for _, a := range mb.EmailAddresses {
		addrs = append(addrs, "smtp:"+config.StripProxyPrefix(a))
	}
	o := shell.NewObject(mbType,
		"Alias", mailboxAlias(mb), "Database", database, "DisplayName", mb.Name, "EmailAddresses", addrs,
		"IssueWarningQuota", "Unlimited", "ProhibitSendQuota", "Unlimited", "ProhibitSendReceiveQuota", "Unlimited",
		"PrimarySmtpAddress", mb.PrimarySmtpAddress, "RecipientType", "UserMailbox", "RecipientTypeDetails", "UserMailbox",
		"SamAccountName", mb.Name, "ServerName", serverName, "UserPrincipalName", mb.PrimarySmtpAddress,
		"WindowsEmailAddress", mb.PrimarySmtpAddress, "Name", mb.Name, "Identity", s.mailboxIdentity(org, mb))
	o.View = mailboxView
	return o
}

func (s *Shell) mailboxCmdlets() []*shell.Cmdlet {
	const ns = "Microsoft.Exchange.Management.RecipientTasks."
	idParam := shell.Param{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "MailboxIdParameter",
		Help: "the name, alias, an email address or the Identity of the mailbox"}
	mandatoryID := idParam
	mandatoryID.Mandatory = true
	get := &shell.Cmdlet{Name: "Get-Mailbox", Synopsis: "Use the Get-Mailbox cmdlet to view mailbox objects and attributes, populate property pages, or supply mailbox information to other tasks.",
		ClassName: ns + "GetMailbox", View: mailboxView,
		Params: []shell.Param{idParam, {Name: "ResultSize", Type: shell.String, Help: "a number or Unlimited (default 1000)"}},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			id := identityOf(c.Value("Identity"))
			mbs := s.findMailboxes(org, id)
			if len(mbs) == 0 && id != "" && !strings.ContainsAny(id, "*?") {
				return s.notFound(c, id)
			}
			limit, err := s.resultSize(c, 1000)
			if err != nil {
				return err
			}
			for i, mb := range mbs {
				if i >= limit && c.IsSet("ResultSize") {
					c.WriteWarning("There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.")
					break
				}
				if i >= limit {
					c.WriteWarning("By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of items returned. To return all items, specify \"-ResultSize Unlimited\". Be aware that, depending on the actual number of items, returning all items can take a long time and consume a large amount of memory. Also, we don't recommend storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes.")
					break
				}
				c.Write(s.mailboxObject(org, mb))
			}
			return nil
		}}
	newMB := &shell.Cmdlet{Name: "New-Mailbox", Synopsis: "Use the New-Mailbox cmdlet to create mailboxes and user accounts at the same time.",
		ClassName: ns + "NewMailbox", SupportsShouldProcess: true, View: mailboxView,
		Params: []shell.Param{{Name: "Name", Type: shell.String, Position: 1, Mandatory: true},
			{Name: "Password", Type: shell.SecureValue, Mandatory: true, Help: "(ConvertTo-SecureString -String '…' -AsPlainText -Force)"},
			{Name: "Alias", Type: shell.String}, {Name: "PrimarySmtpAddress", Type: shell.String, TypeName: "SmtpAddress"},
			{Name: "UserPrincipalName", Type: shell.String}, {Name: "DisplayName", Type: shell.String},
			{Name: "FirstName", Type: shell.String}, {Name: "LastName", Type: shell.String}},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			name := c.String("Name")
			addr := c.String("PrimarySmtpAddress")
			if addr == "" {
				// The default email address policy: alias@<default accepted domain>; the alias is
				// -Alias, else the UPN's local part, else the name without spaces.
				alias := c.String("Alias")
				if alias == "" {
					alias, _, _ = strings.Cut(c.String("UserPrincipalName"), "@")
				}
				if alias == "" {
					alias = strings.ReplaceAll(name, " ", "")
				}
				addr = alias + "@" + defaultDomain(org)
			}
			if !c.ShouldProcess(name, "Creating mailbox") {
				return nil
			}
			pw := c.Secure("Password")
			if err := s.edit(c, func(d *config.Document) error {
				fields := []config.Field{{Param: "Name", Value: name}, {Param: "PrimarySmtpAddress", Value: addr}, {Param: "Password", Value: pw.Plain()}}
				if upn := c.String("UserPrincipalName"); upn != "" && !strings.EqualFold(upn, addr) {
					fields = append(fields, config.Field{Param: "EmailAddresses", Value: []string{"smtp:" + upn}})
				}
				_, err := d.Add("Mailboxes", fields...)
				return err
			}); err != nil {
				return err
			}
			org, _, err = s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			if mbs := s.findMailboxes(org, addr); len(mbs) == 1 {
				c.Write(s.mailboxObject(org, mbs[0]))
			}
			return nil
		}}
	remove := &shell.Cmdlet{Name: "Remove-Mailbox", Synopsis: "Use the Remove-Mailbox cmdlet to delete mailboxes and the associated user accounts.",
		ClassName: ns + "RemoveMailbox", SupportsShouldProcess: true, HighImpact: true,
		Params: []shell.Param{mandatoryID, {Name: "Permanent", Type: shell.Bool}},
		Process: func(c *shell.Call) error {
			org, _, err := s.org(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			id := identityOf(c.Value("Identity"))
			mbs := s.findMailboxes(org, id)
			if len(mbs) != 1 || strings.ContainsAny(id, "*?") {
				return s.notFound(c, id)
			}
			mb := mbs[0]
			if !c.ShouldProcess(s.mailboxIdentity(org, mb), "Removing mailbox") {
				return nil
			}
			return s.edit(c, func(d *config.Document) error {
				for _, o := range d.Objects("Mailboxes") {
					if v, _ := o.Get("PrimarySmtpAddress"); strings.EqualFold(fmt.Sprint(v), mb.PrimarySmtpAddress) {
						return d.RemoveObject(o)
					}
				}
				return fmt.Errorf("%s is not in the organization file", mb.Name)
			})
		}}
	return []*shell.Cmdlet{get, newMB, remove}
}

// defaultDomain is the organization's default accepted domain.
func defaultDomain(org *config.Organization) string {
	for _, ad := range org.AcceptedDomains {
		if ad.Default {
			return ad.DomainName
		}
	}
	if len(org.AcceptedDomains) > 0 {
		return org.AcceptedDomains[0].DomainName
	}
	return ""
}

// resultSize is a -ResultSize: a number or Unlimited, def when absent.
func (s *Shell) resultSize(c *shell.Call, def int) (int, error) {
	if !c.IsSet("ResultSize") {
		return def, nil
	}
	v := c.String("ResultSize")
	if strings.EqualFold(v, "Unlimited") {
		return int(^uint(0) >> 1), nil
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		rec := shell.NewError(shell.InvalidArgument, "ParameterBindingException", "",
			"Cannot bind parameter 'ResultSize'. Cannot convert value \"%s\" to type \"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]\".", v)
		rec.ErrorID = s.errorID(c, rec.Reason, "1E0B5F2D")
		return 0, rec
	}
	return n, nil
}
