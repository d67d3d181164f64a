package config

import (
	_ "embed"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultYAML is the embedded default organization: Exchange 2019 out of the box, one
// multi-role server EX01 with the five default receive connectors (spec §1.1), the
// authoritative default accepted domain contoso.test and two lab mailboxes. Its shape is
// ../shared/spec/default-org.yaml.
//
//go:embed default.yaml
var DefaultYAML []byte

// DefaultFileName is how messages name the embedded default.
const DefaultFileName = "(embedded default)"

// Default returns the embedded default organization, filled and validated.
func Default() *Organization {
	o, err := Parse(DefaultFileName, DefaultYAML)
	if err != nil {
		panic("config: the embedded default is invalid: " + err.Error())
	}
	return o
}

// Load reads, fills and validates the file at path. The error, if any, is Problems.
func Load(path string) (*Organization, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Line: 0, Field: "(file)", Message: err.Error()}}
	}
	return Parse(path, b)
}

// Parse decodes data (named file in messages), fills Exchange's defaults and validates.
func Parse(file string, data []byte) (*Organization, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	o := &Organization{File: file}
	d := &decoder{file: file, lines: map[string]int{}}
	if len(root.Content) == 0 {
		return nil, Problems{{File: file, Line: 1, Field: "(file)", Message: "the file is empty"}}
	}
	d.decode("", root.Content[0], reflect.ValueOf(o).Elem())
	o.fill(d.lines)
	o.validate(d)
	sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
	if len(d.problems) > 0 {
		return nil, d.problems
	}
	return o, nil
}

func yamlProblem(file string, err error) Problem {
	// yaml.v3 errors read "yaml: line N: message".
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		var rest string
		if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
			if i := strings.IndexByte(msg, ':'); i >= 0 {
				rest = strings.TrimSpace(msg[i+1:])
			}
			msg = rest
		}
	}
	return Problem{File: file, Line: line, Field: "(syntax)", Message: msg}
}

// setDefaults gives a receive connector New-ReceiveConnector's defaults (PS-NRC, spec §1.1).
// Parameters the file gives override these.
func (rc *ReceiveConnector) setDefaults() {
	*rc = ReceiveConnector{
		Enabled:                                 true,
		AuthMechanism:                           []AuthMechanism{AuthTls},
		MaxMessageSize:                          36 << 20,
		SizeEnabled:                             SizeEnabledWithValue,
		MaxRecipientsPerMessage:                 200,
		MaxInboundConnection:                    N(5000),
		MaxInboundConnectionPerSource:           N(20),
		MaxInboundConnectionPercentagePerSource: 2,
		MessageRateLimit:                        Unlimited,
		MessageRateSource:                       RateSourceIPAddress,
		ConnectionTimeout:                       TimeSpan(10 * time.Minute),
		ConnectionInactivityTimeout:             TimeSpan(5 * time.Minute),
		TarpitInterval:                          TimeSpan(5 * time.Second),
		AuthTarpitInterval:                      TimeSpan(5 * time.Second),
		MaxAcknowledgementDelay:                 TimeSpan(30 * time.Second),
		MaxHeaderSize:                           256 << 10,
		MaxHopCount:                             30,
		MaxLocalHopCount:                        8,
		MaxLogonFailures:                        3,
		MaxProtocolErrors:                       N(5),
		ProtocolLoggingLevel:                    LoggingNone,
		PipeliningEnabled:                       true,
		ChunkingEnabled:                         true,
		EightBitMimeEnabled:                     true,
		BinaryMimeEnabled:                       true,
		DeliveryStatusNotificationEnabled:       true,
		EnhancedStatusCodesEnabled:              true,
		SmtpUtf8Enabled:                         true,
	}
}

func (s *Server) setDefaults() {
	*s = Server{
		Roles:                          []TransportRole{FrontendTransport, HubTransport},
		Version:                        Version2019,
		BindingConflictMode:            BindingExclusive,
		ProxyConnectTimeout:            TimeSpan(15 * time.Second),
		ProxyCommandTimeout:            TimeSpan(60 * time.Second),
		ProxyPoolSize:                  64,
		BindRetryInterval:              TimeSpan(10 * time.Second),
		MaxConcurrentMailboxDeliveries: 20,
		// spec §8.3; MessageRetryInterval is [D] there, exlab takes 5 minutes.
		QueueGlitchRetryCount:                  4,
		QueueGlitchRetryInterval:               TimeSpan(time.Minute),
		TransientFailureRetryCount:             6,
		TransientFailureRetryInterval:          TimeSpan(5 * time.Minute),
		OutboundConnectionFailureRetryInterval: TimeSpan(10 * time.Minute),
		MessageRetryInterval:                   TimeSpan(5 * time.Minute),
		MessageExpirationTimeout:               TimeSpan(48 * time.Hour),
		DelayNotificationTimeout:               TimeSpan(4 * time.Hour),
		PoisonMessageDetectionEnabled:          true,
		// spec §7.1
		ReceiveProtocolLogMaxFileSize:         10 << 20,
		ReceiveProtocolLogMaxDirectorySize:    250 << 20,
		ReceiveProtocolLogMaxAge:              TimeSpan(30 * 24 * time.Hour),
		IntraOrgConnectorProtocolLoggingLevel: LoggingVerbose,
		SendProtocolLogMaxFileSize:            10 << 20,
		SendProtocolLogMaxDirectorySize:       250 << 20,
		SendProtocolLogMaxAge:                 TimeSpan(30 * 24 * time.Hour),
		// spec §7.2
		MessageTrackingLogEnabled:               true,
		MessageTrackingLogMaxFileSize:           10 << 20,
		MessageTrackingLogMaxDirectorySize:      1000 << 20,
		MessageTrackingLogMaxAge:                TimeSpan(30 * 24 * time.Hour),
		MessageTrackingLogSubjectLoggingEnabled: true,
		PoisonThreshold:                         2,
		// spec §8.5: Exchange 2019's disk values (CSS-BP); QueueLength is the documented
		// SubmissionQueue meter applied to exlab's whole queue database.
		BackPressure: BackPressure{Enabled: true, ResourceMeteringInterval: TimeSpan(2 * time.Second),
			UsedDiskSpace: PressureThresholds{LowToMedium: 90, MediumToHigh: 99, HighToMedium: 94, MediumToLow: 88},
			QueueLength:   PressureThresholds{LowToMedium: 9999, MediumToHigh: 15000, HighToMedium: 10000, MediumToLow: 2000}},
	}
}

func (a *AcceptedDomain) setDefaults() { *a = AcceptedDomain{DomainType: Authoritative} }

func (s *SendConnector) setDefaults() {
	*s = SendConnector{Enabled: true, Port: 25, DNSRoutingEnabled: true, MaxMessageSize: 35 << 20, ProtocolLoggingLevel: LoggingNone,
		SmartHostAuthMechanism: SmartHostNone}
}

// setupConnectorNames are the connectors Exchange setup creates on a Mailbox server; they carry
// the values of a real server (MaxHopCount 60, MaxLocalHopCount 5) where New-ReceiveConnector
// would give 30 and 8 (spec §1.1, [D]).
var setupConnectorNames = []string{"Default Frontend ", "Client Frontend ", "Outbound Proxy Frontend ", "Default ", "Client Proxy "}

// fill sets the defaults that depend on other values.
func (o *Organization) fill(lines map[string]int) {
	o.lines = lines
	for i := range o.AcceptedDomains {
		ad := &o.AcceptedDomains[i]
		if ad.Name == "" {
			ad.Name = ad.DomainName
		}
		if ad.AddressBookEnabled == nil {
			v := ad.DomainType == Authoritative
			ad.AddressBookEnabled = &v
		}
	}
	hasDefault := false
	for _, ad := range o.AcceptedDomains {
		hasDefault = hasDefault || ad.Default
	}
	if !hasDefault && len(o.AcceptedDomains) > 0 {
		// Exactly one accepted domain is always the default; the first one created is.
		o.AcceptedDomains[0].Default = true
	}
	for i := range o.Mailboxes {
		mb := &o.Mailboxes[i]
		if mb.Name == "" {
			mb.Name, _, _ = strings.Cut(mb.PrimarySmtpAddress, "@")
		}
	}
	for i := range o.ReceiveConnectors {
		rc := &o.ReceiveConnectors[i]
		p := fmt.Sprintf("ReceiveConnectors[%d].", i)
		if rc.Server == "" && len(o.Servers) == 1 {
			rc.Server = o.Servers[0].Name
		}
		if s := o.Server(rc.Server); s != nil && rc.Fqdn == "" {
			rc.Fqdn = s.Fqdn
		}
		if len(rc.RemoteIPRanges) == 0 {
			if _, given := lines[p+"RemoteIPRanges"]; !given {
				rc.RemoteIPRanges = AllRemoteIPRanges()
			}
		}
		for _, prefix := range setupConnectorNames {
			if rc.Name == prefix+rc.Server {
				if _, given := lines[p+"MaxHopCount"]; !given {
					rc.MaxHopCount = 60
				}
				if _, given := lines[p+"MaxLocalHopCount"]; !given {
					rc.MaxLocalHopCount = 5
				}
			}
		}
	}
}

// AllRemoteIPRanges is Exchange's default RemoteIPRanges: every IPv6 and every IPv4 address.
func AllRemoteIPRanges() []IPRange {
	var a, b IPRange
	_ = a.parseExchange("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	_ = b.parseExchange("0.0.0.0-255.255.255.255")
	return []IPRange{a, b}
}

// Line returns the line of the file where the parameter at path (e.g.
// "ReceiveConnectors[3].Bindings") was given, or of its nearest enclosing object.
func (o *Organization) Line(path string) int {
	for path != "" {
		if l, ok := o.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}
