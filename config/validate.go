package config

import (
	"fmt"
	"net/mail"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
)

// Exchange's own error texts for binding conflicts (spec §3). The role conflict is
// ReceiveConnectorRoleConflictException as quoted by P365-CONF; the second sentence of the
// same-role text is exlab's wording for a message that is not public (spec §3 [I]).
const (
	RoleConflictText = `Microsoft.Exchange.Management.SystemConfigurationTasks.ReceiveConnectorRoleConflictException: ` +
		`The values that you specified for the Bindings and RemoteIPRanges parameters conflict with the settings on Receive connector "%s". ` +
		`Receive connectors assigned to different Transport roles on a single server must listen on unique local IP address & port bindings.`
	BindingConflictText = `The values that you specified for the Bindings and RemoteIPRanges parameters conflict with the settings on Receive connector "%s". ` +
		`A Receive connector must have a unique combination of a local IP address & port bindings and remote IP address ranges.`
)

type checker struct {
	o *Organization
	d *decoder
}

func (c checker) fail(path, format string, args ...any) {
	c.d.problems = append(c.d.problems, Problem{File: c.o.File, Line: c.o.Line(path), Field: path, Message: fmt.Sprintf(format, args...)})
}

// validate reports every problem of a filled organization (STYLE §5: fill defaults, then
// validate, reporting all problems with file, line and field).
func (o *Organization) validate(d *decoder) {
	c := checker{o: o, d: d}
	for i := range o.Faults {
		p := fmt.Sprintf("Faults[%d]", i)
		o.Faults[i].Check(o, func(field, format string, args ...any) { c.fail(p+"."+field, format, args...) })
	}
	objectTable(reflect.TypeOf(o.ServerComponentState)).checkParams(c, "ServerComponentState", reflect.ValueOf(o.ServerComponentState))
	if len(o.Servers) == 0 {
		c.fail("Servers", "at least one server is needed")
	}
	names := map[string]bool{}
	for i, s := range o.Servers {
		p := fmt.Sprintf("Servers[%d]", i)
		if s.Name == "" {
			c.fail(p+".Name", "%v", errEmpty)
		} else if names[strings.ToLower(s.Name)] {
			c.fail(p+".Name", "a server named %q is already defined", s.Name)
		}
		names[strings.ToLower(s.Name)] = true
		if !validDomain(s.Fqdn) {
			c.fail(p+".Fqdn", "%q is not a fully qualified domain name", s.Fqdn)
		}
		objectTable(reflect.TypeOf(s)).checkParams(c, p, reflect.ValueOf(s))
		objectTable(reflect.TypeOf(s.BackPressure)).checkParams(c, p+".BackPressure", reflect.ValueOf(s.BackPressure))
		for _, t := range []struct {
			name string
			v    PressureThresholds
		}{{"UsedDiskSpace", s.BackPressure.UsedDiskSpace}, {"QueueLength", s.BackPressure.QueueLength}} {
			if !(t.v.MediumToLow <= t.v.LowToMedium && t.v.LowToMedium <= t.v.HighToMedium && t.v.HighToMedium <= t.v.MediumToHigh) {
				c.fail(p+".BackPressure."+t.name, "the thresholds must satisfy MediumToLow <= LowToMedium <= HighToMedium <= MediumToHigh")
			}
		}
		if s.IPAddress != "" {
			if _, err := netip.ParseAddr(s.IPAddress); err != nil {
				c.fail(p+".IPAddress", "%q is not an IP address", s.IPAddress)
			}
		}
		for j, d := range s.ExternalDNSServers {
			if _, err := netip.ParseAddr(strings.Trim(d, "[]")); err != nil {
				if _, err := netip.ParseAddrPort(d); err != nil {
					c.fail(fmt.Sprintf("%s.ExternalDNSServers[%d]", p, j), "%q is not an IP address (or ip:port)", d)
				}
			}
		}
	}

	defaults := 0
	domains := map[string]bool{}
	for i, ad := range o.AcceptedDomains {
		p := fmt.Sprintf("AcceptedDomains[%d]", i)
		name := strings.ToLower(ad.DomainName)
		if !validDomain(strings.TrimPrefix(name, "*.")) || strings.Contains(strings.TrimPrefix(name, "*."), "*") {
			c.fail(p+".DomainName", "%q is not a domain name or a wildcard *.domain (an embedded wildcard is refused)", ad.DomainName)
		}
		if domains[name] {
			c.fail(p+".DomainName", "the accepted domain %q is already defined", ad.DomainName)
		}
		domains[name] = true
		objectTable(reflect.TypeOf(ad)).checkParams(c, p, reflect.ValueOf(ad))
		if ad.Default {
			defaults++
			if defaults > 1 {
				c.fail(p+".Default", "only one accepted domain can be the default")
			}
		}
	}
	if len(o.AcceptedDomains) == 0 {
		c.fail("AcceptedDomains", "at least one accepted domain is needed (the default domain)")
	}

	addrs := map[string]string{}
	for i, mb := range o.Mailboxes {
		p := fmt.Sprintf("Mailboxes[%d]", i)
		all := append([]string{mb.PrimarySmtpAddress}, mb.EmailAddresses...)
		for j, a := range all {
			fp := p + ".PrimarySmtpAddress"
			if j > 0 {
				fp = fmt.Sprintf("%s.EmailAddresses[%d]", p, j-1)
			}
			addr := StripProxyPrefix(a)
			if _, err := mail.ParseAddress(addr); err != nil || !strings.Contains(addr, "@") {
				c.fail(fp, "%q is not an SMTP address", a)
				continue
			}
			key := strings.ToLower(addr)
			if other, dup := addrs[key]; dup {
				c.fail(fp, "%s is already an address of mailbox %q", addr, other)
			}
			addrs[key] = mb.Name
			_, dom, _ := strings.Cut(key, "@")
			if ad := o.AcceptedDomainOf(dom); ad == nil {
				c.fail(fp, "the domain of %s is not an accepted domain", addr)
			}
		}
	}

	for i, mb := range o.Mailboxes {
		if mb.Database != "" && o.DatabaseServer(mb.Database) == nil {
			var dbs []string
			for _, s := range o.Servers {
				if s.Runs(HubTransport) {
					dbs = append(dbs, s.MailboxDatabaseName())
				}
			}
			c.fail(fmt.Sprintf("Mailboxes[%d].Database", i), "%q is not the mailbox database of a server (%s)", mb.Database, strings.Join(dbs, ", "))
		}
	}
	objectTable(reflect.TypeOf(o.TransportConfig)).checkParams(c, "TransportConfig", reflect.ValueOf(o.TransportConfig))

	for i, rc := range o.ReceiveConnectors {
		o.validateConnector(c, i, &rc)
	}
	o.validateBindings(c)
	o.validateCertificates(c)
	for i, d := range o.TransportConfig.TLSReceiveDomainSecureList {
		if !validDomain(strings.TrimPrefix(d, "*.")) {
			c.fail(fmt.Sprintf("TransportConfig.TLSReceiveDomainSecureList[%d]", i), "%q is not a domain name", d)
		}
	}

	for i, ap := range o.ADPermissions {
		p := fmt.Sprintf("ADPermissions[%d]", i)
		if o.ReceiveConnectorByIdentity(ap.Identity) == nil {
			c.fail(p+".Identity", "%q names no receive connector (write SERVER\\Connector name)", ap.Identity)
		}
		for j, r := range ap.ExtendedRights {
			if !KnownExtendedRight(r) {
				c.fail(fmt.Sprintf("%s.ExtendedRights[%d]", p, j), "%q is not an extended right of a receive connector", r)
			}
		}
	}
	for i, sc := range o.SendConnectors {
		p := fmt.Sprintf("SendConnectors[%d]", i)
		if sc.Name == "" {
			c.fail(p+".Name", "%v", errEmpty)
		}
		objectTable(reflect.TypeOf(sc)).checkParams(c, p, reflect.ValueOf(sc))
		for j, a := range sc.AddressSpaces {
			if _, err := ParseAddressSpace(a); err != nil {
				c.fail(fmt.Sprintf("%s.AddressSpaces[%d]", p, j), "%v", err)
			}
		}
		for j, h := range sc.SmartHosts {
			if _, _, err := SplitSmartHost(h, sc.Port); err != nil {
				c.fail(fmt.Sprintf("%s.SmartHosts[%d]", p, j), "%v", err)
			}
		}
		// New-SendConnector's rules: TlsAuthLevel only with RequireTLS, TlsDomain only with
		// DomainValidation, smart-host authentication only with smart hosts, and basic
		// authentication needs a credential.
		if sc.TlsAuthLevel != "" && !sc.RequireTLS {
			c.fail(p+".TlsAuthLevel", "can only be set when RequireTLS is true")
		}
		if sc.TlsDomain != "" && sc.TlsAuthLevel != TlsDomainValidation {
			c.fail(p+".TlsDomain", "can only be set when TlsAuthLevel is DomainValidation")
		}
		if sc.SmartHostAuthMechanism != SmartHostNone && len(sc.SmartHosts) == 0 {
			c.fail(p+".SmartHostAuthMechanism", "requires SmartHosts")
		}
		basic := sc.SmartHostAuthMechanism == SmartHostBasicAuth || sc.SmartHostAuthMechanism == SmartHostBasicAuthRequireTLS
		if basic && sc.AuthenticationCredential.UserName == "" {
			c.fail(p+".AuthenticationCredential", "BasicAuth needs a UserName and Password")
		}
		if sc.SmartHostAuthMechanism == SmartHostExchangeServer || sc.SmartHostAuthMechanism == SmartHostExternalAuthoritative {
			c.fail(p+".SmartHostAuthMechanism", "%s is not supported by exlab (use None or BasicAuth)", sc.SmartHostAuthMechanism)
		}
		if len(sc.SmartHosts) == 0 && !sc.DNSRoutingEnabled {
			c.fail(p+".SmartHosts", "a connector without DNSRoutingEnabled needs SmartHosts")
		}
		if d := &o.SendConnectors[i].DkimSigning; d.Enabled {
			validateDkim(c, p+".DkimSigning", d)
		}
	}
}

// validateDkim checks a send connector's DKIM settings; LoadFiles reads its key.
func validateDkim(c checker, p string, d *DkimSigningConfig) {
	if !validDomain(d.Domain) {
		c.fail(p+".Domain", "%q is not a domain name", d.Domain)
	}
	if d.Selector == "" {
		c.fail(p+".Selector", "%v", errEmpty)
	}
	if len(d.HeaderKeys) > 0 {
		from := false
		for _, k := range d.HeaderKeys {
			from = from || strings.EqualFold(k, "From")
		}
		if !from {
			c.fail(p+".HeaderKeys", "must include From (RFC 6376 §5.4)")
		}
	}
	if d.PrivateKeyFile == "" {
		c.fail(p+".PrivateKeyFile", "%v", errEmpty)
	}
}

// validateCertificates checks each certificate as Import-ExchangeCertificate and
// Enable-ExchangeCertificate would; LoadFiles reads its files.
func (o *Organization) validateCertificates(c checker) {
	for i := range o.Certificates {
		cert := &o.Certificates[i]
		p := fmt.Sprintf("Certificates[%d]", i)
		if cert.Server != "" && o.Server(cert.Server) == nil {
			c.fail(p+".Server", "%q is not a server of this organization", cert.Server)
		}
		objectTable(reflect.TypeOf(*cert)).checkParams(c, p, reflect.ValueOf(*cert))
		if cert.CertificateFile == "" {
			c.fail(p+".CertificateFile", "%v", errEmpty)
		}
	}
}

func (o *Organization) validateConnector(c checker, i int, rc *ReceiveConnector) {
	p := fmt.Sprintf("ReceiveConnectors[%d]", i)
	if rc.Name == "" {
		c.fail(p+".Name", "%v", errEmpty)
	} else if len(rc.Name) > 64 {
		c.fail(p+".Name", "must be at most 64 characters")
	}
	for j := 0; j < i; j++ {
		other := &o.ReceiveConnectors[j]
		if strings.EqualFold(other.Name, rc.Name) && strings.EqualFold(other.Server, rc.Server) {
			c.fail(p+".Name", "a receive connector named %q already exists on server %s", rc.Name, rc.Server)
		}
	}
	srv := o.Server(rc.Server)
	if srv == nil {
		c.fail(p+".Server", "%q is not a server of this organization", rc.Server)
	}
	objectTable(reflect.TypeOf(*rc)).checkParams(c, p, reflect.ValueOf(*rc))
	if srv != nil && (rc.TransportRole == FrontendTransport || rc.TransportRole == HubTransport) {
		has := false
		for _, r := range srv.Roles {
			has = has || r == rc.TransportRole
		}
		if !has {
			c.fail(p+".TransportRole", "server %s does not run the %s role", srv.Name, rc.TransportRole)
		}
	}
	if len(rc.Bindings) == 0 && rc.Enabled {
		c.fail(p+".Bindings", "an enabled connector needs at least one binding")
	}
	if rc.Fqdn != "" && !validDomain(rc.Fqdn) && (srv == nil || rc.Fqdn != srv.Fqdn) {
		c.fail(p+".Fqdn", "%q is not a fully qualified domain name", rc.Fqdn)
	}
	if rc.Banner != "" && !strings.HasPrefix(rc.Banner, "220") {
		c.fail(p+".Banner", "a banner must start with 220")
	}
	// AuthMechanism constraints of PS-NRC (spec §2.3).
	am := p + ".AuthMechanism"
	if rc.HasAuth(AuthNone) && len(rc.AuthMechanism) > 1 {
		c.fail(am, "None must be used alone")
	}
	if rc.HasAuth(AuthBasicAuthRequireTLS) && (!rc.HasAuth(AuthBasicAuth) || !rc.HasAuth(AuthTls)) {
		c.fail(am, "BasicAuthRequireTLS requires BasicAuth and Tls")
	}
	if rc.HasAuth(AuthExternalAuthoritative) {
		for _, m := range rc.AuthMechanism {
			if m != AuthExternalAuthoritative && m != AuthTls {
				c.fail(am, "ExternalAuthoritative can only be combined with Tls")
				break
			}
		}
		if !rc.HasGroup(ExchangeServers) {
			c.fail(p+".PermissionGroups", "AuthMechanism ExternalAuthoritative requires the ExchangeServers permission group")
		}
	}
	if rc.RequireTLS && !rc.HasAuth(AuthTls) {
		c.fail(p+".RequireTLS", "RequireTLS requires the Tls authentication mechanism")
	}
	if rc.DomainSecureEnabled && (!rc.HasAuth(AuthTls) || rc.HasAuth(AuthExternalAuthoritative)) {
		c.fail(p+".DomainSecureEnabled", "DomainSecureEnabled requires Tls and cannot be combined with ExternalAuthoritative")
	}
	if rc.ConnectionInactivityTimeout >= rc.ConnectionTimeout {
		c.fail(p+".ConnectionInactivityTimeout", "must be less than ConnectionTimeout (%s)", rc.ConnectionTimeout)
	}
}

// validateBindings applies Exchange's uniqueness rules to every pair of enabled connectors of
// one server (spec §3).
func (o *Organization) validateBindings(c checker) {
	for i := range o.ReceiveConnectors {
		a := &o.ReceiveConnectors[i]
		if !a.Enabled {
			continue
		}
		for j := 0; j < i; j++ {
			b := &o.ReceiveConnectors[j]
			if !b.Enabled || !strings.EqualFold(a.Server, b.Server) || !bindingsConflict(a, b) {
				continue
			}
			p := fmt.Sprintf("ReceiveConnectors[%d].Bindings", i)
			if a.TransportRole != b.TransportRole {
				if s := o.Server(a.Server); s != nil && s.BindingConflictMode == BindingShared {
					continue // reproduced on purpose: both bind with SO_REUSEPORT
				}
				c.fail(p, RoleConflictText, b.Identity())
				continue
			}
			if rangesConflict(a.RemoteIPRanges, b.RemoteIPRanges) {
				c.fail(p, BindingConflictText, b.Identity())
			}
		}
	}
}

func bindingsConflict(a, b *ReceiveConnector) bool {
	for _, x := range a.Bindings {
		for _, y := range b.Bindings {
			if x.Conflicts(y) {
				return true
			}
		}
	}
	return false
}

// rangesConflict: two connectors on one binding may share remote addresses only where one
// range wholly contains the other; identical ranges, or ranges that partly overlap, conflict.
func rangesConflict(a, b []IPRange) bool {
	for _, x := range a {
		for _, y := range b {
			if !x.Overlaps(y) {
				continue
			}
			if x.Lo == y.Lo && x.Hi == y.Hi {
				return true
			}
			if !x.Covers(y) && !y.Covers(x) {
				return true
			}
		}
	}
	return false
}

// ReceiveConnectorByIdentity finds a connector by SERVER\Name (or by Name when unique).
func (o *Organization) ReceiveConnectorByIdentity(id string) *ReceiveConnector {
	srv, name, hasServer := strings.Cut(id, `\`)
	if !hasServer {
		name, srv = id, ""
	}
	var found *ReceiveConnector
	for i := range o.ReceiveConnectors {
		rc := &o.ReceiveConnectors[i]
		if strings.EqualFold(rc.Name, name) && (srv == "" || strings.EqualFold(rc.Server, srv)) {
			if found != nil {
				return nil
			}
			found = rc
		}
	}
	return found
}

// Matches says whether the accepted domain covers domain: its own name, the subdomains of a
// wildcard *.d, and the subdomains of d when MatchSubDomains is set (spec §4.1). It is the one
// rule, used by validation and by routing.
func (ad *AcceptedDomain) Matches(domain string) bool {
	domain = strings.ToLower(domain)
	n := strings.ToLower(ad.DomainName)
	switch {
	case n == domain:
		return true
	case strings.HasPrefix(n, "*."):
		return strings.HasSuffix(domain, n[1:])
	case ad.MatchSubDomains:
		return strings.HasSuffix(domain, "."+n)
	}
	return false
}

// AcceptedDomainOf returns the first accepted domain that covers domain (Matches), or nil.
// Routing picks the most specific one among several.
func (o *Organization) AcceptedDomainOf(domain string) *AcceptedDomain {
	for i := range o.AcceptedDomains {
		if o.AcceptedDomains[i].Matches(domain) {
			return &o.AcceptedDomains[i]
		}
	}
	return nil
}

// StripProxyPrefix removes the "smtp:"/"SMTP:" proxy-address prefix Exchange writes in
// EmailAddresses.
func StripProxyPrefix(a string) string {
	if len(a) > 5 && strings.EqualFold(a[:5], "smtp:") {
		return a[5:]
	}
	return a
}

// ExtendedRights are the extended rights an ADPermission may grant on a receive connector, in
// the order of spec §2.1 (routing gives the i-th the bit 1<<i). It is an array so that no
// caller can change another's copy.
var ExtendedRights = [...]string{
	"ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient", "ms-Exch-SMTP-Accept-Any-Sender",
	"ms-Exch-SMTP-Accept-Authoritative-Domain-Sender", "ms-Exch-SMTP-Accept-Authentication-Flag",
	"ms-Exch-SMTP-Accept-Exch50", "ms-Exch-Accept-Headers-Routing", "ms-Exch-Accept-Headers-Organization",
	"ms-Exch-Accept-Headers-Forest", "ms-Exch-Bypass-Anti-Spam", "ms-Exch-Bypass-Message-Size-Limit",
	"ms-Exch-SMTP-Accept-XProxyFrom", "ms-Exch-SMTP-Accept-Xattr", "ms-Exch-SMTP-Accept-XSessionParams",
	"ms-Exch-SMTP-Accept-XShadow", "ms-Exch-SMTP-Accept-XSysProbe",
}

// KnownExtendedRight says whether r names an extended right of a receive connector.
func KnownExtendedRight(r string) bool {
	for _, x := range ExtendedRights {
		if strings.EqualFold(x, r) {
			return true
		}
	}
	return false
}

func validDomain(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// SplitSmartHost parses a smart host as Exchange writes it: "relay.contoso.com", "[192.0.2.1]",
// with an optional ":port" (exlab), the connector's Port otherwise.
func SplitSmartHost(h string, port int) (string, int, error) {
	h = strings.TrimSpace(h)
	host, p := h, port
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("%q: unclosed [", h)
		}
		host = h[1:end]
		if rest := h[end+1:]; rest != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
			if err != nil || !strings.HasPrefix(rest, ":") || n < 1 || n > 65535 {
				return "", 0, fmt.Errorf("%q: bad port", h)
			}
			p = n
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		n, err := strconv.Atoi(h[i+1:])
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("%q: bad port", h)
		}
		host, p = h[:i], n
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q is not a smart host", h)
	}
	return host, p, nil
}
