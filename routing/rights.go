package routing

import (
	"strings"

	"github.com/exlab/exlab/config"
)

// Right is one extended right of a receive connector (spec §2.2).
type Right uint32

// Rights is a set of extended rights.
type Rights uint32

// The rights, in the order of config.ExtendedRights (bit i is config.ExtendedRights[i]).
const (
	Submit Right = 1 << iota
	AcceptAnyRecipient
	AcceptAnySender
	AcceptAuthoritativeDomainSender
	AcceptAuthenticationFlag
	AcceptExch50
	AcceptRoutingHeaders
	AcceptOrgHeaders
	AcceptForestHeaders
	BypassAntiSpam
	BypassMessageSizeLimit
	AcceptXProxyFrom
	AcceptXattr
	AcceptXSessionParams
	AcceptXShadow
	AcceptXSysProbe
)

// rightTokens are the tokens Exchange's protocol log writes for the rights in "Set Session
// Permissions" lines (spec §2.2), in the order of config.ExtendedRights: the i-th right is
// bit 1<<i, its AD name config.ExtendedRights[i].
var rightTokens = [len(config.ExtendedRights)]string{
	"SMTPSubmit", "SMTPAcceptAnyRecipient", "SMTPAcceptAnySender", "SMTPAcceptAuthoritativeDomainSender",
	"SMTPAcceptAuthenticationFlag", "SMTPAcceptEXCH50", "AcceptRoutingHeaders", "AcceptOrgHeaders",
	"AcceptForestHeaders", "BypassAntiSpam", "BypassMessageSizeLimit", "SMTPAcceptXProxyFrom",
	"SMTPAcceptXAttr", "SMTPAcceptXSessionParams", "SMTPAcceptXShadow", "SMTPAcceptXSysProbe",
}

// Has says whether the set holds right x.
func (rs Rights) Has(x Right) bool { return rs&Rights(x) != 0 }

// With adds rights.
func (rs Rights) With(xs ...Right) Rights {
	for _, x := range xs {
		rs |= Rights(x)
	}
	return rs
}

// String lists the rights as the protocol log's tokens, e.g.
// "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders".
func (rs Rights) String() string {
	var out []string
	for i, token := range rightTokens {
		if rs.Has(Right(1) << i) {
			out = append(out, token)
		}
	}
	return strings.Join(out, " ")
}

// RightByName maps an AD extended-right name to the right.
func RightByName(name string) (Right, bool) {
	for i, ad := range config.ExtendedRights {
		if strings.EqualFold(ad, name) {
			return Right(1) << i, true
		}
	}
	return 0, false
}

// Principal is who a session acts as on a connector (spec §2.3).
type Principal int

const (
	// Anonymous is NT AUTHORITY\ANONYMOUS LOGON: every session before AUTH.
	Anonymous Principal = iota
	// AuthenticatedUser is NT AUTHORITY\Authenticated Users after AUTH as a mailbox user.
	AuthenticatedUser
	// ExchangeServer is <Domain>\Exchange Servers after X-EXPS.
	ExchangeServer
	// Partner is MS Exchange\Partner Servers (Domain Secure).
	Partner
)

// Principal names as ADPermission User values.
const (
	AnonymousLogon     = `NT AUTHORITY\ANONYMOUS LOGON`
	AuthenticatedUsers = `NT AUTHORITY\Authenticated Users`
	PartnerServers     = `MS Exchange\Partner Servers`
)

var (
	anonymousRights = Rights(0).With(Submit, AcceptAnySender, AcceptAuthoritativeDomainSender, AcceptRoutingHeaders)
	usersRights     = Rights(0).With(Submit, AcceptAnyRecipient, BypassAntiSpam, AcceptRoutingHeaders)
	legacyRights    = Rights(0).With(Submit, AcceptAnyRecipient, AcceptAnySender, AcceptAuthoritativeDomainSender,
		AcceptAuthenticationFlag, AcceptExch50, AcceptRoutingHeaders, BypassAntiSpam, BypassMessageSizeLimit)
	serversRights = legacyRights.With(AcceptOrgHeaders, AcceptForestHeaders, AcceptXProxyFrom, AcceptXattr,
		AcceptXSessionParams, AcceptXShadow, AcceptXSysProbe)
	partnerRights = Rights(0).With(Submit, AcceptRoutingHeaders)
)

// SessionRights returns the rights principal p holds on connector rc: those of the permission
// groups whose principals p is (spec §2.1), plus the connector's ADPermissions for p, minus
// denied ones. With AuthMechanism ExternalAuthoritative every session is an Externally
// Secured Server from the start, which gets the legacy set (no internal X-rights, no
// organization or forest headers).
func SessionRights(rc *config.ReceiveConnector, p Principal, perms []config.ADPermission) Rights {
	var rs Rights
	if rc.HasAuth(config.AuthExternalAuthoritative) && rc.HasGroup(config.ExchangeServers) {
		rs = legacyRights
	}
	switch p {
	case Anonymous:
		if rc.HasGroup(config.AnonymousUsers) {
			rs |= anonymousRights
		}
	case AuthenticatedUser:
		if rc.HasGroup(config.ExchangeUsers) {
			rs |= usersRights
		}
	case ExchangeServer:
		if rc.HasGroup(config.ExchangeServers) {
			rs |= serversRights
		}
		if rc.HasGroup(config.ExchangeLegacyServers) {
			rs |= legacyRights
		}
	case Partner:
		// A Domain Secure session keeps what the connector grants anonymous sessions (exlab's
		// reading [I]: the Partners group adds to a connector, it does not take away).
		if rc.HasGroup(config.Partners) {
			rs |= partnerRights
		}
		if rc.HasGroup(config.AnonymousUsers) {
			rs |= anonymousRights
		}
	}
	user := map[Principal]string{Anonymous: AnonymousLogon, AuthenticatedUser: AuthenticatedUsers, Partner: PartnerServers}[p]
	var deny Rights
	for _, ap := range perms {
		if user == "" || !strings.EqualFold(ap.User, user) || !identityIs(ap.Identity, rc) {
			continue
		}
		for _, name := range ap.ExtendedRights {
			if r, ok := RightByName(name); ok {
				if ap.Deny {
					deny |= Rights(r)
				} else {
					rs |= Rights(r)
				}
			}
		}
	}
	return rs &^ deny
}

func identityIs(id string, rc *config.ReceiveConnector) bool {
	return strings.EqualFold(id, rc.Identity()) || strings.EqualFold(id, rc.Name)
}

// GroupGrant is one principal a connector's PermissionGroups grant rights to, with those
// rights' AD names, as Get-ADPermission lists the connector's access control entries.
type GroupGrant struct {
	User   string
	Rights []string
}

// GroupGrants are the entries rc's PermissionGroups put on the connector (spec §2.1), in
// Exchange's order of the groups. domain is the organization's NetBIOS domain name (CONTOSO),
// which prefixes the Exchange Servers and ExchangeLegacyInterop groups.
func GroupGrants(rc *config.ReceiveConnector, domain string) []GroupGrant {
	names := func(rs Rights) []string {
		var out []string
		for i, ad := range config.ExtendedRights {
			if rs.Has(Right(1) << i) {
				out = append(out, ad)
			}
		}
		return out
	}
	var out []GroupGrant
	if rc.HasGroup(config.AnonymousUsers) {
		out = append(out, GroupGrant{AnonymousLogon, names(anonymousRights)})
	}
	if rc.HasGroup(config.ExchangeUsers) {
		out = append(out, GroupGrant{AuthenticatedUsers, names(usersRights)})
	}
	if rc.HasGroup(config.ExchangeServers) {
		if rc.HasAuth(config.AuthExternalAuthoritative) {
			out = append(out, GroupGrant{`MS Exchange\Externally Secured Servers`, names(legacyRights)})
		}
		for _, u := range []string{domain + `\Exchange Servers`, `MS Exchange\Edge Transport Servers`, `MS Exchange\Hub Transport Servers`} {
			out = append(out, GroupGrant{u, names(serversRights)})
		}
	}
	if rc.HasGroup(config.ExchangeLegacyServers) {
		out = append(out, GroupGrant{domain + `\ExchangeLegacyInterop`, names(legacyRights)})
	}
	if rc.HasGroup(config.Partners) {
		out = append(out, GroupGrant{PartnerServers, names(partnerRights)})
	}
	return out
}
