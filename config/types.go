// Package config owns the exlab organization: Servers, AcceptedDomains, Mailboxes,
// ReceiveConnectors, ADPermissions, SendConnectors and Certificates, read from one YAML file
// whose object and parameter names are Exchange's own (New-/Set-ReceiveConnector,
// New-AcceptedDomain, New-SendConnector). Each object has one parameter table (params.go,
// Objects) with every parameter's default, range or values, Exchange reference and meaning;
// the defaults, the range checks and docs/config-reference.md come from it.
//
// Loading runs in steps: parse the YAML strictly, fill every omitted parameter with Exchange's
// default (../shared/spec/exchange-transport.md §1.1), validate, reporting every problem as
// FILE:LINE: field: problem, and then read the files the organization names (LoadFiles:
// certificates and DKIM keys). Decode runs the first three and does no I/O; LoadFiles is the
// only step that reads files besides the configuration itself; Load and Parse run them all.
// The package imports nothing from exlab. Its Exchange counterpart is the configuration that
// the Get-/Set- cmdlets show.
package config

import (
	"crypto"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// TransportRole says which service owns a receive connector (PS-NRC -TransportRole).
type TransportRole string

const (
	FrontendTransport TransportRole = "FrontendTransport"
	HubTransport      TransportRole = "HubTransport"
	// MailboxDelivery is the Mailbox Transport Delivery service's implicit receive connectors
	// (475-477, MailboxDeliveryConnectors). exlab's name: Exchange hides these connectors and
	// no cmdlet takes the role, so a configuration file cannot name it either.
	MailboxDelivery TransportRole = "MailboxDelivery"
)

// DomainType is an accepted domain's type (PS-AD -DomainType).
type DomainType string

const (
	Authoritative DomainType = "Authoritative"
	InternalRelay DomainType = "InternalRelay"
	ExternalRelay DomainType = "ExternalRelay"
)

// AuthMechanism is one value of a receive connector's AuthMechanism (spec §2.3).
type AuthMechanism string

const (
	AuthNone                  AuthMechanism = "None"
	AuthTls                   AuthMechanism = "Tls"
	AuthIntegrated            AuthMechanism = "Integrated"
	AuthBasicAuth             AuthMechanism = "BasicAuth"
	AuthBasicAuthRequireTLS   AuthMechanism = "BasicAuthRequireTLS"
	AuthExchangeServer        AuthMechanism = "ExchangeServer"
	AuthExternalAuthoritative AuthMechanism = "ExternalAuthoritative"
)

// PermissionGroup is one value of a receive connector's PermissionGroups (spec §2.1).
type PermissionGroup string

const (
	AnonymousUsers        PermissionGroup = "AnonymousUsers"
	ExchangeUsers         PermissionGroup = "ExchangeUsers"
	ExchangeServers       PermissionGroup = "ExchangeServers"
	ExchangeLegacyServers PermissionGroup = "ExchangeLegacyServers"
	Partners              PermissionGroup = "Partners"
	CustomGroup           PermissionGroup = "Custom"
	NoGroup               PermissionGroup = "None"
)

// ProtocolLoggingLevel switches a connector's protocol log (spec §7.1).
type ProtocolLoggingLevel string

const (
	LoggingNone    ProtocolLoggingLevel = "None"
	LoggingVerbose ProtocolLoggingLevel = "Verbose"
)

// SizeEnabled controls the SIZE keyword (PS-NRC -SizeEnabled).
type SizeEnabled string

const (
	SizeDisabled            SizeEnabled = "Disabled"
	SizeEnabledWithValue    SizeEnabled = "Enabled"
	SizeEnabledWithoutValue SizeEnabled = "EnabledWithoutValue"
)

// MessageRateSource says what MessageRateLimit counts (PS-NRC -MessageRateSource).
type MessageRateSource string

const (
	RateSourceNone      MessageRateSource = "None"
	RateSourceIPAddress MessageRateSource = "IPAddress"
	RateSourceUser      MessageRateSource = "User"
	RateSourceAll       MessageRateSource = "All"
)

// BindingConflictMode is exlab's server setting for two connectors of different roles on one
// IP:port: Exclusive refuses it as Exchange's cmdlets do, Shared binds both (SO_REUSEPORT) to
// reproduce the pre-check behaviour of spec §3.
type BindingConflictMode string

const (
	BindingExclusive BindingConflictMode = "Exclusive"
	BindingShared    BindingConflictMode = "Shared"
)

// ExchangeVersion picks the reply and EHLO variants of one Exchange release (spec §5.2).
type ExchangeVersion string

const (
	Version2013 ExchangeVersion = "2013"
	Version2016 ExchangeVersion = "2016"
	Version2019 ExchangeVersion = "2019"
)

// Organization is one whole configuration file.
type Organization struct {
	Organization      OrganizationInfo
	Servers           []Server
	AcceptedDomains   []AcceptedDomain
	Mailboxes         []Mailbox
	ReceiveConnectors []ReceiveConnector
	ADPermissions     []ADPermission
	SendConnectors    []SendConnector
	Certificates      []Certificate
	TransportConfig   TransportConfig
	// Faults are exlab's fault-injection rules (no Exchange object: a load-test aid), applied
	// from start; `exlab fault set|list|clear` changes them while the server runs.
	Faults []Fault
	// ServerComponentState holds Set-ServerComponentState's switch for the HubTransport
	// component: Inactive is maintenance mode (`exlab maintenance on`).
	ServerComponentState ServerComponentState

	// File is the name the organization was read from, for messages.
	File string `exlab:"-"`

	lines map[string]int // parameter path → line, for messages
}

// OrganizationInfo holds organization-wide settings.
type OrganizationInfo struct {
	Name string
	// ExchangeServerAuthKey is the shared secret with which exlab's frontend proves to a hub that
	// it is an Exchange server (X-EXPS). Exchange uses Kerberos here; exlab uses an HMAC
	// challenge over this key. Empty means: a random key kept in the data directory.
	ExchangeServerAuthKey string
	// MaxMessagesPerMailbox and MessageRetention bound the lab mailboxes (exlab's, no Exchange
	// object: a lab and load-test aid): the oldest messages beyond the count, and messages
	// older than the age, are removed continuously. Unlimited and 00:00:00 keep everything.
	MaxMessagesPerMailbox Limit
	MessageRetention      TimeSpan
}

// Server is an Exchange server (Get-ExchangeServer, Set-TransportService).
type Server struct {
	Name string
	Fqdn string
	// Site is the Active Directory site the server is in (Get-ExchangeServer's Site): a
	// frontend proxies to the hubs of its own site (spec §6.1).
	Site string
	// IPAddress is where the organization's other servers reach this one (exlab's stand-in for
	// the DNS record of Fqdn): the address a peer dials for this server's connectors whose
	// bindings are wildcards. Empty: Fqdn, resolved by DNS (or the hosts file) when dialled.
	IPAddress           string
	Roles               []TransportRole
	Version             ExchangeVersion
	BindingConflictMode BindingConflictMode
	// ProxyConnectTimeout and ProxyCommandTimeout bound the frontend's session to a hub
	// (exlab settings; Exchange does not expose them). A hub that is down or slow gets the
	// client a PRX reply within these bounds, never a hang.
	ProxyConnectTimeout TimeSpan
	ProxyCommandTimeout TimeSpan
	// ProxyPoolSize is how many idle authenticated hub sessions the frontend keeps.
	ProxyPoolSize int
	// The retry schedule of the hub's delivery queues (Set-TransportService; spec §8.3): after
	// a failed attempt a message waits QueueGlitchRetryInterval for the first
	// QueueGlitchRetryCount failures, then TransientFailureRetryInterval for the next
	// TransientFailureRetryCount, then OutboundConnectionFailureRetryInterval when the next hop
	// could not be reached or MessageRetryInterval when it answered, until
	// MessageExpirationTimeout after its arrival, when it fails with an NDR. After
	// DelayNotificationTimeout its sender gets one delay DSN. Labs compress days into seconds
	// with them.
	QueueGlitchRetryCount                  int
	QueueGlitchRetryInterval               TimeSpan
	TransientFailureRetryCount             int
	TransientFailureRetryInterval          TimeSpan
	OutboundConnectionFailureRetryInterval TimeSpan
	MessageRetryInterval                   TimeSpan
	MessageExpirationTimeout               TimeSpan
	DelayNotificationTimeout               TimeSpan
	// PoisonThreshold: a message that was being delivered when the service died this many
	// times goes to the Poison queue (PoisonMessageDetectionEnabled).
	PoisonMessageDetectionEnabled bool
	PoisonThreshold               int
	// The message tracking log (Set-TransportService): MessageTrackingLogPath empty means
	// TransportRoles/Logs/MessageTracking under the data directory.
	MessageTrackingLogEnabled               bool
	MessageTrackingLogPath                  string
	MessageTrackingLogMaxFileSize           ByteSize
	MessageTrackingLogMaxDirectorySize      ByteSize
	MessageTrackingLogMaxAge                TimeSpan
	MessageTrackingLogSubjectLoggingEnabled bool
	// Protocol logs (Set-TransportService / Set-FrontendTransportService, spec §7.1): the
	// connectors with ProtocolLoggingLevel Verbose write into <path>/<FrontEnd|Hub>; an empty
	// path means TransportRoles/Logs/<FrontEnd|Hub>/ProtocolLog/SmtpReceive (SmtpSend) under the
	// data directory. Circular logging: 10 MB files, 250 MB per directory, 30 days.
	ReceiveProtocolLogPath             string
	ReceiveProtocolLogMaxFileSize      ByteSize
	ReceiveProtocolLogMaxDirectorySize ByteSize
	ReceiveProtocolLogMaxAge           TimeSpan
	// IntraOrgConnectorProtocolLoggingLevel (Set-FrontendTransportService): Verbose, the
	// default, logs the frontend's sessions to the hub (the implicit intra-org send connector)
	// in its SmtpSend log; None turns that off.
	IntraOrgConnectorProtocolLoggingLevel ProtocolLoggingLevel
	SendProtocolLogPath                   string
	SendProtocolLogMaxFileSize            ByteSize
	SendProtocolLogMaxDirectorySize       ByteSize
	SendProtocolLogMaxAge                 TimeSpan
	// BackPressure are the thresholds of the resources the hub meters (spec §8.5).
	BackPressure BackPressure
	// BindRetryInterval is how often a receive connector binding that could not be bound
	// (Event 1020) is tried again; the connector comes up by itself once its port is free.
	// 00:00:00 never retries.
	BindRetryInterval TimeSpan
	// ExternalDNSServers are the DNS servers the hub asks for MX records of send connectors
	// with DNSRoutingEnabled (Set-TransportService); empty: the system's resolver. exlab also
	// takes ip:port, so a lab can point them at a DNS server of its own on loopback.
	ExternalDNSServers []string
	// MaxConcurrentMailboxDeliveries is how many messages the hub's categorizer delivers to
	// mailboxes at once (Set-TransportService, default 20).
	MaxConcurrentMailboxDeliveries int
	// MailboxDatabase is the name of the server's mailbox database, the NextHopDomain of its
	// SmtpDeliveryToMailbox queue (spec §8.1); empty means Setup's default, "Mailbox Database"
	// and ten digits derived from the server name (MailboxDatabaseName).
	MailboxDatabase string
	// MailboxDeliveryTransport is how the hub reaches this server's Mailbox Transport Delivery
	// service (Default Mailbox Delivery <SERVER>, 475): Memory, SMTP over an in-process pipe
	// like the frontend's hop, or Tcp, SMTP over loopback to the 475 binding.
	MailboxDeliveryTransport MailboxDeliveryTransport
	// MailboxDeliveryConnectorProtocolLoggingLevel (Set-MailboxTransportService) switches the
	// protocol log of the Mailbox Delivery receive connector, written under
	// TransportRoles/Logs/Mailbox/ProtocolLog/SmtpReceive/Delivery (spec §7.1).
	MailboxDeliveryConnectorProtocolLoggingLevel ProtocolLoggingLevel
}

// MailboxDeliveryTransport is how the hub reaches the Mailbox Transport Delivery service.
type MailboxDeliveryTransport string

const (
	MailboxDeliveryMemory MailboxDeliveryTransport = "Memory"
	MailboxDeliveryTcp    MailboxDeliveryTransport = "Tcp"
)

// AcceptedDomain is one accepted domain (New-AcceptedDomain).
type AcceptedDomain struct {
	Name               string
	DomainName         string
	DomainType         DomainType
	Default            bool
	MatchSubDomains    bool
	AddressBookEnabled *bool
}

// Mailbox is one mailbox user with its addresses and lab password.
type Mailbox struct {
	Name               string
	PrimarySmtpAddress string
	EmailAddresses     []string
	Password           string
	// Database is the mailbox database the mailbox is homed in (New-Mailbox -Database), one
	// server's MailboxDatabase: that server's Mailbox Transport Delivery writes its messages.
	// Empty: the database of the first server with the HubTransport role.
	Database string
}

// ADPermission is one Add-ADPermission entry on a receive connector (spec §2.4).
type ADPermission struct {
	Identity       string
	User           string
	ExtendedRights []string
	Deny           bool
}

// ReceiveConnector is one receive connector with every parameter of spec §1.1.
type ReceiveConnector struct {
	Name                                      string
	Server                                    string
	TransportRole                             TransportRole
	Enabled                                   bool
	Bindings                                  []Binding
	RemoteIPRanges                            []IPRange
	AuthMechanism                             []AuthMechanism
	PermissionGroups                          []PermissionGroup
	Fqdn                                      string
	Banner                                    string
	Comment                                   string
	MaxMessageSize                            ByteSize
	SizeEnabled                               SizeEnabled
	MaxRecipientsPerMessage                   int
	MaxInboundConnection                      Limit
	MaxInboundConnectionPerSource             Limit
	MaxInboundConnectionPercentagePerSource   int
	MessageRateLimit                          Limit
	MessageRateSource                         MessageRateSource
	ConnectionTimeout                         TimeSpan
	ConnectionInactivityTimeout               TimeSpan
	TarpitInterval                            TimeSpan
	AuthTarpitInterval                        TimeSpan
	MaxAcknowledgementDelay                   TimeSpan
	MaxHeaderSize                             ByteSize
	MaxHopCount                               int
	MaxLocalHopCount                          int
	MaxLogonFailures                          int
	MaxProtocolErrors                         Limit
	RequireTLS                                bool
	RequireEHLODomain                         bool
	EnableAuthGSSAPI                          bool
	DomainSecureEnabled                       bool
	ProtocolLoggingLevel                      ProtocolLoggingLevel
	PipeliningEnabled                         bool
	ChunkingEnabled                           bool
	EightBitMimeEnabled                       bool
	BinaryMimeEnabled                         bool
	DeliveryStatusNotificationEnabled         bool
	EnhancedStatusCodesEnabled                bool
	SmtpUtf8Enabled                           bool
	SuppressXAnonymousTls                     bool
	OrarEnabled                               bool
	LongAddressesEnabled                      bool
	BareLinefeedRejectionEnabled              bool
	RejectReservedTopLevelRecipientDomains    bool
	RejectReservedSecondLevelRecipientDomains bool
	RejectSingleLabelRecipientDomains         bool
	// RecipientValidationEnabled stands for the Recipient Filter agent with Recipient Lookup
	// (spec §4.2): unknown recipients in authoritative domains are refused at RCPT with
	// 550 5.1.1 instead of being NDR'd by the categorizer. Off by default, as on Mailbox servers.
	RecipientValidationEnabled bool
	TlsCertificateName         string
	DefaultDomain              string
}

// SendConnector is one send connector (New-SendConnector). Issue 5 gives it its full behaviour.
type SendConnector struct {
	Name                   string
	AddressSpaces          []string
	SourceTransportServers []string
	DNSRoutingEnabled      bool
	SmartHosts             []string
	Port                   int
	FrontendProxyEnabled   bool
	RequireTLS             bool
	TlsAuthLevel           TlsAuthLevel
	TlsDomain              string
	// SmartHostAuthMechanism and AuthenticationCredential: how exlab authenticates to the
	// smart hosts (Exchange takes a PSCredential; here UserName and Password).
	SmartHostAuthMechanism   SmartHostAuthMechanism
	AuthenticationCredential Credential
	MaxMessageSize           ByteSize
	Enabled                  bool
	ProtocolLoggingLevel     ProtocolLoggingLevel
	// SmtpMaxMessagesPerConnection is how many messages one session to a next hop carries
	// before it is closed and another opened.
	SmtpMaxMessagesPerConnection int
	// DkimSigning signs the connector's mail with DKIM (exlab's; Exchange Online has
	// New-DkimSigningConfig, on-premises Exchange signs nothing).
	DkimSigning DkimSigningConfig
}

// DkimSigningConfig is a DKIM signing key for a send connector.
type DkimSigningConfig struct {
	Enabled bool
	// Domain (d=) and Selector (s=): the public key is published at
	// <Selector>._domainkey.<Domain>.
	Domain   string
	Selector string
	// PrivateKeyFile is a PEM RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) key, relative to the
	// configuration file.
	PrivateKeyFile string
	// HeaderKeys are the signed header fields (default: RFC 6376 §5.4.1's list).
	HeaderKeys []string
	// Signer is the loaded key (LoadFiles).
	Signer crypto.Signer `exlab:"-"`
}

// BackPressure is the hub's resource metering (EdgeTransport.exe.config in Exchange): every
// ResourceMeteringInterval the used disk space of the data directory's volume (percent) and
// the number of messages in the queue database are compared with their thresholds. At
// Medium the hub refuses mail from non-Exchange sources with 452 4.3.1, at High all mail.
type BackPressure struct {
	Enabled                  bool
	ResourceMeteringInterval TimeSpan
	UsedDiskSpace            PressureThresholds // percent of the volume
	QueueLength              PressureThresholds // messages queued
}

// PressureThresholds are one resource's transitions between Low, Medium and High.
type PressureThresholds struct {
	LowToMedium  int64
	MediumToHigh int64
	HighToMedium int64
	MediumToLow  int64
}

// TransportConfig holds the organization's transport settings (Set-TransportConfig).
type TransportConfig struct {
	// TLSReceiveDomainSecureList are the partner domains whose servers authenticate with a
	// certificate (mutual TLS, Domain Secure) on receive connectors with DomainSecureEnabled
	// and the Partners permission group.
	TLSReceiveDomainSecureList []string
	// Shadow redundancy (spec §8.4): with more than one hub, a hub that accepts a message
	// keeps it until a shadow copy is acknowledged by another hub (XSHADOWREQUEST) before its
	// 250; the shadow server asks the primary every ShadowHeartbeatFrequency which copies it
	// may discard (XQDISCARD), and resubmits them when the primary has not answered for
	// ShadowResubmitTimeSpan. RejectMessageOnShadowFailure refuses a message with 451 4.4.0
	// when no shadow could be made; MaxRetriesForLocalSiteShadow is how many other hubs are
	// tried; a shadow copy not discarded goes after ShadowMessageAutoDiscardInterval.
	ShadowRedundancyEnabled          bool
	ShadowHeartbeatFrequency         TimeSpan
	ShadowResubmitTimeSpan           TimeSpan
	ShadowMessageAutoDiscardInterval TimeSpan
	RejectMessageOnShadowFailure     bool
	MaxRetriesForLocalSiteShadow     int
	ShadowMessagePreferenceSetting   ShadowMessagePreference
}

// ShadowMessagePreference is where a hub prefers its shadow copies (Set-TransportConfig).
type ShadowMessagePreference string

const (
	ShadowPreferRemote ShadowMessagePreference = "PreferRemote"
	ShadowLocalOnly    ShadowMessagePreference = "LocalOnly"
	ShadowRemoteOnly   ShadowMessagePreference = "RemoteOnly"
)

// Certificate is a certificate imported on a server and enabled for services
// (Import-ExchangeCertificate, Enable-ExchangeCertificate -Services SMTP). Receive connectors
// use a certificate enabled for SMTP whose names cover their FQDN (or the one TlsCertificateName
// names) instead of the self-signed certificate. Its files are read by LoadFiles, after
// validation; a bad file is reported with the line that names it.
type Certificate struct {
	Server          string // the server it is imported on; empty: every server
	FriendlyName    string
	CertificateFile string   // PEM: the certificate, then its chain; relative to the configuration file
	PrivateKeyFile  string   // PEM private key; empty: in CertificateFile
	Services        []string // None, IIS, SMTP, IMAP, POP, UM, UMCallRouter
	// KeyPair is the loaded certificate (Leaf set; LoadFiles).
	KeyPair *tls.Certificate `exlab:"-"`
}

// EnabledFor says whether the certificate is enabled for service (SMTP, IIS, …).
func (c *Certificate) EnabledFor(service string) bool {
	for _, s := range c.Services {
		if strings.EqualFold(s, service) {
			return true
		}
	}
	return false
}

// TlsAuthLevel is what a send connector with RequireTLS checks of the next hop's certificate.
type TlsAuthLevel string

const (
	TlsEncryptionOnly        TlsAuthLevel = "EncryptionOnly"
	TlsCertificateValidation TlsAuthLevel = "CertificateValidation"
	TlsDomainValidation      TlsAuthLevel = "DomainValidation"
)

// SmartHostAuthMechanism is how a send connector authenticates to its smart hosts.
type SmartHostAuthMechanism string

const (
	SmartHostNone                  SmartHostAuthMechanism = "None"
	SmartHostBasicAuth             SmartHostAuthMechanism = "BasicAuth"
	SmartHostBasicAuthRequireTLS   SmartHostAuthMechanism = "BasicAuthRequireTLS"
	SmartHostExchangeServer        SmartHostAuthMechanism = "ExchangeServer"
	SmartHostExternalAuthoritative SmartHostAuthMechanism = "ExternalAuthoritative"
)

// Credential is a user name and password (Get-Credential).
type Credential struct {
	UserName string
	Password string
}

// AddressSpace is one SendConnector address space: "SMTP:contoso.com;1", "SMTP:*.contoso.com;5",
// "SMTP:*;1" (type, domain pattern, cost).
type AddressSpace struct {
	Domain string // lower case; "*" for all, "*.d" for the subdomains of d
	Cost   int
}

// ParseAddressSpace parses Exchange's address-space form; the type must be SMTP and the cost
// 1-100 (New-SendConnector), 1 when omitted.
func ParseAddressSpace(s string) (AddressSpace, error) {
	v := strings.TrimSpace(s)
	if t, rest, ok := strings.Cut(v, ":"); ok {
		if !strings.EqualFold(t, "SMTP") {
			return AddressSpace{}, fmt.Errorf("%q: only SMTP address spaces are supported", s)
		}
		v = rest
	}
	dom, cost, hasCost := strings.Cut(v, ";")
	a := AddressSpace{Domain: strings.ToLower(strings.TrimSpace(dom)), Cost: 1}
	if hasCost {
		n, err := strconv.Atoi(strings.TrimSpace(cost))
		if err != nil || n < 1 || n > 100 {
			return AddressSpace{}, fmt.Errorf("%q: the cost must be 1-100", s)
		}
		a.Cost = n
	}
	if a.Domain == "" || (a.Domain != "*" && !validDomain(strings.TrimPrefix(a.Domain, "*."))) {
		return AddressSpace{}, fmt.Errorf("%q is not an address space (write SMTP:contoso.com;1, SMTP:*.contoso.com;1 or SMTP:*;1)", s)
	}
	return a, nil
}

// Matches says whether the address space covers domain, and how specifically (longer is more
// specific; -1 when it does not match).
func (a AddressSpace) Matches(domain string) int {
	domain = strings.ToLower(domain)
	switch {
	case a.Domain == "*":
		return 0
	case a.Domain == domain:
		return len(a.Domain) + 1
	case strings.HasPrefix(a.Domain, "*.") && strings.HasSuffix(domain, a.Domain[1:]):
		return len(a.Domain)
	}
	return -1
}

// dialBinding is the binding a connector is dialled at: its first IPv4 one, else its first;
// ok false without bindings or for an ephemeral port.
func (rc *ReceiveConnector) dialBinding() (b Binding, ok bool) {
	if len(rc.Bindings) == 0 {
		return b, false
	}
	b = rc.Bindings[0]
	for _, x := range rc.Bindings {
		if x.Addr.Is4() {
			b = x
			break
		}
	}
	return b, b.Port != 0
}

// PeerConnectorAddress is where another server reaches the hub connector prefix+server of
// server ("Default EX02", "Client Proxy EX02"), as o says (PeerAddress); "" when there is none.
func (o *Organization) PeerConnectorAddress(server, prefix string) string {
	p := o.Server(server)
	if p == nil {
		return ""
	}
	for _, rc := range o.ConnectorsOf(p.Name, HubTransport) {
		if strings.EqualFold(rc.Name, prefix+p.Name) {
			return rc.PeerAddress(p)
		}
	}
	return ""
}

// DialAddress is where another service of this server reaches the connector: its first IPv4
// binding (else its first), a wildcard as loopback, the port shifted by offset; "" for an
// ephemeral port, which the configuration cannot tell.
func (rc *ReceiveConnector) DialAddress(offset int) string {
	b, ok := rc.dialBinding()
	if !ok {
		return ""
	}
	a := b.Addr
	if a.IsUnspecified() {
		a = netip.MustParseAddr("127.0.0.1")
		if b.Addr.Is6() {
			a = netip.IPv6Loopback()
		}
	}
	return netip.AddrPortFrom(a, uint16(b.Port+offset)).String()
}

// PeerAddress is where another server of the organization reaches this connector of srv: its
// first IPv4 binding (else its first), a wildcard as srv's IPAddress, else as srv's Fqdn (a
// host name, resolved when dialled); "" for an ephemeral port. Peers dial the configured port:
// another server's --port-offset is not known to them.
func (rc *ReceiveConnector) PeerAddress(srv *Server) string {
	b, ok := rc.dialBinding()
	if !ok {
		return ""
	}
	port := strconv.Itoa(b.Port)
	switch {
	case !b.Addr.IsUnspecified():
		return netip.AddrPortFrom(b.Addr, uint16(b.Port)).String()
	case srv.IPAddress != "":
		return net.JoinHostPort(srv.IPAddress, port)
	default:
		return net.JoinHostPort(srv.Fqdn, port)
	}
}

// Identity is the connector's Exchange identity, <SERVER>\<Name>.
func (rc *ReceiveConnector) Identity() string { return rc.Server + `\` + rc.Name }

// HasAuth says whether mechanism m is among the connector's AuthMechanism values.
func (rc *ReceiveConnector) HasAuth(m AuthMechanism) bool {
	for _, x := range rc.AuthMechanism {
		if x == m {
			return true
		}
	}
	return false
}

// HasGroup says whether group g is among the connector's PermissionGroups.
func (rc *ReceiveConnector) HasGroup(g PermissionGroup) bool {
	for _, x := range rc.PermissionGroups {
		if x == g {
			return true
		}
	}
	return false
}

// ServerByFqdn is the server whose Fqdn is fqdn, or nil.
func (o *Organization) ServerByFqdn(fqdn string) *Server {
	for i := range o.Servers {
		if equalFold(o.Servers[i].Fqdn, fqdn) {
			return &o.Servers[i]
		}
	}
	return nil
}

// Server returns the server called name, or nil.
func (o *Organization) Server(name string) *Server {
	for i := range o.Servers {
		if equalFold(o.Servers[i].Name, name) {
			return &o.Servers[i]
		}
	}
	return nil
}

// ConnectorsOf returns the enabled receive connectors of server name in the given role.
func (o *Organization) ConnectorsOf(server string, role TransportRole) []*ReceiveConnector {
	var out []*ReceiveConnector
	for i := range o.ReceiveConnectors {
		rc := &o.ReceiveConnectors[i]
		if rc.Enabled && equalFold(rc.Server, server) && rc.TransportRole == role {
			out = append(out, rc)
		}
	}
	return out
}

// Duration is a convenience for TimeSpan values.
func (t TimeSpan) Duration() time.Duration { return time.Duration(t) }

// ServerComponentState is the state of the server's transport components
// (Get-ServerComponentState).
type ServerComponentState struct {
	HubTransport ComponentState
}

// ComponentState is Active or Inactive.
type ComponentState string

const (
	ComponentActive   ComponentState = "Active"
	ComponentInactive ComponentState = "Inactive"
)

// FaultStep is the point of an SMTP session a fault applies to.
type FaultStep string

const (
	StepConnect   FaultStep = "Connect"   // instead of the banner
	StepEhlo      FaultStep = "Ehlo"      // EHLO and HELO
	StepStartTls  FaultStep = "StartTls"  // STARTTLS
	StepAuth      FaultStep = "Auth"      // AUTH and X-EXPS
	StepMail      FaultStep = "Mail"      // MAIL FROM
	StepRcpt      FaultStep = "Rcpt"      // RCPT TO
	StepData      FaultStep = "Data"      // the DATA or first BDAT command
	StepEndOfData FaultStep = "EndOfData" // the message's final reply
	StepProxy     FaultStep = "Proxy"     // the frontend's hop to a hub
)

// FaultSteps lists every step, in session order.
var FaultSteps = []FaultStep{StepConnect, StepEhlo, StepStartTls, StepAuth, StepMail, StepRcpt, StepData, StepEndOfData, StepProxy}

// FaultAction is what a fault does at its step.
type FaultAction string

const (
	FaultReply      FaultAction = "Reply"      // answer with Reply or ReplyId instead
	FaultDelay      FaultAction = "Delay"      // wait Delay, then go on as usual
	FaultDisconnect FaultAction = "Disconnect" // close the connection without a reply
	FaultBandwidth  FaultAction = "Bandwidth"  // from here on, BytesPerSecond each way (one limit for both)
)

// Fault is one fault-injection rule. A session that reaches Step on a matching connector, for
// a matching client, sender and recipient, gets the fault with Probability, at most Count
// times in all (0: no limit).
type Fault struct {
	Name string
	// Connector is a receive connector's Name or Identity; empty: every connector.
	Connector string
	Step      FaultStep
	Action    FaultAction
	// Reply is a whole reply line ("451 4.7.0 Temporary server error. Please try again
	// later. PRX3"); ReplyId names a row of the spec's reply table instead (R64).
	Reply   string
	ReplyId string
	Delay   TimeSpan
	// BytesPerSecond is the Bandwidth action's limit, on the bytes read and written together.
	BytesPerSecond ByteSize
	Probability    Probability
	Count          int
	// Sender and Recipient are patterns (path.Match, case-insensitive: "*@example.org").
	Sender    string
	Recipient string
	// RemoteIPRanges limits the fault to these clients (the receive connector's forms).
	RemoteIPRanges []IPRange
}
