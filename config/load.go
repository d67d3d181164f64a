package config

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

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

// Load reads the file at path and runs every step on it (Parse): the organization it returns
// is ready to use. The error, if any, is Problems.
func Load(path string) (*Organization, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Line: 0, Field: "(file)", Message: err.Error()}}
	}
	return Parse(path, b)
}

// Parse decodes data (named file in messages), fills Exchange's defaults, validates, and then
// reads the files the organization names (LoadFiles, relative to file's directory). It reports
// the problems of validation and of the files together, in the order of their lines, so that
// one run shows every problem.
func Parse(file string, data []byte) (*Organization, error) {
	o, problems := decode(file, data)
	if o == nil {
		return nil, problems
	}
	if err := o.LoadFiles(filepath.Dir(file)); err != nil {
		problems = append(problems, err.(Problems)...)
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, problems
	}
	return o, nil
}

// Decode decodes data (named file in messages), fills Exchange's defaults and validates,
// without any I/O: the certificates and DKIM keys the organization names are not read (their
// KeyPair and Signer stay nil) until LoadFiles.
func Decode(file string, data []byte) (*Organization, error) {
	o, problems := decode(file, data)
	if len(problems) > 0 {
		return nil, problems
	}
	return o, nil
}

// decode runs the steps without I/O. It returns a nil organization only when the file could
// not be decoded at all.
func decode(file string, data []byte) (*Organization, Problems) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	o := &Organization{File: file}
	o.TransportConfig.setDefaults()
	d := &decoder{file: file, lines: map[string]int{}}
	if len(root.Content) == 0 {
		return nil, Problems{{File: file, Line: 1, Field: "(file)", Message: "the file is empty"}}
	}
	d.decode("", root.Content[0], reflect.ValueOf(o).Elem())
	o.fill(d.lines)
	o.validate(d)
	sortProblems(d.problems)
	return o, d.problems
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
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

// setupConnectorNames are the connectors Exchange setup creates on a Mailbox server; they carry
// the values of a real server (MaxHopCount 60, MaxLocalHopCount 5) where New-ReceiveConnector
// would give 30 and 8 (spec §1.1, [D]).
var setupConnectorNames = []string{"Default Frontend ", "Client Frontend ", "Outbound Proxy Frontend ", "Default ", "Client Proxy "}

// The hop counts of the connectors setup creates (spec §1.1 [D]); the ReceiveConnector table's
// notes name them.
const (
	setupMaxHopCount      = 60
	setupMaxLocalHopCount = 5
)

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
		for _, prefix := range setupConnectorNames {
			if rc.Name == prefix+rc.Server {
				if _, given := lines[p+"MaxHopCount"]; !given {
					rc.MaxHopCount = setupMaxHopCount
				}
				if _, given := lines[p+"MaxLocalHopCount"]; !given {
					rc.MaxLocalHopCount = setupMaxLocalHopCount
				}
			}
		}
	}
}

// AllRemoteIPRanges is Exchange's default RemoteIPRanges: every IPv6 and every IPv4 address.
// It is RemoteIPRanges' Default in the ReceiveConnector table.
func AllRemoteIPRanges() []IPRange {
	var out []IPRange
	for _, s := range strings.Split(allRemoteIPRanges, ",") {
		var r IPRange
		if err := r.parseExchange(s); err != nil {
			panic("config: " + err.Error())
		}
		out = append(out, r)
	}
	return out
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
