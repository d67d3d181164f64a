package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Param describes one parameter of a configuration object: the single place where its default,
// its allowed range or values, its Exchange reference and its meaning are written. The
// defaults that setDefaults fills, the range and value checks of validation and
// docs/config-reference.md all come from these tables (STYLE §5, Postfix's
// default/min/max per parameter). Checks that relate two fields stay code in validate.go.
type Param struct {
	// Name is the parameter's name as the file writes it; a dotted path for a value of a nested
	// object without a table of its own (BackPressure's "UsedDiskSpace.LowToMedium").
	Name string
	// Default is the value a parameter the file omits gets, spelled as the file would spell it
	// (and as Get-ReceiveConnector prints it); "" leaves the type's zero value.
	Default string
	// DefaultNote describes a default that depends on other values (filled in fill); docs only.
	DefaultNote string
	// Min and Max bound a number, size, Limit (when not Unlimited) or TimeSpan, inclusive, in the
	// same spelling; either may be empty. A TimeSpan with only Min 00:00:00 "must not be negative".
	Min, Max string
	// Above is an exclusive lower bound of a TimeSpan ("must be above 00:00:00").
	Above string
	// Values are the allowed values of an enum, or of each element of a list of enums.
	Values []string
	// Fold compares Values case-insensitively; Optional lets an empty value pass.
	Fold, Optional bool
	// Ref is where Exchange documents the parameter: a cmdlet or a section of ../shared/spec.
	Ref string
	// Doc is the parameter's meaning in one line.
	Doc string
}

// Object is one kind of configuration object and its parameter table.
type Object struct {
	// Name is the Go type's name ("ReceiveConnector"); Path is where objects of the kind sit in
	// the file ("ReceiveConnectors[]").
	Name, Path string
	// Ref is the cmdlet (or file) that manages the object in Exchange; Doc says what it is.
	Ref, Doc string
	// CheckedBy names the code that checks the object's values itself (Fault.Check), so that
	// validation does not check them a second time; empty: validation checks Min, Max, Above
	// and Values.
	CheckedBy string
	Params    []Param
	typ       reflect.Type
}

const (
	refNRC  = "New-ReceiveConnector"
	refNSC  = "New-SendConnector"
	refSTS  = "Set-TransportService"
	refSFTS = "Set-FrontendTransportService"
	refBP   = "EdgeTransport.exe.config, spec §8.5"
	exlab   = "exlab"
	// allRemoteIPRanges is Exchange's default RemoteIPRanges: every IPv6 and every IPv4 address.
	allRemoteIPRanges = "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.255.255.255"
)

var (
	timeAboveZero = "00:00:00"
	loggingLevels = []string{string(LoggingNone), string(LoggingVerbose)}
	roles         = []string{string(FrontendTransport), string(HubTransport)}
)

// Objects returns every object's parameter table, in the order of the reference document.
// The tables are built anew on each call: nothing in them is shared or can be changed for
// another caller.
func Objects() []Object {
	objs := []Object{
		{Name: "OrganizationInfo", Path: "Organization", Ref: "Get-OrganizationConfig",
			Doc: "Organization-wide settings.", typ: reflect.TypeOf(OrganizationInfo{}), Params: []Param{
				{Name: "Name", Ref: "Get-OrganizationConfig", Doc: "the organization's name"},
				{Name: "ExchangeServerAuthKey", DefaultNote: "a random key kept in the data directory", Ref: exlab,
					Doc: "shared secret of the HMAC challenge with which a frontend proves to a hub that it is an Exchange server (X-EXPS; Exchange uses Kerberos)"},
				{Name: "MaxMessagesPerMailbox", Default: "Unlimited", Min: "1", Max: "2147483647", Ref: exlab,
					Doc: "messages a lab mailbox keeps; the oldest beyond it are removed within seconds of a delivery, or Unlimited"},
				{Name: "MessageRetention", Default: "00:00:00", Min: "00:00:00", Max: "3650.00:00:00", Ref: exlab,
					Doc: "age after which a delivered message is removed from its mailbox (00:00:00 keeps messages forever)"},
			}},
		{Name: "Server", Path: "Servers[]", Ref: "Get-ExchangeServer, Set-TransportService",
			Doc: "An Exchange server and its transport service settings.", typ: reflect.TypeOf(Server{}), Params: []Param{
				{Name: "Name", Ref: "Get-ExchangeServer", Doc: "the server's name (EX01); unique"},
				{Name: "Fqdn", Ref: "Get-ExchangeServer", Doc: "the server's fully qualified domain name"},
				{Name: "Site", Default: "Default-First-Site-Name", Ref: "Get-ExchangeServer, spec §6.1",
					Doc: "the Active Directory site: a frontend proxies to the hubs of its own site"},
				{Name: "IPAddress", DefaultNote: "Fqdn, resolved by DNS (or the hosts file) when dialled", Ref: exlab,
					Doc: "where the organization's other servers reach this server's connectors bound to a wildcard (the DNS record of Fqdn)"},
				{Name: "Roles", Default: "FrontendTransport, HubTransport", Values: roles, Ref: "Get-ExchangeServer",
					Doc: "the transport services the server runs (a Mailbox server runs both)"},
				{Name: "Version", Default: string(Version2019), Values: []string{string(Version2013), string(Version2016), string(Version2019)},
					Ref: "spec §5.2", Doc: "the Exchange release whose reply and EHLO variants the server shows"},
				{Name: "BindingConflictMode", Default: string(BindingExclusive), Values: []string{string(BindingExclusive), string(BindingShared)},
					Ref: "exlab, spec §3", Doc: "Exclusive refuses two connectors of different roles on one IP:port as the cmdlets do; Shared binds both (SO_REUSEPORT)"},
				{Name: "ProxyConnectTimeout", Default: "00:00:15", Above: timeAboveZero, Ref: exlab,
					Doc: "how long the frontend waits to connect to a hub before a PRX reply"},
				{Name: "ProxyCommandTimeout", Default: "00:01:00", Above: timeAboveZero, Ref: exlab,
					Doc: "how long the frontend waits for a hub's reply to one command before a PRX reply"},
				{Name: "ProxyPoolSize", Default: "64", Min: "0", Max: "100000", Ref: exlab,
					Doc: "idle authenticated hub sessions the frontend keeps"},
				{Name: "QueueGlitchRetryCount", Default: "4", Min: "0", Max: "15", Ref: refSTS + ", spec §8.3",
					Doc: "failures retried after QueueGlitchRetryInterval"},
				{Name: "QueueGlitchRetryInterval", Default: "00:01:00", Above: timeAboveZero, Ref: refSTS + ", spec §8.3",
					Doc: "wait after each of the first QueueGlitchRetryCount failures"},
				{Name: "TransientFailureRetryCount", Default: "6", Min: "0", Max: "15", Ref: refSTS + ", spec §8.3",
					Doc: "further failures retried after TransientFailureRetryInterval"},
				{Name: "TransientFailureRetryInterval", Default: "00:05:00", Above: timeAboveZero, Ref: refSTS + ", spec §8.3",
					Doc: "wait after each of the next TransientFailureRetryCount failures"},
				{Name: "OutboundConnectionFailureRetryInterval", Default: "00:10:00", Above: timeAboveZero, Ref: refSTS + ", spec §8.3",
					Doc: "wait after that when the next hop could not be reached"},
				{Name: "MessageRetryInterval", Default: "00:05:00", Above: timeAboveZero, Ref: refSTS + ", spec §8.3 [D]",
					Doc: "wait after that when the next hop answered"},
				{Name: "MessageExpirationTimeout", Default: "2.00:00:00", Above: timeAboveZero, Ref: refSTS + ", spec §8.3",
					Doc: "age at which an undelivered message fails with an NDR"},
				{Name: "DelayNotificationTimeout", Default: "04:00:00", Above: timeAboveZero, Ref: refSTS + ", spec §8.3",
					Doc: "age at which the sender of an undelivered message gets one delay DSN"},
				{Name: "PoisonMessageDetectionEnabled", Default: "true", Ref: refSTS,
					Doc: "moves a message that was in delivery when the service died PoisonThreshold times to the Poison queue"},
				{Name: "PoisonThreshold", Default: "2", Min: "1", Max: "10", Ref: refSTS,
					Doc: "crashes during a message's delivery before it is poison"},
				{Name: "MessageTrackingLogEnabled", Default: "true", Ref: refSTS + ", spec §7.2", Doc: "writes the message tracking log"},
				{Name: "MessageTrackingLogPath", DefaultNote: "TransportRoles/Logs/MessageTracking under the data directory",
					Ref: refSTS + ", spec §7.2", Doc: "directory of the message tracking log"},
				{Name: "MessageTrackingLogMaxFileSize", Default: "10 MB (10,485,760 bytes)", Ref: refSTS + ", spec §7.2",
					Doc: "size at which a message tracking log file is closed"},
				{Name: "MessageTrackingLogMaxDirectorySize", Default: "1000 MB (1,048,576,000 bytes)", Ref: refSTS + ", spec §7.2",
					Doc: "size of the message tracking log directory above which the oldest files go"},
				{Name: "MessageTrackingLogMaxAge", Default: "30.00:00:00", Ref: refSTS + ", spec §7.2",
					Doc: "age at which message tracking log files go"},
				{Name: "MessageTrackingLogSubjectLoggingEnabled", Default: "true", Ref: refSTS + ", spec §7.2",
					Doc: "writes message subjects into the message tracking log"},
				{Name: "ReceiveProtocolLogPath", DefaultNote: "TransportRoles/Logs/<FrontEnd|Hub>/ProtocolLog/SmtpReceive under the data directory",
					Ref: refSTS + ", " + refSFTS + ", spec §7.1", Doc: "directory of the SmtpReceive protocol logs (a FrontEnd or Hub directory in it)"},
				{Name: "ReceiveProtocolLogMaxFileSize", Default: "10 MB (10,485,760 bytes)", Ref: refSTS + ", spec §7.1",
					Doc: "size at which an SmtpReceive log file is closed"},
				{Name: "ReceiveProtocolLogMaxDirectorySize", Default: "250 MB (262,144,000 bytes)", Ref: refSTS + ", spec §7.1",
					Doc: "size of an SmtpReceive log directory above which the oldest files go"},
				{Name: "ReceiveProtocolLogMaxAge", Default: "30.00:00:00", Ref: refSTS + ", spec §7.1",
					Doc: "age at which SmtpReceive log files go"},
				{Name: "IntraOrgConnectorProtocolLoggingLevel", Default: string(LoggingVerbose), Values: loggingLevels, Ref: refSFTS,
					Doc: "logs the frontend's sessions to the hub (the implicit intra-org send connector) in its SmtpSend log"},
				{Name: "SendProtocolLogPath", DefaultNote: "TransportRoles/Logs/<FrontEnd|Hub>/ProtocolLog/SmtpSend under the data directory",
					Ref: refSTS + ", " + refSFTS + ", spec §7.1", Doc: "directory of the SmtpSend protocol logs (a FrontEnd or Hub directory in it)"},
				{Name: "SendProtocolLogMaxFileSize", Default: "10 MB (10,485,760 bytes)", Ref: refSTS + ", spec §7.1",
					Doc: "size at which an SmtpSend log file is closed"},
				{Name: "SendProtocolLogMaxDirectorySize", Default: "250 MB (262,144,000 bytes)", Ref: refSTS + ", spec §7.1",
					Doc: "size of an SmtpSend log directory above which the oldest files go"},
				{Name: "SendProtocolLogMaxAge", Default: "30.00:00:00", Ref: refSTS + ", spec §7.1",
					Doc: "age at which SmtpSend log files go"},
				{Name: "BackPressure", Ref: refBP, Doc: "the hub's resource metering (the BackPressure table below)"},
				{Name: "BindRetryInterval", Default: "00:00:10", Min: "00:00:00", Ref: exlab + ", Event 1020",
					Doc: "how often a binding that could not be bound is tried again; 00:00:00 never retries"},
				{Name: "ExternalDNSServers", DefaultNote: "the system's resolver", Ref: refSTS,
					Doc: "DNS servers asked for the MX records of send connectors with DNSRoutingEnabled (exlab also takes ip:port)"},
				{Name: "MaxConcurrentMailboxDeliveries", Default: "20", Min: "1", Max: "256", Ref: refSTS,
					Doc: "messages the categorizer delivers to mailboxes at once"},
				{Name: "MailboxDatabase", DefaultNote: "Mailbox Database and ten digits derived from the server name", Ref: "New-MailboxDatabase, spec §8.1",
					Doc: "the server's mailbox database: the NextHopDomain of its SmtpDeliveryToMailbox queue"},
				{Name: "MailboxDeliveryTransport", Default: string(MailboxDeliveryMemory),
					Values: []string{string(MailboxDeliveryMemory), string(MailboxDeliveryTcp)}, Ref: exlab,
					Doc: "how the hub reaches Default Mailbox Delivery <SERVER> (475): Memory, SMTP over an in-process pipe, or Tcp, over loopback"},
				{Name: "MailboxDeliveryConnectorProtocolLoggingLevel", Default: string(LoggingNone), Values: loggingLevels, Ref: "Set-MailboxTransportService, spec §7.1",
					Doc: "the protocol log of Default Mailbox Delivery <SERVER> (Logs/Mailbox/ProtocolLog/SmtpReceive/Delivery)"},
			}},
		{Name: "BackPressure", Path: "Servers[].BackPressure", Ref: refBP,
			Doc: "The hub's resource metering: every ResourceMeteringInterval the used disk space of the data directory's volume (percent) " +
				"and the messages in the queue database are compared with their thresholds. At Medium the hub refuses mail from " +
				"non-Exchange sources with 452 4.3.1, at High all mail. The thresholds must satisfy MediumToLow <= LowToMedium <= HighToMedium <= MediumToHigh.",
			typ: reflect.TypeOf(BackPressure{}), Params: []Param{
				{Name: "Enabled", Default: "true", Ref: refBP, Doc: "meters resources and applies back pressure"},
				{Name: "ResourceMeteringInterval", Default: "00:00:02", Above: timeAboveZero, Ref: refBP, Doc: "how often the resources are measured"},
				{Name: "UsedDiskSpace.LowToMedium", Default: "90", Ref: refBP + " (CSS-BP, Exchange 2019)", Doc: "percent of the volume used at which Low becomes Medium"},
				{Name: "UsedDiskSpace.MediumToHigh", Default: "99", Ref: refBP + " (CSS-BP, Exchange 2019)", Doc: "percent at which Medium becomes High"},
				{Name: "UsedDiskSpace.HighToMedium", Default: "94", Ref: refBP + " (CSS-BP, Exchange 2019)", Doc: "percent at which High falls back to Medium"},
				{Name: "UsedDiskSpace.MediumToLow", Default: "88", Ref: refBP + " (CSS-BP, Exchange 2019)", Doc: "percent at which Medium falls back to Low"},
				{Name: "QueueLength.LowToMedium", Default: "9999", Ref: refBP + " (SubmissionQueue)", Doc: "messages queued at which Low becomes Medium"},
				{Name: "QueueLength.MediumToHigh", Default: "15000", Ref: refBP + " (SubmissionQueue)", Doc: "messages queued at which Medium becomes High"},
				{Name: "QueueLength.HighToMedium", Default: "10000", Ref: refBP + " (SubmissionQueue)", Doc: "messages queued at which High falls back to Medium"},
				{Name: "QueueLength.MediumToLow", Default: "2000", Ref: refBP + " (SubmissionQueue)", Doc: "messages queued at which Medium falls back to Low"},
			}},
		{Name: "AcceptedDomain", Path: "AcceptedDomains[]", Ref: "New-AcceptedDomain", Doc: "A domain the organization accepts mail for.",
			typ: reflect.TypeOf(AcceptedDomain{}), Params: []Param{
				{Name: "Name", DefaultNote: "the DomainName", Ref: "New-AcceptedDomain", Doc: "the accepted domain's name"},
				{Name: "DomainName", Ref: "New-AcceptedDomain, spec §4.1", Doc: "the domain, or a wildcard *.domain for its subdomains"},
				{Name: "DomainType", Default: string(Authoritative), Values: []string{string(Authoritative), string(InternalRelay), string(ExternalRelay)},
					Ref: "New-AcceptedDomain, spec §4.1", Doc: "Authoritative: the organization's mailboxes; relay types forward what has no mailbox"},
				{Name: "Default", DefaultNote: "true for the first accepted domain when none is the default", Ref: "Set-AcceptedDomain -MakeDefault",
					Doc: "the default domain (postmaster@ sends NDRs); exactly one is"},
				{Name: "MatchSubDomains", Default: "false", Ref: "Set-AcceptedDomain, spec §4.1", Doc: "also accepts every subdomain of DomainName"},
				{Name: "AddressBookEnabled", DefaultNote: "true for Authoritative, false otherwise", Ref: "Set-AcceptedDomain",
					Doc: "recipient lookup in the address book for the domain"},
			}},
		{Name: "Mailbox", Path: "Mailboxes[]", Ref: "New-Mailbox", Doc: "A mailbox user with its addresses and lab password.",
			typ: reflect.TypeOf(Mailbox{}), Params: []Param{
				{Name: "Name", DefaultNote: "the local part of PrimarySmtpAddress", Ref: "New-Mailbox", Doc: "the user's name (also the AUTH user name)"},
				{Name: "PrimarySmtpAddress", Ref: "New-Mailbox", Doc: "the primary address; its domain must be an accepted domain"},
				{Name: "EmailAddresses", Ref: "Set-Mailbox", Doc: "further (proxy) addresses, smtp: prefix optional; in accepted domains"},
				{Name: "Password", Ref: exlab, Doc: "the lab password for AUTH"},
				{Name: "Database", DefaultNote: "the mailbox database of the first server with the HubTransport role", Ref: "New-Mailbox -Database",
					Doc: "the mailbox database the mailbox is homed in (a server's MailboxDatabase): that server delivers its messages"},
			}},
		{Name: "ReceiveConnector", Path: "ReceiveConnectors[]", Ref: refNRC + ", Set-ReceiveConnector",
			Doc: "A receive connector with every parameter of spec §1.1; omitted parameters get New-ReceiveConnector's defaults.",
			typ: reflect.TypeOf(ReceiveConnector{}), Params: []Param{
				{Name: "Name", Ref: refNRC, Doc: "the connector's name, at most 64 characters, unique on its server"},
				{Name: "Server", DefaultNote: "the only server when there is one", Ref: refNRC, Doc: "the server the connector is on"},
				{Name: "TransportRole", Values: roles, Ref: refNRC, Doc: "the service that owns the connector; the server must run it"},
				{Name: "Enabled", Default: "true", Ref: refNRC, Doc: "the connector listens"},
				{Name: "Bindings", Ref: refNRC + ", spec §3", Doc: "local IP:port endpoints ([IPv6]:port); an enabled connector needs one"},
				{Name: "RemoteIPRanges", Default: allRemoteIPRanges, Ref: refNRC + ", spec §3",
					Doc: "the clients the connector serves: addresses, ranges a-b or CIDR blocks"},
				{Name: "AuthMechanism", Default: string(AuthTls), Values: []string{string(AuthNone), string(AuthTls), string(AuthIntegrated), string(AuthBasicAuth),
					string(AuthBasicAuthRequireTLS), string(AuthExchangeServer), string(AuthExternalAuthoritative)}, Ref: refNRC + ", spec §2.3",
					Doc: "the authentication the connector offers"},
				{Name: "PermissionGroups", Values: []string{string(AnonymousUsers), string(ExchangeUsers), string(ExchangeServers),
					string(ExchangeLegacyServers), string(Partners), string(CustomGroup), string(NoGroup)}, Ref: refNRC + ", spec §2.1",
					Doc: "the principals that get the group's rights"},
				{Name: "Fqdn", DefaultNote: "the server's Fqdn", Ref: refNRC, Doc: "the name in the banner and the EHLO reply"},
				{Name: "Banner", Ref: refNRC, Doc: "the whole 220 banner line instead of Exchange's"},
				{Name: "Comment", Ref: refNRC, Doc: "free text"},
				{Name: "MaxMessageSize", Default: "36 MB (37,748,736 bytes)", Min: "65536", Max: "2147483647", Ref: refNRC,
					Doc: "the largest message accepted, in bytes"},
				{Name: "SizeEnabled", Default: string(SizeEnabledWithValue), Values: []string{string(SizeDisabled), string(SizeEnabledWithValue), string(SizeEnabledWithoutValue)},
					Ref: refNRC, Doc: "the SIZE keyword of the EHLO reply, with or without the limit"},
				{Name: "MaxRecipientsPerMessage", Default: "200", Min: "1", Max: "512000", Ref: refNRC, Doc: "RCPT commands accepted per message"},
				{Name: "MaxInboundConnection", Default: "5000", Min: "1", Max: "2147483647", Ref: refNRC, Doc: "connections at once, or Unlimited"},
				{Name: "MaxInboundConnectionPerSource", Default: "20", Min: "1", Max: "10000", Ref: refNRC,
					Doc: "connections at once from one IP address, or Unlimited"},
				{Name: "MaxInboundConnectionPercentagePerSource", Default: "2", Min: "1", Max: "100", Ref: refNRC,
					Doc: "percent of MaxInboundConnection one IP address may hold"},
				{Name: "MessageRateLimit", Default: "Unlimited", Min: "1", Max: "2147483647", Ref: refNRC, Doc: "messages per minute per MessageRateSource"},
				{Name: "MessageRateSource", Default: string(RateSourceIPAddress), Values: []string{string(RateSourceNone), string(RateSourceIPAddress),
					string(RateSourceUser), string(RateSourceAll)}, Ref: refNRC, Doc: "what MessageRateLimit counts"},
				{Name: "ConnectionTimeout", Default: "00:10:00", Min: "00:00:01", Max: "1.00:00:00", Ref: refNRC, Doc: "the longest a session may last"},
				{Name: "ConnectionInactivityTimeout", Default: "00:05:00", Min: "00:00:01", Max: "1.00:00:00", Ref: refNRC,
					Doc: "the longest a session may be idle; less than ConnectionTimeout"},
				{Name: "TarpitInterval", Default: "00:00:05", Min: "00:00:00", Max: "00:10:00", Ref: refNRC, Doc: "delay of the error replies to unauthenticated sessions that misbehave (spec §5.3)"},
				{Name: "AuthTarpitInterval", Default: "00:00:05", Min: "00:00:00", Max: "00:10:00", Ref: refNRC, Doc: "delay after a failed AUTH"},
				{Name: "MaxAcknowledgementDelay", Default: "00:00:30", Min: "00:00:00", Max: "00:10:00", Ref: refNRC,
					Doc: "the longest the final reply to a message may be held back (shadow redundancy)"},
				{Name: "MaxHeaderSize", Default: "256 KB (262,144 bytes)", Min: "1", Max: "2147483647", Ref: refNRC, Doc: "the largest message header accepted"},
				{Name: "MaxHopCount", Default: "30", DefaultNote: strconv.Itoa(setupMaxHopCount) + " on the connectors setup creates", Min: "1", Max: "500", Ref: refNRC + ", spec §1.1",
					Doc: "Received: fields a message may carry"},
				{Name: "MaxLocalHopCount", Default: "8", DefaultNote: strconv.Itoa(setupMaxLocalHopCount) + " on the connectors setup creates", Min: "0", Max: "50", Ref: refNRC + ", spec §1.1",
					Doc: "Received: fields of this organization a message may carry; 0: no check"},
				{Name: "MaxLogonFailures", Default: "3", Min: "0", Max: "10", Ref: refNRC, Doc: "failed AUTH attempts before the connection is closed; 0: never"},
				{Name: "MaxProtocolErrors", Default: "5", Min: "0", Max: "2147483647", Ref: refNRC, Doc: "protocol errors before the connection is closed, or Unlimited"},
				{Name: "RequireTLS", Default: "false", Ref: refNRC, Doc: "refuses mail before STARTTLS; needs the Tls mechanism"},
				{Name: "RequireEHLODomain", Default: "false", Ref: refNRC, Doc: "refuses EHLO/HELO without a domain"},
				{Name: "EnableAuthGSSAPI", Default: "false", Ref: refNRC, Doc: "offers Kerberos in AUTH GSSAPI"},
				{Name: "DomainSecureEnabled", Default: "false", Ref: refNRC, Doc: "mutual TLS with the domains of TLSReceiveDomainSecureList; needs Tls, not ExternalAuthoritative"},
				{Name: "ProtocolLoggingLevel", Default: string(LoggingNone), Values: loggingLevels, Ref: refNRC + ", spec §7.1", Doc: "writes the connector's SmtpReceive log"},
				{Name: "PipeliningEnabled", Default: "true", Ref: refNRC, Doc: "offers PIPELINING"},
				{Name: "ChunkingEnabled", Default: "true", Ref: refNRC, Doc: "offers CHUNKING (BDAT)"},
				{Name: "EightBitMimeEnabled", Default: "true", Ref: refNRC, Doc: "offers 8BITMIME"},
				{Name: "BinaryMimeEnabled", Default: "true", Ref: refNRC, Doc: "offers BINARYMIME"},
				{Name: "DeliveryStatusNotificationEnabled", Default: "true", Ref: refNRC, Doc: "offers DSN"},
				{Name: "EnhancedStatusCodesEnabled", Default: "true", Ref: refNRC, Doc: "offers ENHANCEDSTATUSCODES"},
				{Name: "SmtpUtf8Enabled", Default: "true", Ref: refNRC, Doc: "offers SMTPUTF8"},
				{Name: "SuppressXAnonymousTls", Default: "false", Ref: refNRC, Doc: "no X-ANONYMOUSTLS in the EHLO reply"},
				{Name: "OrarEnabled", Default: "false", Ref: refNRC, Doc: "offers XORAR"},
				{Name: "LongAddressesEnabled", Default: "false", Ref: refNRC, Doc: "offers XLONGADDR"},
				{Name: "BareLinefeedRejectionEnabled", Default: "false", Ref: refNRC, Doc: "refuses messages with bare line feeds"},
				{Name: "RejectReservedTopLevelRecipientDomains", Default: "false", Ref: refNRC, Doc: "refuses recipients in reserved top-level domains (RFC 2606)"},
				{Name: "RejectReservedSecondLevelRecipientDomains", Default: "false", Ref: refNRC, Doc: "refuses recipients in reserved second-level domains (RFC 2606)"},
				{Name: "RejectSingleLabelRecipientDomains", Default: "false", Ref: refNRC, Doc: "refuses recipients in single-label domains"},
				{Name: "RecipientValidationEnabled", Default: "false", Ref: "spec §4.2 (Recipient Filter agent)",
					Doc: "refuses unknown recipients in authoritative domains at RCPT with 550 5.1.1 instead of an NDR"},
				{Name: "TlsCertificateName", Ref: refNRC, Doc: "the certificate (<I>issuer<S>subject) used for STARTTLS instead of the one matching Fqdn"},
				{Name: "DefaultDomain", Ref: refNRC, Doc: "the accepted domain for addresses without a domain"},
			}},
		{Name: "ADPermission", Path: "ADPermissions[]", Ref: "Add-ADPermission, spec §2.4", Doc: "An extended right granted or denied on a receive connector.",
			typ: reflect.TypeOf(ADPermission{}), Params: []Param{
				{Name: "Identity", Ref: "Add-ADPermission", Doc: `the receive connector, SERVER\Name`},
				{Name: "User", Ref: "Add-ADPermission", Doc: `the principal (NT AUTHORITY\ANONYMOUS LOGON, NT AUTHORITY\Authenticated Users, MS Exchange\Partner Servers)`},
				{Name: "ExtendedRights", Ref: "Add-ADPermission, spec §2.1", Doc: "rights among " + strings.Join(ExtendedRights[:], ", ")},
				{Name: "Deny", Default: "false", Ref: "Add-ADPermission", Doc: "denies the rights instead of granting them"},
			}},
		{Name: "SendConnector", Path: "SendConnectors[]", Ref: refNSC + ", Set-SendConnector", Doc: "A send connector.",
			typ: reflect.TypeOf(SendConnector{}), Params: []Param{
				{Name: "Name", Ref: refNSC, Doc: "the connector's name"},
				{Name: "AddressSpaces", Ref: refNSC, Doc: "SMTP:domain;cost, SMTP:*.domain;cost or SMTP:*;cost (cost 1-100)"},
				{Name: "SourceTransportServers", Ref: refNSC, Doc: "the servers that send through the connector"},
				{Name: "DNSRoutingEnabled", Default: "true", Ref: refNSC, Doc: "sends to the MX hosts of the recipient's domain"},
				{Name: "SmartHosts", Ref: refNSC, Doc: "hosts to send to instead ([192.0.2.1], host, with :port in exlab); needed without DNSRoutingEnabled"},
				{Name: "Port", Default: "25", Min: "1", Max: "65535", Ref: refNSC, Doc: "the port of the next hop"},
				{Name: "FrontendProxyEnabled", Default: "false", Ref: refNSC, Doc: "sends through a frontend"},
				{Name: "RequireTLS", Default: "false", Ref: refNSC, Doc: "sends only over TLS"},
				{Name: "TlsAuthLevel", Values: []string{string(TlsEncryptionOnly), string(TlsCertificateValidation), string(TlsDomainValidation)},
					Optional: true, Ref: refNSC, Doc: "what is checked of the next hop's certificate; only with RequireTLS"},
				{Name: "TlsDomain", Ref: refNSC, Doc: "the domain the certificate must name; only with DomainValidation"},
				{Name: "SmartHostAuthMechanism", Default: string(SmartHostNone), Values: []string{string(SmartHostNone), string(SmartHostBasicAuth),
					string(SmartHostBasicAuthRequireTLS), string(SmartHostExchangeServer), string(SmartHostExternalAuthoritative)}, Ref: refNSC,
					Doc: "how exlab authenticates to the smart hosts (exlab supports None and BasicAuth)"},
				{Name: "AuthenticationCredential", Ref: refNSC, Doc: "the credential of BasicAuth (the Credential table below)"},
				{Name: "MaxMessageSize", Default: "35 MB (36,700,160 bytes)", Ref: refNSC, Doc: "the largest message sent"},
				{Name: "Enabled", Default: "true", Ref: refNSC, Doc: "the connector is used"},
				{Name: "ProtocolLoggingLevel", Default: string(LoggingNone), Values: loggingLevels, Ref: refNSC + ", spec §7.1", Doc: "writes the connector's SmtpSend log"},
				{Name: "SmtpMaxMessagesPerConnection", Default: "20", Min: "1", Max: "2147483647", Ref: refNSC + ` ("Message rate limits and throttling")`,
					Doc: "messages sent over one session before it is closed; consecutive messages to a next hop share a session"},
				{Name: "DkimSigning", Ref: exlab, Doc: "DKIM signing of the connector's mail (the DkimSigningConfig table below)"},
			}},
		{Name: "Credential", Path: "SendConnectors[].AuthenticationCredential", Ref: "Get-Credential", Doc: "A user name and password (Exchange takes a PSCredential).",
			typ: reflect.TypeOf(Credential{}), Params: []Param{
				{Name: "UserName", Ref: "Get-Credential", Doc: "the user name"},
				{Name: "Password", Ref: "Get-Credential", Doc: "the password"},
			}},
		{Name: "DkimSigningConfig", Path: "SendConnectors[].DkimSigning", Ref: "exlab (Exchange Online: New-DkimSigningConfig)",
			Doc: "A DKIM signing key for a send connector; on-premises Exchange signs nothing. The key file is read by LoadFiles.",
			typ: reflect.TypeOf(DkimSigningConfig{}), Params: []Param{
				{Name: "Enabled", Default: "false", Ref: exlab, Doc: "signs the connector's mail"},
				{Name: "Domain", Ref: "RFC 6376 d=", Doc: "the signing domain"},
				{Name: "Selector", Ref: "RFC 6376 s=", Doc: "the selector; the public key is at <Selector>._domainkey.<Domain>"},
				{Name: "PrivateKeyFile", Ref: exlab, Doc: "PEM RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) key, relative to the configuration file"},
				{Name: "HeaderKeys", DefaultNote: "RFC 6376 §5.4.1's list", Ref: "RFC 6376 §5.4", Doc: "the signed header fields; must include From"},
			}},
		{Name: "Certificate", Path: "Certificates[]", Ref: "Import-ExchangeCertificate, Enable-ExchangeCertificate",
			Doc: "A certificate imported on a server and enabled for services; receive connectors use one enabled for SMTP whose names " +
				"cover their FQDN (or the one TlsCertificateName names). The files are read by LoadFiles.",
			typ: reflect.TypeOf(Certificate{}), Params: []Param{
				{Name: "Server", DefaultNote: "every server", Ref: "Import-ExchangeCertificate", Doc: "the server the certificate is imported on"},
				{Name: "FriendlyName", Ref: "Import-ExchangeCertificate", Doc: "the certificate's friendly name"},
				{Name: "CertificateFile", Ref: "Import-ExchangeCertificate", Doc: "PEM: the certificate, then its chain; relative to the configuration file"},
				{Name: "PrivateKeyFile", DefaultNote: "in CertificateFile", Ref: "Import-ExchangeCertificate", Doc: "PEM private key"},
				{Name: "Services", Values: []string{"None", "IIS", "SMTP", "IMAP", "POP", "UM", "UMCallRouter"}, Fold: true,
					Ref: "Enable-ExchangeCertificate -Services", Doc: "the services the certificate is enabled for"},
			}},
		{Name: "TransportConfig", Path: "TransportConfig", Ref: "Set-TransportConfig", Doc: "The organization's transport settings.",
			typ: reflect.TypeOf(TransportConfig{}), Params: []Param{
				{Name: "TLSReceiveDomainSecureList", Ref: "Set-TransportConfig",
					Doc: "partner domains whose servers authenticate with a certificate on connectors with DomainSecureEnabled and the Partners group"},
				{Name: "ShadowRedundancyEnabled", Default: "true", Ref: "Set-TransportConfig, spec §8.4",
					Doc: "with more than one hub, a hub acknowledges a message only after another hub holds a shadow copy (XSHADOWREQUEST)"},
				{Name: "ShadowHeartbeatFrequency", Default: "00:02:00", Above: timeAboveZero, Ref: "Set-TransportConfig, spec §8.4",
					Doc: "how often a shadow server asks the primary which shadow copies it may discard (XQDISCARD)"},
				{Name: "ShadowResubmitTimeSpan", Default: "03:00:00", Above: timeAboveZero, Ref: "Set-TransportConfig, spec §8.4",
					Doc: "how long the primary may not answer before the shadow server resubmits its copies"},
				{Name: "ShadowMessageAutoDiscardInterval", Default: "2.00:00:00", Above: timeAboveZero, Ref: "Set-TransportConfig, spec §8.4",
					Doc: "age at which a shadow copy that was never discarded goes"},
				{Name: "RejectMessageOnShadowFailure", Default: "false", Ref: "Set-TransportConfig, spec §8.4",
					Doc: "refuses a message with 451 4.4.0 when no shadow copy could be made (false: accepted anyway)"},
				{Name: "MaxRetriesForLocalSiteShadow", Default: "2", Min: "0", Max: "255", Ref: "Set-TransportConfig, spec §8.4",
					Doc: "how many other hubs of the site are tried for a shadow copy"},
				{Name: "ShadowMessagePreferenceSetting", Default: string(ShadowPreferRemote),
					Values: []string{string(ShadowPreferRemote), string(ShadowLocalOnly), string(ShadowRemoteOnly)}, Ref: "Set-TransportConfig, spec §8.4",
					Doc: "where shadow copies are made: another site preferred, the local site only, or another site only"},
			}},
		{Name: "ServerComponentState", Path: "ServerComponentState", Ref: "Set-ServerComponentState", Doc: "The state of the server's transport components.",
			typ: reflect.TypeOf(ServerComponentState{}), Params: []Param{
				{Name: "HubTransport", DefaultNote: "Active", Values: []string{string(ComponentActive), string(ComponentInactive)}, Optional: true,
					Ref: "Set-ServerComponentState", Doc: "Inactive is maintenance mode (exlab maintenance on)"},
			}},
		{Name: "Fault", Path: "Faults[]", Ref: exlab, CheckedBy: "Fault.Check",
			Doc: "A fault-injection rule (no Exchange object: a load-test aid): a session that reaches Step on a matching connector, for a " +
				"matching client, sender and recipient, gets the fault with Probability, at most Count times in all. " +
				"`exlab fault set|list|clear` changes them while the server runs.",
			typ: reflect.TypeOf(Fault{}), Params: []Param{
				{Name: "Name", DefaultNote: "a name not in use", Ref: exlab, Doc: "the rule's name"},
				{Name: "Connector", DefaultNote: "every connector", Ref: exlab, Doc: "a receive connector's Name or Identity"},
				{Name: "Step", Values: faultStepNames(), Fold: true, Ref: exlab, Doc: "the point of the session the fault applies to"},
				{Name: "Action", Values: []string{string(FaultReply), string(FaultDelay), string(FaultDisconnect), string(FaultBandwidth)}, Ref: exlab,
					Doc: "what the fault does at its step"},
				{Name: "Reply", Ref: exlab, Doc: "a whole reply line for the Reply action"},
				{Name: "ReplyId", Ref: "spec replies.tsv", Doc: "a row of the spec's reply table (R64) or exlab's (X01) instead of Reply"},
				{Name: "Delay", Above: timeAboveZero, Ref: exlab, Doc: "the Delay action's wait"},
				{Name: "BytesPerSecond", Ref: exlab, Doc: "the Bandwidth action's limit on the bytes read and written together; above 0"},
				{Name: "Probability", Default: "1", Ref: exlab, Doc: "the chance a matching session gets the fault: 0.25 or 25%"},
				{Name: "Count", Default: "0", Min: "0", Ref: exlab, Doc: "how many times the fault applies in all; 0: no limit"},
				{Name: "Sender", Ref: exlab, Doc: "a pattern of the MAIL FROM address (path.Match, case-insensitive: *@example.org)"},
				{Name: "Recipient", Ref: exlab, Doc: "a pattern of the RCPT TO address"},
				{Name: "RemoteIPRanges", DefaultNote: "every client", Ref: exlab, Doc: "the clients the fault applies to (the receive connector's forms)"},
			}},
	}
	return objs
}

func faultStepNames() []string {
	out := make([]string, len(FaultSteps))
	for i, s := range FaultSteps {
		out[i] = string(s)
	}
	return out
}

// objectTable returns the table of the object whose Go type is t.
func objectTable(t reflect.Type) Object {
	for _, o := range Objects() {
		if o.typ == t {
			return o
		}
	}
	panic("config: no parameter table for " + t.String())
}

// field returns the field of struct value v at a dotted parameter path.
func field(v reflect.Value, name string) reflect.Value {
	for _, part := range strings.Split(name, ".") {
		v = v.FieldByName(part)
		if !v.IsValid() {
			panic("config: the parameter table names " + name + ", which is not a field")
		}
	}
	return v
}

// applyDefaults sets every parameter of the table that has a Default, parsing it as the file's
// value would be parsed. A default that does not parse is a bug of the table; TestParamTables
// catches it, and this panics.
func (obj Object) applyDefaults(v reflect.Value) {
	for _, p := range obj.Params {
		if p.Default == "" {
			continue
		}
		d := &decoder{file: "(defaults)", lines: map[string]int{}}
		d.decode("", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p.Default}, field(v, p.Name))
		if len(d.problems) > 0 {
			panic(fmt.Sprintf("config: default of %s.%s: %v", obj.Name, p.Name, d.problems))
		}
	}
}

// setDefaults fill an object the file starts with the defaults of its table.
func (rc *ReceiveConnector) setDefaults() {
	*rc = ReceiveConnector{}
	objectTable(reflect.TypeOf(*rc)).applyDefaults(reflect.ValueOf(rc).Elem())
}

func (s *Server) setDefaults() {
	*s = Server{}
	objectTable(reflect.TypeOf(*s)).applyDefaults(reflect.ValueOf(s).Elem())
	objectTable(reflect.TypeOf(s.BackPressure)).applyDefaults(reflect.ValueOf(&s.BackPressure).Elem())
}

func (t *TransportConfig) setDefaults() {
	*t = TransportConfig{}
	objectTable(reflect.TypeOf(*t)).applyDefaults(reflect.ValueOf(t).Elem())
}

func (a *AcceptedDomain) setDefaults() {
	*a = AcceptedDomain{}
	objectTable(reflect.TypeOf(*a)).applyDefaults(reflect.ValueOf(a).Elem())
}

func (s *SendConnector) setDefaults() {
	*s = SendConnector{}
	objectTable(reflect.TypeOf(*s)).applyDefaults(reflect.ValueOf(s).Elem())
}

func (f *Fault) setDefaults() {
	*f = Fault{}
	objectTable(reflect.TypeOf(*f)).applyDefaults(reflect.ValueOf(f).Elem())
}

// checkParams reports the values of object v (at prefix) outside its table's ranges and
// values, with the messages validation has always used.
func (obj Object) checkParams(c checker, prefix string, v reflect.Value) {
	for _, p := range obj.Params {
		fv := field(v, p.Name)
		path := prefix + "." + p.Name
		if len(p.Values) > 0 {
			if fv.Kind() == reflect.Slice {
				for j := 0; j < fv.Len(); j++ {
					p.checkValue(c, fmt.Sprintf("%s[%d]", path, j), fv.Index(j).String())
				}
			} else {
				p.checkValue(c, path, fv.String())
			}
		}
		if p.Min != "" || p.Max != "" || p.Above != "" {
			p.checkRange(c, path, fv)
		}
	}
}

func (p Param) checkValue(c checker, path, v string) {
	if p.Optional && v == "" {
		return
	}
	for _, a := range p.Values {
		if v == a || (p.Fold && strings.EqualFold(v, a)) {
			return
		}
	}
	c.fail(path, "%q is not one of %s", v, strings.Join(p.Values, ", "))
}

var (
	timeSpanType = reflect.TypeOf(TimeSpan(0))
	limitType    = reflect.TypeOf(Limit{})
)

func (p Param) checkRange(c checker, path string, fv reflect.Value) {
	if fv.Type() == timeSpanType {
		v := TimeSpan(fv.Int())
		switch {
		case p.Above != "":
			if v <= mustTimeSpan(p.Above) {
				c.fail(path, "must be above %s", p.Above)
			}
		case p.Max == "" && mustTimeSpan(p.Min) == 0:
			if v < 0 {
				c.fail(path, "must not be negative")
			}
		default:
			if v < mustTimeSpan(p.Min) || v > mustTimeSpan(p.Max) {
				c.fail(path, "%s is outside the range %s-%s", v, p.Min, p.Max)
			}
		}
		return
	}
	var v int64
	switch {
	case fv.Type() == limitType:
		l := fv.Interface().(Limit)
		if l.Unlimited {
			return
		}
		v = l.Value
	case fv.Kind() == reflect.Uint64:
		v = int64(fv.Uint())
	default:
		v = fv.Int()
	}
	lo, hi := mustInt(p.Min, math64Min), mustInt(p.Max, math64Max)
	if p.Max == "" {
		if v < lo {
			c.fail(path, "must not be below %d", lo)
		}
		return
	}
	if v < lo || v > hi {
		c.fail(path, "%d is outside the range %d-%d", v, lo, hi)
	}
}

const (
	math64Min = -1 << 63
	math64Max = 1<<63 - 1
)

func mustTimeSpan(s string) TimeSpan {
	d, err := ParseTimeSpan(s)
	if err != nil {
		panic("config: parameter table: " + err.Error())
	}
	return TimeSpan(d)
}

func mustInt(s string, empty int64) int64 {
	if s == "" {
		return empty
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic("config: parameter table: " + err.Error())
	}
	return n
}

// typeName is how the reference names a parameter's type: Exchange's type names where there
// is one.
func typeName(t reflect.Type) string {
	switch t {
	case timeSpanType:
		return "TimeSpan"
	case limitType:
		return "Unlimited<Int64>"
	case reflect.TypeOf(ByteSize(0)):
		return "ByteQuantifiedSize"
	case reflect.TypeOf(IPRange{}):
		return "IPRange"
	case reflect.TypeOf(Binding{}):
		return "IPBinding"
	case reflect.TypeOf(Probability(0)):
		return "Probability"
	case reflect.TypeOf(time.Duration(0)):
		return "Duration"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		return typeName(t.Elem()) + "[]"
	case reflect.Bool:
		return "Boolean"
	case reflect.Int:
		return "Int32"
	case reflect.Int64:
		return "Int64"
	case reflect.String:
		if t.Name() != "string" {
			return t.Name()
		}
		return "String"
	case reflect.Struct:
		return t.Name()
	}
	return t.String()
}
