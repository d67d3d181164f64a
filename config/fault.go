package config

import (
	"fmt"
	"path"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/exlab/exlab/transport/smtpwire"
)

// Check reports every problem of one fault-injection rule, by field name (Load reports them
// with the file and line, the admin listener with its answer), and spells Step as FaultSteps
// does, whatever the case it was written in.
func (f *Fault) Check(o *Organization, report func(field, format string, args ...any)) {
	steps := make([]string, len(FaultSteps))
	okStep := false
	for i, s := range FaultSteps {
		steps[i] = string(s)
		if strings.EqualFold(string(f.Step), string(s)) {
			f.Step, okStep = s, true
		}
	}
	if !okStep {
		report("Step", "%q is not one of %s", f.Step, strings.Join(steps, ", "))
	}
	switch f.Action {
	case FaultReply:
		switch {
		case f.Reply != "" && f.ReplyId != "":
			report("Reply", "give Reply or ReplyId, not both")
		case f.ReplyId != "":
			if _, ok := smtpwire.LookupRow(f.ReplyId); !ok {
				report("ReplyId", "%q is not a reply id of the spec's table (R01 …) or exlab's (X01 …)", f.ReplyId)
			}
		case f.Reply == "":
			report("Reply", "the Reply action needs Reply or ReplyId")
		default:
			if _, err := ParseReplyLine(f.Reply); err != nil {
				report("Reply", "%v", err)
			}
		}
	case FaultDelay:
		if f.Delay <= 0 {
			report("Delay", "the Delay action needs a Delay above 00:00:00")
		}
	case FaultDisconnect:
	case FaultBandwidth:
		if f.BytesPerSecond <= 0 {
			report("BytesPerSecond", "the Bandwidth action needs BytesPerSecond above 0")
		}
	default:
		report("Action", "%q is not one of Reply, Delay, Disconnect, Bandwidth", f.Action)
	}
	if f.Count < 0 {
		report("Count", "must not be negative (0: no limit)")
	}
	for _, p := range []struct{ field, v string }{{"Sender", f.Sender}, {"Recipient", f.Recipient}} {
		if _, err := path.Match(p.v, ""); err != nil {
			report(p.field, "%q is not a pattern: %v", p.v, err)
		}
	}
	if f.Connector != "" && o != nil {
		found := false
		for i := range o.ReceiveConnectors {
			rc := &o.ReceiveConnectors[i]
			found = found || strings.EqualFold(f.Connector, rc.Name) || strings.EqualFold(f.Connector, rc.Identity())
		}
		for i := range o.Servers { // the Mailbox Transport connectors are implicit
			for _, rc := range o.MailboxDeliveryConnectors(&o.Servers[i]) {
				found = found || strings.EqualFold(f.Connector, rc.Name) || strings.EqualFold(f.Connector, rc.Identity())
			}
		}
		if !found {
			report("Connector", "no receive connector is named %q", f.Connector)
		}
	}
}

// ParseReplyLine checks a whole SMTP reply line ("451 4.7.0 text"): a code 200-599, and an
// enhanced code of the same class when there is one. It returns the code.
func ParseReplyLine(s string) (int, error) {
	code, rest, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 200 || n > 599 {
		return 0, fmt.Errorf("%q does not start with a reply code (200-599)", s)
	}
	if e, _, _ := strings.Cut(rest, " "); strings.Count(e, ".") == 2 && e[0] >= '2' && e[0] <= '5' && e[0] != code[0] {
		return 0, fmt.Errorf("%q: enhanced code %s is not of class %c", s, e, code[0])
	}
	return n, nil
}

// ParseFaults reads fault-injection rules given on their own (the admin listener's body,
// `exlab fault set --file`): YAML or JSON, one rule or a list, with the parameter names of the
// configuration's Faults entries. Problems name the rule and field.
func ParseFaults(file string, data []byte, org *Organization) ([]Fault, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{File: file, Line: 1, Field: "(input)", Message: "no fault rule given"}}
	}
	n := root.Content[0]
	if n.Kind == yaml.MappingNode {
		n = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}, Line: n.Line}
	}
	d := &decoder{file: file, lines: map[string]int{}}
	var fs []Fault
	d.decode("Faults", n, reflect.ValueOf(&fs).Elem())
	for i := range fs {
		p := fmt.Sprintf("Faults[%d]", i)
		fs[i].Check(org, func(field, format string, args ...any) {
			d.problems = append(d.problems, Problem{File: file, Line: d.lines[p], Field: p + "." + field, Message: fmt.Sprintf(format, args...)})
		})
	}
	if len(d.problems) > 0 {
		return nil, d.problems
	}
	return fs, nil
}
