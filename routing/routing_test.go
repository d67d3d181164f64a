package routing

import (
	"net/netip"
	"testing"

	"github.com/exlab/exlab/config"
)

const org = `
Servers:
  - Name: EX01
    Fqdn: ex01.contoso.test
AcceptedDomains:
  - DomainName: contoso.test
    Default: true
  - DomainName: "*.contoso.test"
    DomainType: InternalRelay
  - DomainName: sub.contoso.test
    DomainType: ExternalRelay
  - DomainName: fabrikam.test
    DomainType: InternalRelay
Mailboxes:
  - Name: User One
    PrimarySmtpAddress: user1@contoso.test
    EmailAddresses: [smtp:alias@contoso.test]
  - Name: Fab
    PrimarySmtpAddress: joe@fabrikam.test
ReceiveConnectors:
  - Name: Default Frontend EX01
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:25"]
    AuthMechanism: [Tls, ExchangeServer]
    PermissionGroups: [AnonymousUsers, ExchangeServers]
  - Name: Relay Net
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:25"]
    RemoteIPRanges: ["192.168.1.0-192.168.1.255"]
    PermissionGroups: [AnonymousUsers]
  - Name: Relay Host
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:25"]
    RemoteIPRanges: ["192.168.1.75"]
    AuthMechanism: [Tls, ExternalAuthoritative]
    PermissionGroups: [ExchangeServers]
  - Name: Hub
    TransportRole: HubTransport
    Bindings: ["0.0.0.0:2525"]
    AuthMechanism: [Tls, ExchangeServer]
    PermissionGroups: [ExchangeUsers, ExchangeServers, ExchangeLegacyServers]
    RecipientValidationEnabled: true
  - Name: Partner In
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:2626"]
    DomainSecureEnabled: true
    PermissionGroups: [Partners]
  - Name: Custom Relay
    TransportRole: FrontendTransport
    Bindings: ["0.0.0.0:2727"]
    PermissionGroups: [Custom]
ADPermissions:
  - Identity: EX01\Relay Net
    User: NT AUTHORITY\ANONYMOUS LOGON
    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]
  - Identity: EX01\Partner In
    User: MS Exchange\Partner Servers
    ExtendedRights: [ms-Exch-SMTP-Accept-Any-Recipient]
  - Identity: EX01\Custom Relay
    User: NT AUTHORITY\ANONYMOUS LOGON
    ExtendedRights: [ms-Exch-SMTP-Submit, ms-Exch-SMTP-Accept-Any-Recipient]
`

func load(t *testing.T) (*Resolver, []*config.ReceiveConnector) {
	t.Helper()
	o, err := config.Parse("test.yaml", []byte(org))
	if err != nil {
		t.Fatal(err)
	}
	var rcs []*config.ReceiveConnector
	for i := range o.ReceiveConnectors {
		rcs = append(rcs, &o.ReceiveConnectors[i])
	}
	return New(o), rcs
}

// TestSelectConnector follows MS-RC's example (spec §3): .75 gets the single-address connector,
// .100 the /24 one, anyone else Default Frontend.
func TestSelectConnector(t *testing.T) {
	_, rcs := load(t)
	port25 := rcs[:3]
	for ip, want := range map[string]string{
		"192.168.1.75": "Relay Host", "192.168.1.100": "Relay Net", "203.0.113.9": "Default Frontend EX01",
		"::1": "Default Frontend EX01",
	} {
		if got := SelectConnector(port25, netip.MustParseAddr(ip)); got == nil || got.Name != want {
			t.Errorf("%s → %v, want %s", ip, got, want)
		}
	}
	only := []*config.ReceiveConnector{rcs[2]}
	if got := SelectConnector(only, netip.MustParseAddr("10.0.0.1")); got != nil {
		t.Errorf("a client outside every range got %s", got.Name)
	}
}

func TestSessionRights(t *testing.T) {
	r, rcs := load(t)
	perms := r.Org().ADPermissions
	tests := []struct {
		rc   *config.ReceiveConnector
		p    Principal
		want string
	}{
		{rcs[0], Anonymous, "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"},
		// The anonymous relay, first way of spec §2.4: AnonymousUsers plus the ADPermission.
		{rcs[1], Anonymous, "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"},
		// The second way: ExternalAuthoritative makes every session an Externally Secured Server.
		{rcs[2], Anonymous, "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender SMTPAcceptAuthenticationFlag SMTPAcceptEXCH50 AcceptRoutingHeaders BypassAntiSpam BypassMessageSizeLimit"},
		{rcs[3], Anonymous, ""},
		{rcs[3], AuthenticatedUser, "SMTPSubmit SMTPAcceptAnyRecipient AcceptRoutingHeaders BypassAntiSpam"},
		// Partners: MS Exchange\Partner Servers (a Domain Secure session), plus its ADPermission.
		{rcs[4], Partner, "SMTPSubmit SMTPAcceptAnyRecipient AcceptRoutingHeaders"},
		{rcs[4], Anonymous, ""},
		// Custom: rights come only from ADPermissions (spec §2.1).
		{rcs[5], Anonymous, "SMTPSubmit SMTPAcceptAnyRecipient"},
		{rcs[5], AuthenticatedUser, ""},
		{rcs[5], Partner, ""},
	}
	for _, tt := range tests {
		if got := SessionRights(tt.rc, tt.p, perms).String(); got != tt.want {
			t.Errorf("%s as %d:\n got %s\nwant %s", tt.rc.Name, tt.p, got, tt.want)
		}
	}
	srv := SessionRights(rcs[3], ExchangeServer, perms)
	if !srv.Has(AcceptXProxyFrom) || !srv.Has(AcceptOrgHeaders) || !srv.Has(BypassMessageSizeLimit) {
		t.Errorf("Exchange servers on the hub: %s", srv)
	}
	if SessionRights(rcs[2], Anonymous, perms).Has(AcceptXProxyFrom) {
		t.Error("Externally Secured Servers must not get the internal X-rights (spec §2.1)")
	}
}

func TestCheckRecipientAndSender(t *testing.T) {
	r, rcs := load(t)
	anon := SessionRights(rcs[0], Anonymous, nil)
	relay := SessionRights(rcs[1], Anonymous, r.Org().ADPermissions)
	v := config.Version2019
	tests := []struct {
		rc     *config.ReceiveConnector
		rights Rights
		rcpt   string
		want   string
	}{
		{rcs[0], anon, "user1@contoso.test", ""},
		{rcs[0], anon, "nobody@contoso.test", ""}, // NDR later (spec §4.2)
		{rcs[0], anon, "x@a.contoso.test", ""},    // wildcard InternalRelay
		{rcs[0], anon, "x@fabrikam.test", ""},
		{rcs[0], anon, "x@other.example", "R38"},
		{rcs[0], anon, "x@OTHER.EXAMPLE", "R38"},
		{rcs[0], anon, "x@contoso.test.evil.example", "R38"},
		{rcs[0], anon, "x@evilcontoso.test", "R38"},
		{rcs[0], anon, "x@[192.0.2.1]", "R38"},
		{rcs[1], relay, "x@other.example", ""},
		{rcs[3], SessionRights(rcs[3], ExchangeServer, nil), "nobody@contoso.test", ""}, // bypasses the filter
		{rcs[3], SessionRights(rcs[3], AuthenticatedUser, nil), "nobody@contoso.test", ""},
	}
	for _, tt := range tests {
		got := r.CheckRecipient(tt.rc, tt.rights, v, tt.rcpt)
		if got.Reply != tt.want || got.OK != (tt.want == "") {
			t.Errorf("%s RCPT %s = %+v, want %q", tt.rc.Name, tt.rcpt, got, tt.want)
		}
	}
	filtered := *rcs[0]
	filtered.RecipientValidationEnabled = true
	if got := r.CheckRecipient(&filtered, anon, v, "nobody@contoso.test"); got.Reply != "R40" {
		t.Errorf("recipient filter: %+v", got)
	}
	if got := r.CheckSender(rcs[3], 0, v, "", "a@b.c"); got.Reply != "R29" {
		t.Errorf("anonymous MAIL on the hub: %+v, want R29 (530 5.7.1)", got)
	}
	client := *rcs[0]
	client.PermissionGroups = []config.PermissionGroup{config.ExchangeUsers}
	if got := r.CheckSender(&client, SessionRights(&client, Anonymous, nil), v, "", "a@b.c"); got.Reply != "R30" {
		t.Errorf("anonymous MAIL on a frontend without AnonymousUsers: %+v, want R30", got)
	}
	if got := r.CheckSender(rcs[0], anon, v, "", ""); !got.OK {
		t.Errorf("null sender refused: %+v", got)
	}
	users := SessionRights(rcs[3], AuthenticatedUser, nil)
	if got := r.CheckSender(rcs[3], users, v, "user1@contoso.test", "alias@contoso.test"); !got.OK {
		t.Errorf("sending as one's own proxy address: %+v", got)
	}
	if got := r.CheckSender(rcs[3], users, v, "user1@contoso.test", "joe@fabrikam.test"); got.Reply != "R31" {
		t.Errorf("sending as someone else: %+v, want R31 (550 5.7.60)", got)
	}
	if id, ok := r.Authenticate("ALIAS@contoso.test", ""); ok || id != "" {
		t.Error("a mailbox without a password authenticated")
	}
}

func TestResolve(t *testing.T) {
	r, _ := load(t)
	tests := []struct {
		rcpt string
		want Disposition
	}{
		{"user1@contoso.test", DeliverToMailbox},
		{"ALIAS@contoso.test", DeliverToMailbox},
		{"nobody@contoso.test", RecipientNotFound},
		{"joe@fabrikam.test", DeliverToMailbox},
		{"nobody@fabrikam.test", RouteOut},
		{"x@sub.contoso.test", RouteOut}, // ExternalRelay beats the wildcard
		{"x@other.example", RouteOut},
	}
	for _, tt := range tests {
		if got, _ := r.Resolve(tt.rcpt); got != tt.want {
			t.Errorf("Resolve(%s) = %d, want %d", tt.rcpt, got, tt.want)
		}
	}
	if ad := r.AcceptedDomain("a.b.contoso.test"); ad == nil || ad.DomainName != "*.contoso.test" {
		t.Errorf("wildcard: %+v", ad)
	}
	if r.DefaultDomain() != "contoso.test" {
		t.Errorf("default domain %q", r.DefaultDomain())
	}
}

func TestSendConnectorFor(t *testing.T) {
	o, err := config.Parse("t.yaml", []byte(org+`
SendConnectors:
  - Name: Internet
    AddressSpaces: ["SMTP:*;10"]
    SmartHosts: ["[192.0.2.1]"]
  - Name: Cheap Internet
    AddressSpaces: ["SMTP:*;1"]
    SmartHosts: ["[192.0.2.2]"]
  - Name: Fabrikam subdomains
    AddressSpaces: ["SMTP:*.fabrikam.test;50"]
    SmartHosts: ["[192.0.2.3]"]
  - Name: Other server
    AddressSpaces: ["SMTP:other.example;1"]
    SourceTransportServers: [EX02]
    SmartHosts: ["[192.0.2.4]"]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := New(o)
	for dom, want := range map[string]string{
		"example.net": "Cheap Internet", "a.fabrikam.test": "Fabrikam subdomains", "fabrikam.test": "Cheap Internet",
		"other.example": "Cheap Internet",
	} {
		if got := r.SendConnectorFor("EX01", dom); got == nil || got.Name != want {
			t.Errorf("%s → %v, want %s", dom, got, want)
		}
	}
	for _, bad := range []string{"X400:c=US;1", "SMTP:*;0", "SMTP:bad..name;1"} {
		if _, err := config.ParseAddressSpace(bad); err == nil {
			t.Errorf("ParseAddressSpace(%q) accepted", bad)
		}
	}
}

// TestHome: a mailbox's home is the hub holding its Database (any spelling), else the first
// hub; DatabaseServer finds a hub by its database, the default name included.
func TestHome(t *testing.T) {
	hub := []config.TransportRole{config.HubTransport}
	org := &config.Organization{
		Servers:   []config.Server{{Name: "EX01", Roles: hub}, {Name: "EX02", Roles: hub, MailboxDatabase: "DB02"}},
		Mailboxes: []config.Mailbox{{Name: "a", PrimarySmtpAddress: "a@contoso.test"}, {Name: "b", PrimarySmtpAddress: "b@contoso.test", Database: "db02"}},
	}
	r := New(org)
	def := org.Servers[0].MailboxDatabaseName()
	for _, tc := range []struct {
		mb         *config.Mailbox
		server, db string
	}{{&org.Mailboxes[0], "EX01", def}, {&org.Mailboxes[1], "EX02", "DB02"}} {
		if s, db := r.Home(tc.mb); s == nil || s.Name != tc.server || db != tc.db {
			t.Errorf("Home(%s) = %v, %q; want %s, %q", tc.mb.Name, s, db, tc.server, tc.db)
		}
	}
	for db, want := range map[string]string{"DB02": "EX02", "db02": "EX02", def: "EX01", "DB09": ""} {
		got := ""
		if s := r.DatabaseServer(db); s != nil {
			got = s.Name
		}
		if got != want {
			t.Errorf("DatabaseServer(%q) = %q, want %q", db, got, want)
		}
	}
}
