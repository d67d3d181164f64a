package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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

func oneOf[T ~string](c checker, path string, v T, allowed ...T) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	c.fail(path, "%q is not one of %s", string(v), strings.Join(names, ", "))
}

func between(c checker, path string, v, lo, hi int64) {
	if v < lo || v > hi {
		c.fail(path, "%d is outside the range %d-%d", v, lo, hi)
	}
}

// validate reports every problem of a filled organization (STYLE §5: fill defaults, then
// validate, reporting all problems with file, line and field).
func (o *Organization) validate(d *decoder) {
	c := checker{o: o, d: d}
	for i := range o.Faults {
		p := fmt.Sprintf("Faults[%d]", i)
		o.Faults[i].Check(o, func(field, format string, args ...any) { c.fail(p+"."+field, format, args...) })
	}
	if st := o.ServerComponentState.HubTransport; st != "" {
		oneOf(c, "ServerComponentState.HubTransport", st, ComponentActive, ComponentInactive)
	}
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
		for j, r := range s.Roles {
			oneOf(c, fmt.Sprintf("%s.Roles[%d]", p, j), r, FrontendTransport, HubTransport)
		}
		oneOf(c, p+".Version", s.Version, Version2013, Version2016, Version2019)
		oneOf(c, p+".BindingConflictMode", s.BindingConflictMode, BindingExclusive, BindingShared)
		oneOf(c, p+".IntraOrgConnectorProtocolLoggingLevel", s.IntraOrgConnectorProtocolLoggingLevel, LoggingNone, LoggingVerbose)
		if s.ProxyConnectTimeout <= 0 {
			c.fail(p+".ProxyConnectTimeout", "must be above 00:00:00")
		}
		if s.ProxyCommandTimeout <= 0 {
			c.fail(p+".ProxyCommandTimeout", "must be above 00:00:00")
		}
		between(c, p+".ProxyPoolSize", int64(s.ProxyPoolSize), 0, 100000)
		if s.BindRetryInterval < 0 {
			c.fail(p+".BindRetryInterval", "must not be negative")
		}
		between(c, p+".MaxConcurrentMailboxDeliveries", int64(s.MaxConcurrentMailboxDeliveries), 1, 256)
		between(c, p+".TransientFailureRetryCount", int64(s.TransientFailureRetryCount), 0, 15)
		between(c, p+".QueueGlitchRetryCount", int64(s.QueueGlitchRetryCount), 0, 15)
		between(c, p+".PoisonThreshold", int64(s.PoisonThreshold), 1, 10)
		for _, f := range []struct {
			name string
			v    TimeSpan
		}{{"QueueGlitchRetryInterval", s.QueueGlitchRetryInterval}, {"TransientFailureRetryInterval", s.TransientFailureRetryInterval},
			{"OutboundConnectionFailureRetryInterval", s.OutboundConnectionFailureRetryInterval}, {"MessageRetryInterval", s.MessageRetryInterval},
			{"MessageExpirationTimeout", s.MessageExpirationTimeout}, {"DelayNotificationTimeout", s.DelayNotificationTimeout},
			{"BackPressure.ResourceMeteringInterval", s.BackPressure.ResourceMeteringInterval}} {
			if f.v <= 0 {
				c.fail(p+"."+f.name, "must be above 00:00:00")
			}
		}
		for _, t := range []struct {
			name string
			v    PressureThresholds
		}{{"UsedDiskSpace", s.BackPressure.UsedDiskSpace}, {"QueueLength", s.BackPressure.QueueLength}} {
			if !(t.v.MediumToLow <= t.v.LowToMedium && t.v.LowToMedium <= t.v.HighToMedium && t.v.HighToMedium <= t.v.MediumToHigh) {
				c.fail(p+".BackPressure."+t.name, "the thresholds must satisfy MediumToLow <= LowToMedium <= HighToMedium <= MediumToHigh")
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
		oneOf(c, p+".DomainType", ad.DomainType, Authoritative, InternalRelay, ExternalRelay)
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
			if ad := o.acceptedDomain(dom); ad == nil {
				c.fail(fp, "the domain of %s is not an accepted domain", addr)
			}
		}
	}

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
		between(c, p+".Port", int64(sc.Port), 1, 65535)
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
		oneOf(c, p+".ProtocolLoggingLevel", sc.ProtocolLoggingLevel, LoggingNone, LoggingVerbose)
		// New-SendConnector's rules: TlsAuthLevel only with RequireTLS, TlsDomain only with
		// DomainValidation, smart-host authentication only with smart hosts, and basic
		// authentication needs a credential.
		if sc.TlsAuthLevel != "" {
			oneOf(c, p+".TlsAuthLevel", sc.TlsAuthLevel, TlsEncryptionOnly, TlsCertificateValidation, TlsDomainValidation)
			if !sc.RequireTLS {
				c.fail(p+".TlsAuthLevel", "can only be set when RequireTLS is true")
			}
		}
		if sc.TlsDomain != "" && sc.TlsAuthLevel != TlsDomainValidation {
			c.fail(p+".TlsDomain", "can only be set when TlsAuthLevel is DomainValidation")
		}
		oneOf(c, p+".SmartHostAuthMechanism", sc.SmartHostAuthMechanism, SmartHostNone, SmartHostBasicAuth, SmartHostBasicAuthRequireTLS,
			SmartHostExchangeServer, SmartHostExternalAuthoritative)
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
			o.loadDkimKey(c, p+".DkimSigning", d)
		}
	}
}

// loadDkimKey checks a send connector's DKIM settings and reads its key.
func (o *Organization) loadDkimKey(c checker, p string, d *DkimSigningConfig) {
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
		return
	}
	path := d.PrivateKeyFile
	if !filepath.IsAbs(path) && o.File != "" {
		path = filepath.Join(filepath.Dir(o.File), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		c.fail(p+".PrivateKeyFile", "%q: %v", d.PrivateKeyFile, err)
		return
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		c.fail(p+".PrivateKeyFile", "%q holds no PEM block", d.PrivateKeyFile)
		return
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	}
	signer, ok := key.(crypto.Signer)
	_, isRSA := key.(*rsa.PrivateKey)
	_, isEd := key.(ed25519.PrivateKey)
	if err != nil || !ok || !(isRSA || isEd) {
		c.fail(p+".PrivateKeyFile", "%q is not an RSA or Ed25519 private key", d.PrivateKeyFile)
		return
	}
	d.Signer = signer
}

// validateCertificates loads each certificate (paths relative to the configuration file) and
// checks it as Import-ExchangeCertificate and Enable-ExchangeCertificate would.
func (o *Organization) validateCertificates(c checker) {
	for i := range o.Certificates {
		cert := &o.Certificates[i]
		p := fmt.Sprintf("Certificates[%d]", i)
		if cert.Server != "" && o.Server(cert.Server) == nil {
			c.fail(p+".Server", "%q is not a server of this organization", cert.Server)
		}
		for j, s := range cert.Services {
			known := false
			for _, k := range []string{"None", "IIS", "SMTP", "IMAP", "POP", "UM", "UMCallRouter"} {
				known = known || strings.EqualFold(s, k)
			}
			if !known {
				c.fail(fmt.Sprintf("%s.Services[%d]", p, j), "%q is not one of None, IIS, SMTP, IMAP, POP, UM, UMCallRouter", s)
			}
		}
		if cert.CertificateFile == "" {
			c.fail(p+".CertificateFile", "%v", errEmpty)
			continue
		}
		rel := func(f string) string {
			if f == "" || filepath.IsAbs(f) || o.File == "" {
				return f
			}
			return filepath.Join(filepath.Dir(o.File), f)
		}
		certFile, keyFile := rel(cert.CertificateFile), rel(cert.PrivateKeyFile)
		if keyFile == "" {
			keyFile = certFile
		}
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			field := ".CertificateFile"
			if cert.PrivateKeyFile != "" && strings.Contains(err.Error(), "key") {
				field = ".PrivateKeyFile"
			}
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%q: %v", cert.CertificateFile, pe.Err) // the path as written, not as resolved
				if filepath.Base(pe.Path) == filepath.Base(keyFile) && keyFile != certFile {
					field, err = ".PrivateKeyFile", fmt.Errorf("%q: %v", cert.PrivateKeyFile, pe.Err)
				}
			}
			c.fail(p+field, "%v", err)
			continue
		}
		cert.KeyPair = &kp
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
	oneOf(c, p+".TransportRole", rc.TransportRole, FrontendTransport, HubTransport)
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
	for j, m := range rc.AuthMechanism {
		oneOf(c, fmt.Sprintf("%s.AuthMechanism[%d]", p, j), m, AuthNone, AuthTls, AuthIntegrated, AuthBasicAuth,
			AuthBasicAuthRequireTLS, AuthExchangeServer, AuthExternalAuthoritative)
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
	for j, g := range rc.PermissionGroups {
		oneOf(c, fmt.Sprintf("%s.PermissionGroups[%d]", p, j), g, AnonymousUsers, ExchangeUsers, ExchangeServers,
			ExchangeLegacyServers, Partners, CustomGroup, NoGroup)
	}
	oneOf(c, p+".SizeEnabled", rc.SizeEnabled, SizeDisabled, SizeEnabledWithValue, SizeEnabledWithoutValue)
	oneOf(c, p+".MessageRateSource", rc.MessageRateSource, RateSourceNone, RateSourceIPAddress, RateSourceUser, RateSourceAll)
	oneOf(c, p+".ProtocolLoggingLevel", rc.ProtocolLoggingLevel, LoggingNone, LoggingVerbose)
	// Value ranges of PS-NRC (spec §1.1).
	between(c, p+".MaxMessageSize", int64(rc.MaxMessageSize), 65536, 2147483647)
	between(c, p+".MaxRecipientsPerMessage", int64(rc.MaxRecipientsPerMessage), 1, 512000)
	between(c, p+".MaxHopCount", int64(rc.MaxHopCount), 1, 500)
	between(c, p+".MaxLocalHopCount", int64(rc.MaxLocalHopCount), 0, 50)
	between(c, p+".MaxLogonFailures", int64(rc.MaxLogonFailures), 0, 10)
	between(c, p+".MaxInboundConnectionPercentagePerSource", int64(rc.MaxInboundConnectionPercentagePerSource), 1, 100)
	between(c, p+".MaxHeaderSize", int64(rc.MaxHeaderSize), 1, 2147483647)
	if !rc.MaxInboundConnection.Unlimited {
		between(c, p+".MaxInboundConnection", rc.MaxInboundConnection.Value, 1, 2147483647)
	}
	if !rc.MaxInboundConnectionPerSource.Unlimited {
		between(c, p+".MaxInboundConnectionPerSource", rc.MaxInboundConnectionPerSource.Value, 1, 10000)
	}
	if !rc.MessageRateLimit.Unlimited {
		between(c, p+".MessageRateLimit", rc.MessageRateLimit.Value, 1, 2147483647)
	}
	if !rc.MaxProtocolErrors.Unlimited {
		between(c, p+".MaxProtocolErrors", rc.MaxProtocolErrors.Value, 0, 2147483647)
	}
	for _, t := range []struct {
		name string
		v    TimeSpan
	}{{"ConnectionTimeout", rc.ConnectionTimeout}, {"ConnectionInactivityTimeout", rc.ConnectionInactivityTimeout}} {
		if t.v < TimeSpan(time.Second) || t.v > TimeSpan(24*time.Hour) {
			c.fail(p+"."+t.name, "%s is outside the range 00:00:01-1.00:00:00", t.v)
		}
	}
	if rc.ConnectionInactivityTimeout >= rc.ConnectionTimeout {
		c.fail(p+".ConnectionInactivityTimeout", "must be less than ConnectionTimeout (%s)", rc.ConnectionTimeout)
	}
	for _, t := range []struct {
		name string
		v    TimeSpan
	}{{"TarpitInterval", rc.TarpitInterval}, {"AuthTarpitInterval", rc.AuthTarpitInterval}, {"MaxAcknowledgementDelay", rc.MaxAcknowledgementDelay}} {
		if t.v < 0 || t.v > TimeSpan(10*time.Minute) {
			c.fail(p+"."+t.name, "%s is outside the range 00:00:00-00:10:00", t.v)
		}
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

func (o *Organization) acceptedDomain(domain string) *AcceptedDomain {
	for i := range o.AcceptedDomains {
		ad := &o.AcceptedDomains[i]
		n := strings.ToLower(ad.DomainName)
		if n == domain || (strings.HasPrefix(n, "*.") && strings.HasSuffix(domain, n[1:])) {
			return ad
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

// extendedRights lists the rights an ADPermission may grant on a receive connector (spec §2.1).
var extendedRights = []string{
	"ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient", "ms-Exch-SMTP-Accept-Any-Sender",
	"ms-Exch-SMTP-Accept-Authoritative-Domain-Sender", "ms-Exch-SMTP-Accept-Authentication-Flag",
	"ms-Exch-SMTP-Accept-Exch50", "ms-Exch-Accept-Headers-Routing", "ms-Exch-Accept-Headers-Organization",
	"ms-Exch-Accept-Headers-Forest", "ms-Exch-Bypass-Anti-Spam", "ms-Exch-Bypass-Message-Size-Limit",
	"ms-Exch-SMTP-Accept-XProxyFrom", "ms-Exch-SMTP-Accept-Xattr", "ms-Exch-SMTP-Accept-XSessionParams",
	"ms-Exch-SMTP-Accept-XShadow", "ms-Exch-SMTP-Accept-XSysProbe",
}

// KnownExtendedRight says whether r names an extended right of a receive connector.
func KnownExtendedRight(r string) bool {
	for _, x := range extendedRights {
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
