// Package routing owns exlab's routing decisions, the work of Exchange's categorizer resolver
// and router and of the receive connectors' permission model: which receive connector takes a
// session (local binding, then the most specific RemoteIPRanges), which extended rights a
// session's principal holds on it (PermissionGroups and ADPermissions, spec §2), which accepted
// domain and mailbox an address resolves to (spec §4), and so whether a recipient is submitted,
// relayed or refused. It is pure: no I/O, no SMTP, and it imports only config. Verdicts name
// the replies.tsv row the SMTP side should send; the SMTP side renders it from transport/smtpwire's table.
package routing

import (
	"crypto/subtle"
	"net/netip"
	"sort"
	"strings"

	"github.com/exlab/exlab/config"
)

// Resolver answers routing questions for one organization. It is immutable after New and
// safe for concurrent use.
type Resolver struct {
	org       *config.Organization
	domains   []*config.AcceptedDomain // most specific first
	mailboxes map[string]*config.Mailbox
	def       *config.AcceptedDomain
	// homes and databases are Organization.HomeServer and DatabaseServer worked out once:
	// the categorizer and the frontend ask for every recipient, and a database's default
	// name is formatted from its server's name.
	homes     map[*config.Mailbox]home
	databases map[string]*config.Server // by database name as configured
}

// home is where a mailbox lives: its server and that server's database.
type home struct {
	server   *config.Server
	database string
}

// New indexes org's accepted domains and mailbox addresses.
func New(org *config.Organization) *Resolver {
	r := &Resolver{org: org, mailboxes: map[string]*config.Mailbox{}}
	for i := range org.AcceptedDomains {
		ad := &org.AcceptedDomains[i]
		r.domains = append(r.domains, ad)
		if ad.Default {
			r.def = ad
		}
	}
	// Exact names before wildcards, longer wildcards before shorter ones (spec §4.1 [I]).
	sort.SliceStable(r.domains, func(i, j int) bool {
		a, b := r.domains[i].DomainName, r.domains[j].DomainName
		wa, wb := strings.HasPrefix(a, "*."), strings.HasPrefix(b, "*.")
		if wa != wb {
			return !wa
		}
		return len(a) > len(b)
	})
	for i := range org.Mailboxes {
		mb := &org.Mailboxes[i]
		r.mailboxes[strings.ToLower(mb.PrimarySmtpAddress)] = mb
		for _, a := range mb.EmailAddresses {
			r.mailboxes[strings.ToLower(config.StripProxyPrefix(a))] = mb
		}
	}
	r.databases = map[string]*config.Server{}
	for i := range org.Servers {
		if s := &org.Servers[i]; s.Runs(config.HubTransport) {
			if db := s.MailboxDatabaseName(); r.databases[db] == nil {
				r.databases[db] = s
			}
		}
	}
	r.homes = make(map[*config.Mailbox]home, len(org.Mailboxes))
	for i := range org.Mailboxes {
		mb := &org.Mailboxes[i]
		if s := org.HomeServer(mb); s != nil {
			r.homes[mb] = home{s, s.MailboxDatabaseName()}
		}
	}
	return r
}

// Home is the server mb is homed on and its mailbox database (Organization.HomeServer); nil
// and "" when there is none. mb is a mailbox of the resolver's organization (Resolve, Mailbox).
func (r *Resolver) Home(mb *config.Mailbox) (*config.Server, string) {
	h := r.homes[mb]
	return h.server, h.database
}

// DatabaseServer is the hub whose mailbox database is db (Organization.DatabaseServer), or nil.
func (r *Resolver) DatabaseServer(db string) *config.Server {
	if s := r.databases[db]; s != nil {
		return s
	}
	for name, s := range r.databases {
		if strings.EqualFold(name, db) {
			return s
		}
	}
	return nil
}

// Org returns the organization the resolver was built from.
func (r *Resolver) Org() *config.Organization { return r.org }

// DefaultDomain is the default accepted domain (postmaster@ it sends NDRs).
func (r *Resolver) DefaultDomain() string {
	if r.def == nil {
		return ""
	}
	return r.def.DomainName
}

// AcceptedDomain returns the most specific accepted domain that covers domain, or nil. A
// wildcard *.d covers the subdomains of d; d itself only when MatchSubDomains is set on an
// accepted domain d (spec §4.1).
func (r *Resolver) AcceptedDomain(domain string) *config.AcceptedDomain {
	domain = strings.ToLower(domain)
	for _, ad := range r.domains {
		if ad.Matches(domain) {
			return ad
		}
	}
	return nil
}

// Mailbox returns the mailbox that owns addr (primary or proxy address), or nil.
func (r *Resolver) Mailbox(addr string) *config.Mailbox {
	return r.mailboxes[strings.ToLower(addr)]
}

// Domain returns the domain part of an address, lower-cased.
func Domain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// Verdict is the answer to one MAIL or RCPT: OK, or the replies.tsv row to refuse with.
type Verdict struct {
	OK    bool
	Reply string // replies.tsv id when !OK
}

// Accept is the verdict that lets a command through.
var Accept = Verdict{OK: true}

// Refuse is the verdict that answers with replies.tsv row id.
func Refuse(id string) Verdict { return Verdict{Reply: id} }

// CheckSender applies the Submit right and the sender checks of spec §4.2 at MAIL FROM. user is
// the authenticated mailbox's primary address, or "": an authenticated user without
// ms-Exch-SMTP-Accept-Any-Sender may send only as an address of their own mailbox (R31).
func (r *Resolver) CheckSender(rc *config.ReceiveConnector, rights Rights, version config.ExchangeVersion, user, sender string) Verdict {
	if !rights.Has(Submit) {
		// R29 is the on-premises documentation's text; Exchange 2016/2019 frontends use the
		// 5.7.57 form of Exchange Online (spec §5.3 [D]); hub connectors keep 5.7.1 (spec §3).
		if rc.TransportRole == config.FrontendTransport && version != config.Version2013 {
			return Refuse("R30")
		}
		return Refuse("R29")
	}
	if sender == "" || rights.Has(AcceptAnySender) {
		return Accept
	}
	if user != "" {
		if mb := r.Mailbox(sender); mb != nil && strings.EqualFold(mb.PrimarySmtpAddress, user) {
			return Accept
		}
		return Refuse("R31")
	}
	if ad := r.AcceptedDomain(Domain(sender)); ad != nil && ad.DomainType == config.Authoritative {
		if rights.Has(AcceptAuthoritativeDomainSender) {
			return Accept
		}
		return Refuse("R31")
	}
	return Accept
}

// CheckRecipient decides RCPT TO for a session with rights on rc (spec §4.2): recipients in
// accepted domains are taken (unknown ones in authoritative domains are NDR'd later by the
// categorizer, or refused now when RecipientValidationEnabled stands for the Recipient Filter
// agent); others need ms-Exch-SMTP-Accept-Any-Recipient.
func (r *Resolver) CheckRecipient(rc *config.ReceiveConnector, rights Rights, version config.ExchangeVersion, rcpt string) Verdict {
	dom := Domain(rcpt)
	if v := reservedDomain(rc, dom); !v.OK {
		return v
	}
	ad := r.AcceptedDomain(dom)
	if ad == nil {
		if rights.Has(AcceptAnyRecipient) {
			return Accept
		}
		// R38 is the 2013+ text; R39 ("550 5.7.1 Unable to relay") belongs to 2007/2010 only.
		return Refuse("R38")
	}
	if rc.RecipientValidationEnabled && ad.DomainType == config.Authoritative && *ad.AddressBookEnabled &&
		r.Mailbox(rcpt) == nil && !rights.Has(BypassAntiSpam) {
		return Refuse("R40") // tarpitted by the receive engine, as every 5xx to an anonymous client
	}
	return Accept
}

func reservedDomain(rc *config.ReceiveConnector, dom string) Verdict {
	if rc.RejectSingleLabelRecipientDomains && !strings.Contains(dom, ".") && !strings.HasPrefix(dom, "[") {
		return Refuse("R44")
	}
	if rc.RejectReservedTopLevelRecipientDomains {
		for _, tld := range []string{".test", ".example", ".invalid", ".localhost"} {
			if strings.HasSuffix(dom, tld) || dom == tld[1:] {
				return Refuse("R42")
			}
		}
	}
	if rc.RejectReservedSecondLevelRecipientDomains {
		for _, sld := range []string{"example.com", "example.net", "example.org"} {
			if dom == sld || strings.HasSuffix(dom, "."+sld) {
				return Refuse("R43")
			}
		}
	}
	return Accept
}

// SelectConnector picks, among the enabled connectors that share one local binding, the one
// whose RemoteIPRanges match remote most specifically (spec §3: a client at .75 gets the /32
// connector, at .100 the /24 one). It returns nil when no range matches.
func SelectConnector(conns []*config.ReceiveConnector, remote netip.Addr) *config.ReceiveConnector {
	var best *config.ReceiveConnector
	bestSize := 0.0
	for _, rc := range conns {
		for _, rg := range rc.RemoteIPRanges {
			if !rg.Contains(remote) {
				continue
			}
			if s := rg.Size(); best == nil || s < bestSize {
				best, bestSize = rc, s
			}
		}
	}
	return best
}

// Authenticate checks a lab password (spec: AUTH against Mailboxes). user may be any address of
// the mailbox or its Name; the identity returned is the primary address.
func (r *Resolver) Authenticate(user, password string) (string, bool) {
	mb := r.Mailbox(user)
	if mb == nil {
		for i := range r.org.Mailboxes {
			if strings.EqualFold(r.org.Mailboxes[i].Name, user) {
				mb = &r.org.Mailboxes[i]
			}
		}
	}
	if mb == nil || mb.Password == "" || subtle.ConstantTimeCompare([]byte(mb.Password), []byte(password)) != 1 {
		return "", false
	}
	return mb.PrimarySmtpAddress, true
}

// NTLMAccount finds the mailbox an NTLM AUTHENTICATE message names, and returns its identity
// (the primary address) and lab password, against which the response is checked (NTLM never
// sends the password). user matches as in Authenticate (any address, or the Name); a bare user
// also matches the local part of an address in the domain the client named, by its DNS name or
// its NetBIOS name (the first label upper-cased, CONTOSO for contoso.test), or in the default
// accepted domain when it named none. "DOMAIN\user" in user is split as Windows does.
func (r *Resolver) NTLMAccount(user, domain string) (identity, password string, ok bool) {
	if d, u, found := strings.Cut(user, `\`); found && domain == "" {
		domain, user = d, u
	}
	mb := r.Mailbox(user)
	for i := range r.org.Mailboxes {
		if mb == nil && strings.EqualFold(r.org.Mailboxes[i].Name, user) {
			mb = &r.org.Mailboxes[i]
		}
	}
	if mb == nil && !strings.Contains(user, "@") {
		inDomain := func(d string) bool {
			label, _, _ := strings.Cut(d, ".")
			if domain == "" {
				return strings.EqualFold(d, r.DefaultDomain())
			}
			return strings.EqualFold(d, domain) || strings.EqualFold(label, domain)
		}
		for i := range r.org.Mailboxes {
			m := &r.org.Mailboxes[i]
			for _, a := range append([]string{m.PrimarySmtpAddress}, m.EmailAddresses...) {
				a = config.StripProxyPrefix(a)
				local, d, _ := strings.Cut(a, "@")
				if mb == nil && strings.EqualFold(local, user) && inDomain(d) {
					mb = m
				}
			}
		}
	}
	if mb == nil || mb.Password == "" {
		return "", "", false
	}
	return mb.PrimarySmtpAddress, mb.Password, true
}

// SendConnectorFor picks the send connector for a recipient domain as Exchange's router does:
// among the enabled connectors whose source servers include server (or name none), the most
// specific matching address space wins, then the lowest cost (spec §6.4, New-SendConnector).
func (r *Resolver) SendConnectorFor(server, domain string) *config.SendConnector {
	return r.sendConnector(domain, func(sc *config.SendConnector) bool { return sourceServer(sc, server) })
}

// SendConnectorElsewhere picks, the same way, among the connectors whose source servers do not
// include server: Exchange's router then relays the message to a source server of the chosen
// connector (DeliveryType SmtpRelayToConnectorSourceServers), which sends it out.
func (r *Resolver) SendConnectorElsewhere(server, domain string) *config.SendConnector {
	return r.sendConnector(domain, func(sc *config.SendConnector) bool { return !sourceServer(sc, server) })
}

func (r *Resolver) sendConnector(domain string, usable func(*config.SendConnector) bool) *config.SendConnector {
	var best *config.SendConnector
	bestSpec, bestCost := -1, 0
	for i := range r.org.SendConnectors {
		sc := &r.org.SendConnectors[i]
		if !sc.Enabled || !usable(sc) {
			continue
		}
		for _, a := range sc.AddressSpaces {
			as, err := config.ParseAddressSpace(a)
			if err != nil {
				continue
			}
			spec := as.Matches(domain)
			if spec < 0 {
				continue
			}
			if spec > bestSpec || (spec == bestSpec && as.Cost < bestCost) {
				best, bestSpec, bestCost = sc, spec, as.Cost
			}
		}
	}
	return best
}

func sourceServer(sc *config.SendConnector, server string) bool {
	if len(sc.SourceTransportServers) == 0 {
		return true
	}
	for _, s := range sc.SourceTransportServers {
		if strings.EqualFold(s, server) {
			return true
		}
	}
	return false
}

// Disposition is what the categorizer does with one recipient.
type Disposition int

const (
	// DeliverToMailbox: the recipient is a local mailbox.
	DeliverToMailbox Disposition = iota
	// RecipientNotFound: an authoritative domain without such a mailbox; NDR with R74.
	RecipientNotFound
	// RouteOut: an InternalRelay/ExternalRelay or non-accepted domain; out through a send
	// connector.
	RouteOut
)

// Resolve tells the categorizer what to do with recipient rcpt (spec §4.2 "after acceptance").
func (r *Resolver) Resolve(rcpt string) (Disposition, *config.Mailbox) {
	if mb := r.Mailbox(rcpt); mb != nil {
		ad := r.AcceptedDomain(Domain(rcpt))
		if ad == nil || ad.DomainType != config.ExternalRelay {
			return DeliverToMailbox, mb
		}
	}
	ad := r.AcceptedDomain(Domain(rcpt))
	if ad != nil && ad.DomainType == config.Authoritative {
		return RecipientNotFound, nil
	}
	return RouteOut, nil
}
