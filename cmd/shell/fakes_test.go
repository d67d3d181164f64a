package shell

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// thingStore is the fake cmdlets' "Active Directory": things with an Identity
// (Server\Name), a multi-valued RemoteIPRanges, a bool, an int and an enum, as the Exchange
// cmdlets the lead writes on top of the engine will have.
type thingStore struct {
	things []*thing
	log    []string // what Set-/New-/Remove- did, for the tests
}

type thing struct {
	Name, Server, Role string
	Enabled            bool
	MaxSize            int64
	Ranges             []string
	Password           string
}

func (t *thing) identity() string { return t.Server + `\` + t.Name }

var thingView = TableOf("Identity", "Enabled", "RemoteIPRanges")

func (t *thing) object() *Object {
	return NewObject("Exlab.Test.Thing",
		"Identity", t.identity(), "Name", t.Name, "Server", t.Server, "Enabled", t.Enabled,
		"MaxSize", t.MaxSize, "Role", t.Role, "RemoteIPRanges", t.Ranges)
}

// find resolves an Identity as Exchange does: Server\Name, or the name alone when unique.
func (s *thingStore) find(id any) (*thing, *ErrorRecord) {
	if o, ok := id.(*Object); ok {
		id, _ = o.Get("Identity")
	}
	name := toString(id)
	var hits []*thing
	for _, t := range s.things {
		if strings.EqualFold(t.identity(), name) || strings.EqualFold(t.Name, name) {
			hits = append(hits, t)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return nil, &ErrorRecord{
		Message:  fmt.Sprintf("The operation couldn't be performed because object '%s' couldn't be found on 'dc01.contoso.test'.", name),
		Category: NotSpecified, Reason: "ManagementObjectNotFoundException",
		ErrorID: "[Server=EX01,RequestId=00000000-0000-0000-0000-000000000000,TimeStamp=1/1/2026 12:00:00 AM] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] 6A5B3A1E",
	}
}

func (s *thingStore) register(e *Engine) {
	idParam := Param{Name: "Identity", Type: ObjectValue, TypeName: "ThingIdParameter", Position: 1, FromPipeline: true, Set: "Identity"}
	setParams := []Param{
		{Name: "Enabled", Type: Bool},
		{Name: "MaxSize", Type: Int, TypeName: "ByteQuantifiedSize"},
		{Name: "Role", Type: Enum, TypeName: "Exlab.Test.Role", Values: []string{"FrontendTransport", "HubTransport"}},
		{Name: "RemoteIPRanges", Type: MultiValued, Aliases: []string{"Ranges"}},
		{Name: "Password", Type: SecureValue},
	}
	e.Register(&Cmdlet{
		Name: "Get-Thing", Synopsis: "Gets things.", View: thingView,
		Description: "The Get-Thing cmdlet gets the things of the fake store.",
		Params: []Param{
			{Name: "Identity", Type: ObjectValue, TypeName: "ThingIdParameter", Position: 1, FromPipeline: true, Set: "Identity"},
			{Name: "Server", Type: String, TypeName: "ServerIdParameter", Set: "Server"},
		},
		Examples:  []string{"Get-Thing -Server EX01\n\nThis example lists the things of EX01."},
		ClassName: "Exlab.Test.GetThing",
		Process: func(c *Call) error {
			if c.IsSet("Identity") {
				t, rec := s.find(c.Value("Identity"))
				if rec != nil {
					c.WriteError(rec)
					return nil
				}
				c.Write(t.object())
				return nil
			}
			for _, t := range append([]*thing(nil), s.things...) {
				if c.IsSet("Server") && !strings.EqualFold(t.Server, c.String("Server")) {
					continue
				}
				c.Write(t.object())
			}
			return nil
		},
	})
	e.Register(&Cmdlet{
		Name: "Set-Thing", Synopsis: "Changes a thing.", SupportsShouldProcess: true, ClassName: "Exlab.Test.SetThing",
		Params: append([]Param{{Name: "Identity", Type: ObjectValue, TypeName: "ThingIdParameter", Position: 1, Mandatory: true, FromPipeline: true}}, setParams...),
		Process: func(c *Call) error {
			t, rec := s.find(c.Value("Identity"))
			if rec != nil {
				c.WriteError(rec)
				return nil
			}
			if !c.ShouldProcess(t.identity(), "Configuring thing") {
				return nil
			}
			if c.IsSet("Enabled") {
				t.Enabled = c.Bool("Enabled")
			}
			if c.IsSet("MaxSize") {
				t.MaxSize = c.Int("MaxSize")
			}
			if c.IsSet("Role") {
				t.Role = c.String("Role")
			}
			if c.IsSet("RemoteIPRanges") {
				t.Ranges = c.Multi("RemoteIPRanges").Apply(t.Ranges)
			}
			if p := c.Secure("Password"); p != nil {
				t.Password = p.Plain()
			}
			s.log = append(s.log, "set "+t.identity())
			return nil
		},
	})
	e.Register(&Cmdlet{
		Name: "New-Thing", Synopsis: "Creates a thing.", SupportsShouldProcess: true, ClassName: "Exlab.Test.NewThing",
		Params: append([]Param{
			{Name: "Name", Type: String, Position: 1, Mandatory: true},
			{Name: "Server", Type: String, TypeName: "ServerIdParameter"},
		}, setParams...),
		Process: func(c *Call) error {
			t := &thing{Name: c.String("Name"), Server: "EX01", Role: "HubTransport", Enabled: true}
			if c.IsSet("Server") {
				t.Server = c.String("Server")
			}
			if !c.IsSet("Role") {
				c.WriteWarning("No Role given: the thing is created for HubTransport.")
			} else {
				t.Role = c.String("Role")
			}
			if c.IsSet("RemoteIPRanges") {
				t.Ranges = c.Multi("RemoteIPRanges").Apply(nil)
			}
			if c.IsSet("Enabled") {
				t.Enabled = c.Bool("Enabled")
			}
			if c.IsSet("MaxSize") {
				t.MaxSize = c.Int("MaxSize")
			}
			if p := c.Secure("Password"); p != nil {
				t.Password = p.Plain()
			}
			if !c.ShouldProcess(t.identity(), "Creating thing") {
				return nil
			}
			for _, o := range s.things {
				if strings.EqualFold(o.identity(), t.identity()) {
					return &ErrorRecord{Message: fmt.Sprintf("A thing with the name %q already exists.", t.Name),
						Category: InvalidOperation, Reason: "ThingExistsException", ErrorID: "[Server=EX01] 1A2B3C4D"}
				}
			}
			s.things = append(s.things, t)
			s.log = append(s.log, "new "+t.identity())
			c.Write(t.object())
			return nil
		},
	})
	e.Register(&Cmdlet{
		Name: "Remove-Thing", Synopsis: "Removes a thing.", SupportsShouldProcess: true, HighImpact: true, ClassName: "Exlab.Test.RemoveThing",
		Params: []Param{idParam},
		Process: func(c *Call) error {
			t, rec := s.find(c.Value("Identity"))
			if rec != nil {
				c.WriteError(rec)
				return nil
			}
			if !c.ShouldProcess(t.identity(), "Removing thing") {
				return nil
			}
			for i, o := range s.things {
				if o == t {
					s.things = append(s.things[:i], s.things[i+1:]...)
					break
				}
			}
			s.log = append(s.log, "remove "+t.identity())
			return nil
		},
	})
	// Get-Bag writes plain property bags with more than four properties (no view): a list.
	e.Register(&Cmdlet{
		Name: "Get-Bag", Synopsis: "Gets a bag.",
		Params: []Param{{Name: "Count", Type: Int, Position: 1}},
		Process: func(c *Call) error {
			n := 1
			if c.IsSet("Count") {
				n = int(c.Int("Count"))
			}
			for i := 1; i <= n; i++ {
				c.Write(NewObject("Exlab.Test.Bag", "Id", i, "Name", fmt.Sprintf("bag%d", i), "Size", i*1024,
					"Tags", []string{"a", "b"}, "Note", nil))
			}
			return nil
		},
	})
	// Get-Input reports what it received without pipeline parameters.
	e.Register(&Cmdlet{
		Name: "Get-Input", Synopsis: "Counts its input.",
		Process: func(c *Call) error {
			c.Write(fmt.Sprintf("received %d", len(c.Input())))
			return nil
		},
	})
	// Get-ByName binds Name from the input objects' property (ValueFromPipelineByPropertyName).
	e.Register(&Cmdlet{
		Name: "Get-ByName", Synopsis: "Echoes Name.",
		Params: []Param{{Name: "Name", Type: String, FromPipelineByName: true, Mandatory: true}},
		Process: func(c *Call) error {
			c.Write("name=" + c.String("Name"))
			return nil
		},
	})
}

func newFakeStore() *thingStore {
	return &thingStore{things: []*thing{
		{Name: "Default EX01", Server: "EX01", Role: "HubTransport", Enabled: true, MaxSize: 36700160, Ranges: []string{"0.0.0.0-255.255.255.255"}},
		{Name: "Default Frontend EX01", Server: "EX01", Role: "FrontendTransport", Enabled: true, MaxSize: 36700160, Ranges: []string{"0.0.0.0-255.255.255.255"}},
		{Name: "Relay EX02", Server: "EX02", Role: "FrontendTransport", Enabled: false, MaxSize: 10485760, Ranges: []string{"10.0.0.5", "10.0.0.6"}},
	}}
}

// run runs a script against a fresh engine with the fake cmdlets; stdout and stderr separate.
func run(t *testing.T, src string) (stdout, stderr string, s *thingStore, err error) {
	t.Helper()
	e := New()
	e.ComputerName = "ex01.contoso.test"
	s = newFakeStore()
	s.register(e)
	var o, x strings.Builder
	err = e.Run(context.Background(), src, &o, &x)
	return o.String(), x.String(), s, err
}
