package shell

import (
	"fmt"
	"sort"
	"strings"
)

// The built-in commands: the PowerShell cmdlets an Exchange admin pipes into.

var whereOps = []string{"EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch",
	"Contains", "NotContains", "In", "NotIn", "CEQ", "CNE", "CGT", "CLT", "CLike", "CNotLike", "CMatch", "CContains"}

func (e *Engine) registerBuiltins() {
	reg := func(c *Cmdlet) {
		c.builtin = true
		e.Register(c)
	}
	reg(convertToJSON())
	whereParams := []Param{
		{Name: "FilterScript", Type: Any, TypeName: "ScriptBlock", Position: 1},
		{Name: "Value", Type: Any, TypeName: "Object", Position: 2},
		{Name: "Property", Type: String},
		{Name: "InputObject", Type: Any, TypeName: "PSObject", FromPipeline: true},
	}
	for _, op := range whereOps {
		whereParams = append(whereParams, Param{Name: op, Type: Switch})
	}
	reg(&Cmdlet{
		Name: "Where-Object", Aliases: []string{"where", "?"},
		Synopsis: "Selects objects from a collection based on their property values.",
		Params:   whereParams,
		Process: func(c *Call) error {
			obj := c.Value("InputObject")
			fs := c.Value("FilterScript")
			if sb, ok := fs.(*ScriptBlock); ok {
				out, err := c.engine.invokeBlock(sb, obj)
				if err != nil {
					return err
				}
				if toBool(collapse(out)) {
					c.Write(obj)
				}
				return nil
			}
			prop := c.String("Property")
			if prop == "" {
				prop = toString(fs)
			}
			pv := property(obj, prop)
			for _, op := range whereOps {
				if !c.Bool(op) {
					continue
				}
				res, err := c.engine.binary(strings.ToLower(op), pv, c.Value("Value"))
				if err != nil {
					return err
				}
				if b, ok := res.(bool); ok && b || !ok && toBool(res) {
					c.Write(obj)
				}
				return nil
			}
			if toBool(pv) {
				c.Write(obj)
			}
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "ForEach-Object", Aliases: []string{"foreach", "%"},
		Synopsis: "Performs an operation against each item in a collection of input objects.",
		Params: []Param{
			{Name: "Process", Type: Any, TypeName: "ScriptBlock[]", Position: 1},
			{Name: "MemberName", Type: String},
			{Name: "InputObject", Type: Any, TypeName: "PSObject", FromPipeline: true},
		},
		Process: func(c *Call) error {
			obj := c.Value("InputObject")
			if sb, ok := c.Value("Process").(*ScriptBlock); ok {
				out, err := c.engine.invokeBlock(sb, obj)
				if err != nil {
					return err
				}
				c.Write(out...)
				return nil
			}
			name := c.String("MemberName")
			if name == "" {
				name = c.String("Process")
			}
			c.Write(property(obj, name))
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "Select-Object", Aliases: []string{"select"},
		Synopsis: "Selects objects or object properties.",
		Params: []Param{
			{Name: "Property", Type: Any, TypeName: "Object[]", Position: 1},
			{Name: "ExpandProperty", Type: String},
			{Name: "First", Type: Int},
			{Name: "Last", Type: Int},
			{Name: "Skip", Type: Int},
			{Name: "Unique", Type: Switch},
		},
		Process: func(c *Call) error {
			in := c.Input()
			if c.IsSet("Skip") {
				n := int(c.Int("Skip"))
				in = in[min(n, len(in)):]
			}
			if c.IsSet("First") || c.IsSet("Last") {
				var out []any
				if c.IsSet("First") {
					out = append(out, in[:min(int(c.Int("First")), len(in))]...)
				}
				if c.IsSet("Last") {
					n := min(int(c.Int("Last")), len(in))
					out = append(out, in[len(in)-n:]...)
				}
				in = out
			}
			spec := enumerate(c.Value("Property"))
			var out []any
			for _, obj := range in {
				if len(spec) == 0 && !c.IsSet("ExpandProperty") {
					out = append(out, obj)
					continue
				}
				if len(spec) > 0 {
					cols, _ := c.engine.expandProperties(spec, obj)
					tn := "Selected.System.Management.Automation.PSCustomObject"
					if o, ok := obj.(*Object); ok && o.TypeName != "" {
						tn = "Selected." + o.TypeName
					}
					no := NewObject(tn)
					for _, col := range cols {
						no.Set(col.label(), col.get(obj, c.engine))
					}
					if c.IsSet("ExpandProperty") {
						out = append(out, enumerate(property(obj, c.String("ExpandProperty")))...)
						continue
					}
					out = append(out, no)
					continue
				}
				name := c.String("ExpandProperty")
				if o, ok := obj.(*Object); ok && !o.Has(name) {
					c.WriteError(&ErrorRecord{Message: fmt.Sprintf("Property %q cannot be found.", name), Category: InvalidArgument,
						TargetName: toString(obj), TargetType: typeNameOf(obj), Reason: "PSArgumentException",
						ErrorID: "ExpandPropertyNotFound", Source: "Microsoft.PowerShell.Commands.SelectObjectCommand"})
					continue
				}
				out = append(out, enumerate(property(obj, name))...)
			}
			if c.Bool("Unique") {
				var uniq []any
				for _, o := range out {
					dup := false
					for _, u := range uniq {
						if equalValues(u, o, true) {
							dup = true
						}
					}
					if !dup {
						uniq = append(uniq, o)
					}
				}
				out = uniq
			}
			c.Write(out...)
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "Sort-Object", Aliases: []string{"sort"},
		Synopsis: "Sorts objects by property values.",
		Params: []Param{
			{Name: "Property", Type: Any, TypeName: "Object[]", Position: 1},
			{Name: "Descending", Type: Switch},
			{Name: "Unique", Type: Switch},
		},
		Process: func(c *Call) error {
			in := append([]any(nil), c.Input()...)
			spec := enumerate(c.Value("Property"))
			key := func(v any) []any {
				if len(spec) == 0 {
					return []any{v}
				}
				var k []any
				for _, s := range spec {
					if h, ok := s.(*Hashtable); ok {
						if ex, ok := h.Get("Expression"); ok {
							if sb, ok := ex.(*ScriptBlock); ok {
								out, _ := c.engine.invokeBlock(sb, v)
								k = append(k, collapse(out))
								continue
							}
							k = append(k, property(v, toString(ex)))
							continue
						}
					}
					k = append(k, property(v, toString(s)))
				}
				return k
			}
			sortValues(in, key, c.Bool("Descending"))
			if c.Bool("Unique") {
				var out []any
				for i, v := range in {
					if i > 0 && equalValues(toString(key(v)), toString(key(in[i-1])), false) {
						continue
					}
					out = append(out, v)
				}
				in = out
			}
			c.Write(in...)
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "Group-Object", Aliases: []string{"group"},
		Synopsis: "Groups objects that contain the same value for specified properties.",
		Params:   []Param{{Name: "Property", Type: Any, TypeName: "Object[]", Position: 1}, {Name: "NoElement", Type: Switch}},
		Process: func(c *Call) error {
			spec := enumerate(c.Value("Property"))
			var names []string
			groups := map[string][]any{}
			for _, v := range c.Input() {
				var parts []string
				for _, p := range spec {
					parts = append(parts, toString(property(v, toString(p))))
				}
				if len(spec) == 0 {
					parts = []string{toString(v)}
				}
				k := strings.Join(parts, ", ")
				lk := strings.ToLower(k)
				if _, ok := groups[lk]; !ok {
					names = append(names, k)
				}
				groups[lk] = append(groups[lk], v)
			}
			for _, n := range names {
				g := groups[strings.ToLower(n)]
				o := NewObject("Microsoft.PowerShell.Commands.GroupInfo", "Count", len(g), "Name", n)
				if !c.Bool("NoElement") {
					o.Set("Group", g)
				}
				o.View = groupView
				if c.Bool("NoElement") {
					o.View = groupViewNoElement
				}
				c.Write(o)
			}
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "Measure-Object", Aliases: []string{"measure"},
		Synopsis: "Calculates the numeric properties of objects.",
		Params: []Param{
			{Name: "Property", Type: Strings, Position: 1},
			{Name: "Sum", Type: Switch}, {Name: "Average", Type: Switch},
			{Name: "Maximum", Type: Switch}, {Name: "Minimum", Type: Switch},
		},
		Process: func(c *Call) error {
			in := c.Input()
			props := c.Strings("Property")
			if len(props) == 0 {
				props = []string{""}
			}
			for _, p := range props {
				var nums []float64
				count := 0
				for _, v := range in {
					x := v
					if p != "" {
						x = property(v, p)
						if o, ok := v.(*Object); ok && !o.Has(p) {
							continue
						}
					}
					count++
					if f, ok := toNumber(x); ok {
						nums = append(nums, f)
					}
				}
				o := NewObject("Microsoft.PowerShell.Commands.GenericMeasureInfo", "Count", count)
				var sum float64
				mx, mn := 0.0, 0.0
				for i, f := range nums {
					sum += f
					if i == 0 || f > mx {
						mx = f
					}
					if i == 0 || f < mn {
						mn = f
					}
				}
				set := func(name string, on bool, v any) {
					if on && len(nums) > 0 {
						o.Set(name, v)
					} else {
						o.Set(name, nil)
					}
				}
				avg := 0.0
				if len(nums) > 0 {
					avg = sum / float64(len(nums))
				}
				set("Average", c.Bool("Average"), numberValue(avg))
				set("Sum", c.Bool("Sum"), numberValue(sum))
				set("Maximum", c.Bool("Maximum"), numberValue(mx))
				set("Minimum", c.Bool("Minimum"), numberValue(mn))
				o.Set("Property", nilIfEmpty(p))
				c.Write(o)
			}
			return nil
		},
	})
	reg(&Cmdlet{
		// "table" and "list" are RemoteExchange.ps1's own aliases
		Name: "Format-Table", Aliases: []string{"ft", "table"},
		Synopsis: "Formats the output as a table.",
		Params: []Param{
			{Name: "Property", Type: Any, TypeName: "Object[]", Position: 1},
			{Name: "AutoSize", Type: Switch},
			{Name: "HideTableHeaders", Type: Switch},
			{Name: "Wrap", Type: Switch},
		},
		Process: func(c *Call) error {
			in := expandHashtables(c.Input())
			spec := enumerate(c.Value("Property"))
			var b strings.Builder
			for len(in) > 0 {
				// one table per run of objects of one type, as Out-Default groups them
				n := 1
				for n < len(in) && sameType(in[0], in[n]) {
					n++
				}
				group := in[:n]
				in = in[n:]
				if !isFormattable(group[0]) {
					for _, g := range group {
						b.WriteString(toString(g) + "\n")
					}
					continue
				}
				var cols []Column
				if len(spec) > 0 {
					cols, _ = c.engine.expandProperties(spec, group[0])
				} else if _, isEntry := group[0].(*Object); isEntry && group[0].(*Object).TypeName == "System.Collections.DictionaryEntry" {
					cols = dictionaryView
				} else if kind, vc, _ := c.engine.shapeOf(group[0]); kind == TableView {
					cols = vc
				} else {
					cols = allColumns(group[0])
				}
				b.WriteString(c.engine.renderTable(cols, group, c.Bool("AutoSize"), c.Bool("HideTableHeaders")))
			}
			c.Write(&formatted{text: b.String()})
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "Format-List", Aliases: []string{"fl", "list"},
		Synopsis: "Formats the output as a list of properties in which each property appears on a new line.",
		Params: []Param{
			{Name: "Property", Type: Any, TypeName: "Object[]", Position: 1},
		},
		Process: func(c *Call) error {
			in := c.Input()
			if len(in) == 0 {
				return nil
			}
			spec := enumerate(c.Value("Property"))
			var objs, scalars []any
			for _, v := range in {
				if isFormattable(v) {
					objs = append(objs, v)
				} else {
					scalars = append(scalars, v)
				}
			}
			var b strings.Builder
			for _, s := range scalars {
				b.WriteString(toString(s) + "\n")
			}
			if len(objs) > 0 {
				b.WriteString(c.engine.renderList(objs, func(v any) []Column {
					if len(spec) > 0 {
						cols, _ := c.engine.expandProperties(spec, v)
						return cols
					}
					if o, ok := v.(*Object); ok && o.View != nil && o.View.Kind == ListView {
						return o.View.Columns
					}
					if o, ok := v.(*Object); ok && o.View == nil {
						if tv := c.engine.views[strings.ToLower(o.TypeName)]; tv != nil && tv.Kind == ListView {
							return tv.Columns
						}
					}
					return allColumns(v)
				}))
			}
			c.Write(&formatted{text: b.String()})
			return nil
		},
	})
	reg(&Cmdlet{
		Name:     "Out-String",
		Synopsis: "Sends objects to the host as a series of strings.",
		Params:   []Param{{Name: "Width", Type: Int}, {Name: "Stream", Type: Switch}},
		Process: func(c *Call) error {
			e := c.engine
			if c.IsSet("Width") {
				old := e.Width
				e.Width = int(c.Int("Width"))
				defer func() { e.Width = old }()
			}
			s := e.formatAll(c.Input())
			if c.Bool("Stream") {
				for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
					c.Write(l)
				}
				return nil
			}
			c.Write(s)
			return nil
		},
	})
	reg(&Cmdlet{Name: "Out-Null", Synopsis: "Hides the output instead of sending it down the pipeline or displaying it.",
		Process: func(c *Call) error { return nil }})
	reg(&Cmdlet{Name: "Out-Host", Aliases: []string{"oh"}, Synopsis: "Sends output to the command line.",
		Process: func(c *Call) error {
			c.engine.host(c.engine.formatAll(c.Input()), false)
			return nil
		}})
	reg(&Cmdlet{
		Name:     "Write-Host",
		Synopsis: "Writes customized output to a host.",
		Params: []Param{
			{Name: "Object", Type: Any, Position: 1, Remaining: true},
			{Name: "NoNewline", Type: Switch},
			{Name: "Separator", Type: Any},
			{Name: "ForegroundColor", Type: String},
			{Name: "BackgroundColor", Type: String},
		},
		Process: func(c *Call) error {
			sep := " "
			if c.IsSet("Separator") {
				sep = c.String("Separator")
			}
			var parts []string
			vals := enumerate(c.Value("Object"))
			if !c.IsSet("Object") {
				vals = c.Input()
			}
			for _, v := range vals {
				parts = append(parts, toString(v))
			}
			text := strings.Join(parts, sep)
			if !c.Bool("NoNewline") {
				text += "\n"
			}
			c.WriteHost(text)
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "Write-Output", Aliases: []string{"echo", "write"},
		Synopsis: "Sends the specified objects to the next command in the pipeline.",
		Params:   []Param{{Name: "InputObject", Type: Any, TypeName: "PSObject[]", Position: 1, Mandatory: true, FromPipeline: true, Remaining: true}},
		Process: func(c *Call) error {
			c.Write(c.Value("InputObject"))
			return nil
		},
	})
	reg(&Cmdlet{
		Name:     "Write-Warning",
		Synopsis: "Writes a warning message.",
		Params:   []Param{{Name: "Message", Type: String, Position: 1, Mandatory: true, FromPipeline: true}},
		Process: func(c *Call) error {
			c.WriteWarning(c.String("Message"))
			return nil
		},
	})
	reg(&Cmdlet{
		Name:     "Write-Verbose",
		Synopsis: "Writes text to the verbose message stream.",
		Params:   []Param{{Name: "Message", Type: String, Position: 1, Mandatory: true, FromPipeline: true}},
		Process: func(c *Call) error {
			if toBool(mustVar(c.engine, "VerbosePreference")) && !strings.EqualFold(toString(mustVar(c.engine, "VerbosePreference")), "SilentlyContinue") {
				c.verbose = true
			}
			c.WriteVerbose(c.String("Message"))
			return nil
		},
	})
	reg(&Cmdlet{
		Name:     "ConvertTo-SecureString",
		Synopsis: "Converts plain text or encrypted strings to secure strings.",
		Params: []Param{
			{Name: "String", Type: String, Position: 1, Mandatory: true, FromPipeline: true},
			{Name: "AsPlainText", Type: Switch},
			{Name: "Force", Type: Switch},
			{Name: "Key", Type: Any},
		},
		Process: func(c *Call) error {
			if !c.Bool("AsPlainText") {
				return &ErrorRecord{Message: "The input string was not in a correct format for a SecureString.", Category: InvalidArgument,
					Reason: "FormatException", ErrorID: "ImportSecureString_InvalidArgument",
					Source: "Microsoft.PowerShell.Commands.ConvertToSecureStringCommand"}
			}
			if !c.Bool("Force") {
				return &ErrorRecord{Message: "The system cannot protect plain text input. To suppress this warning and convert the plain text to a SecureString, reissue the command specifying the Force parameter. For more information ,type: get-help ConvertTo-SecureString.",
					Category: InvalidArgument, Reason: "ArgumentException", ErrorID: "ImportSecureString_InvalidArgument",
					Source: "Microsoft.PowerShell.Commands.ConvertToSecureStringCommand"}
			}
			c.Write(NewSecureString(c.String("String")))
			return nil
		},
	})
	e.registerDate(reg)
	reg(&Cmdlet{Name: "Clear-Host", Aliases: []string{"cls", "clear"}, Synopsis: "Clears the display in the host program.",
		Process: func(c *Call) error { return nil }})
	reg(&Cmdlet{
		Name: "Get-Help", Aliases: []string{"help", "man"},
		Synopsis: "Displays information about PowerShell commands and concepts.",
		Params: []Param{
			{Name: "Name", Type: String, Position: 1},
			{Name: "Examples", Type: Switch},
			{Name: "Detailed", Type: Switch},
			{Name: "Full", Type: Switch},
			{Name: "Parameter", Type: String},
			{Name: "Online", Type: Switch},
		},
		Process: func(c *Call) error { return c.engine.getHelp(c) },
	})
	reg(&Cmdlet{
		Name: "Get-History", Aliases: []string{"h", "history", "ghy"},
		Synopsis: "Gets a list of the commands entered during the current session.",
		Params:   []Param{{Name: "Count", Type: Int, Position: 1}},
		Process: func(c *Call) error {
			h := c.engine.history
			// the running command is not yet history
			if len(h) > 0 {
				h = h[:len(h)-1]
			}
			first := 0
			if c.IsSet("Count") {
				first = max(len(h)-int(c.Int("Count")), 0)
			}
			for i := first; i < len(h); i++ {
				o := NewObject("Microsoft.PowerShell.Commands.HistoryInfo", "Id", i+1, "CommandLine", h[i])
				o.View = historyView
				c.Write(o)
			}
			return nil
		},
	})
	reg(&Cmdlet{
		Name: "Get-Command", Aliases: []string{"gcm"},
		Synopsis: "Gets all commands.",
		Params: []Param{
			{Name: "Name", Type: Strings, Position: 1},
			{Name: "Verb", Type: Strings},
			{Name: "Noun", Type: Strings},
			{Name: "CommandType", Type: Strings},
		},
		Process: func(c *Call) error { return c.engine.getCommand(c) },
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isFormattable(v any) bool {
	switch v.(type) {
	case *Object, *Hashtable:
		return true
	}
	return false
}

func sameType(a, b any) bool {
	oa, ok1 := a.(*Object)
	ob, ok2 := b.(*Object)
	if ok1 && ok2 {
		return strings.EqualFold(oa.TypeName, ob.TypeName)
	}
	return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

func expandHashtables(in []any) []any {
	var out []any
	for _, v := range in {
		if h, ok := v.(*Hashtable); ok {
			out = append(out, hashRows(h)...)
			continue
		}
		out = append(out, v)
	}
	return out
}

// groupView is PowerShell's GroupInfo table: Count (5, right-aligned), Name (25), Group.
var groupView = &View{Kind: TableView, Columns: []Column{{Property: "Count", Width: 5, Right: true}, {Property: "Name", Width: 25}, {Property: "Group"}}}

var groupViewNoElement = &View{Kind: TableView, Columns: []Column{{Property: "Count", Width: 5, Right: true}, {Property: "Name", Width: 25}}}

var historyView = &View{Kind: TableView, Columns: []Column{{Property: "Id", Width: 4, Right: true}, {Property: "CommandLine"}}}

var commandInfoView = &View{Kind: TableView, Columns: []Column{
	{Property: "CommandType", Width: 15}, {Property: "Name", Width: 50}, {Property: "Version", Width: 10}, {Property: "Source"},
}}

// ModuleName is the Source Get-Command shows for registered cmdlets (in the Exchange
// Management Shell, the implicit-remoting module of the session).
var ModuleName = "exlab"

func (e *Engine) getCommand(c *Call) error {
	names := c.Strings("Name")
	var out []any
	for _, cm := range e.Cmdlets() {
		if len(names) > 0 {
			hit := false
			for _, n := range names {
				if Like(cm.Name, n) {
					hit = true
				}
			}
			if !hit {
				continue
			}
		}
		verb, noun, _ := strings.Cut(cm.Name, "-")
		if vs := c.Strings("Verb"); len(vs) > 0 && !anyLike(verb, vs) {
			continue
		}
		if ns := c.Strings("Noun"); len(ns) > 0 && !anyLike(noun, ns) {
			continue
		}
		typ, ver, src := "Function", "1.0", ModuleName
		if cm.builtin {
			typ, ver, src = "Cmdlet", "3.1.0.0", "Microsoft.PowerShell.Utility"
			switch cm.Name {
			case "Where-Object", "ForEach-Object", "Get-Help", "Get-Command", "Out-Null", "Out-Host":
				ver, src = "3.0.0.0", "Microsoft.PowerShell.Core"
			case "ConvertTo-SecureString":
				ver, src = "3.0.0.0", "Microsoft.PowerShell.Security"
			}
		}
		if ts := c.Strings("CommandType"); len(ts) > 0 && !anyLike(typ, ts) {
			continue
		}
		o := NewObject("System.Management.Automation.CommandInfo", "CommandType", typ, "Name", cm.Name, "Version", ver, "Source", src)
		o.View = commandInfoView
		out = append(out, o)
	}
	if len(out) == 0 && len(names) > 0 && !strings.ContainsAny(names[0], "*?") {
		rec := errCommandNotFound(names[0])
		rec.Activity = "Get-Command"
		rec.Source = "Microsoft.PowerShell.Commands.GetCommandCommand"
		rec.ErrorID = "CommandNotFoundException"
		c.WriteError(rec)
		return nil
	}
	c.Write(out...)
	return nil
}

func anyLike(s string, pats []string) bool {
	for _, p := range pats {
		if Like(s, p) {
			return true
		}
	}
	return false
}

// syntaxLines are Get-Help's SYNTAX entries, one per parameter set, built from the parameter
// table as PowerShell builds them: positional parameters first in position order, then the
// named ones, [-WhatIf] [-Confirm] and [<CommonParameters>].
func (cm *Cmdlet) syntaxLines() []string {
	sets := []string{}
	seen := map[string]bool{}
	for _, p := range cm.Params {
		for _, s := range strings.Split(p.Set, ",") {
			s = strings.TrimSpace(s)
			if s != "" && !seen[strings.ToLower(s)] {
				seen[strings.ToLower(s)] = true
				sets = append(sets, s)
			}
		}
	}
	if len(sets) == 0 {
		sets = []string{""}
	}
	var lines []string
	for _, set := range sets {
		var ps []*Param
		for i := range cm.Params {
			if inSet(&cm.Params[i], set) && !cm.Params[i].hidden {
				ps = append(ps, &cm.Params[i])
			}
		}
		sort.SliceStable(ps, func(i, j int) bool {
			pi, pj := ps[i].Position, ps[j].Position
			if pi > 0 && pj > 0 {
				return pi < pj
			}
			return pi > 0 && pj == 0
		})
		parts := []string{cm.Name}
		for _, p := range ps {
			parts = append(parts, p.syntax())
		}
		if cm.SupportsShouldProcess {
			parts = append(parts, "[-WhatIf]", "[-Confirm]")
		}
		parts = append(parts, "[<CommonParameters>]")
		lines = append(lines, strings.Join(parts, " "))
	}
	return lines
}

func (p *Param) syntax() string {
	name := "-" + p.Name
	if p.Position > 0 {
		name = "[" + name + "]"
	}
	s := name
	switch {
	case p.Type == Switch:
	case p.Type == Enum && len(p.Values) > 0:
		s += " {" + strings.Join(p.Values, " | ") + "}"
	default:
		s += " <" + p.typeName() + ">"
	}
	if !p.Mandatory || p.Type == Switch {
		s = "[" + s + "]"
	}
	return s
}

// wrap cuts text into lines of at most width, breaking at spaces, each line indented.
func wrap(text string, width int, indent string) string {
	var out []string
	for _, para := range strings.Split(text, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			out = append(out, "")
			continue
		}
		line := indent
		for _, w := range words {
			if line != indent && runeLen(line)+1+runeLen(w) > width {
				out = append(out, line)
				line = indent
			}
			if line == indent {
				line += w
			} else {
				line += " " + w
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

// getHelp prints a command's help in Get-Help's layout.
func (e *Engine) getHelp(c *Call) error {
	name := c.String("Name")
	if name == "" {
		name = "Get-Help"
	}
	cm := e.lookup(name)
	if cm == nil {
		var matches []*Cmdlet
		for _, x := range e.Cmdlets() {
			if Like(x.Name, name) {
				matches = append(matches, x)
			}
		}
		if len(matches) == 1 {
			cm = matches[0]
		} else if len(matches) > 1 {
			var rows []any
			for _, m := range matches {
				cat := "Function"
				if m.builtin {
					cat = "Cmdlet"
				}
				rows = append(rows, NewObject("HelpInfoShort", "Name", m.Name, "Category", cat, "Module", ModuleName, "Synopsis", m.Synopsis))
			}
			c.Write(rows...)
			return nil
		}
	}
	if cm == nil {
		return &ErrorRecord{
			Message:  fmt.Sprintf("Get-Help could not find %s in a help file in this session. To download updated help topics type: \"Update-Help\". To get help online, search for the help topic in the TechNet library at https:/go.microsoft.com/fwlink/?LinkID=107116.", name),
			Category: ResourceUnavail, TargetName: name, TargetType: "String", Reason: "HelpNotFoundException",
			ErrorID: "HelpNotFound", Source: "Microsoft.PowerShell.Commands.GetHelpCommand",
		}
	}
	w := e.Width
	var b strings.Builder
	b.WriteString("\nNAME\n    " + cm.Name + "\n\nSYNOPSIS\n")
	b.WriteString(wrap(cm.Synopsis, w, "    "))
	if c.Bool("Examples") {
		b.WriteString("\n")
		for i, ex := range cm.Examples {
			b.WriteString(fmt.Sprintf("    -------------------------- Example %d --------------------------\n\n", i+1))
			code, desc, _ := strings.Cut(ex, "\n\n")
			b.WriteString("    " + strings.ReplaceAll(code, "\n", "\n    ") + "\n\n")
			if desc != "" {
				b.WriteString(wrap(desc, w, "    "))
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
		c.Write(&formatted{text: b.String()})
		return nil
	}
	if p := c.String("Parameter"); p != "" {
		b.Reset()
		prm, rec := cm.resolveParam(p)
		if rec != nil || cm.param(prm.Name) == nil {
			return &ErrorRecord{Message: fmt.Sprintf("No parameter matches criteria %s.", p), Category: InvalidArgument,
				TargetName: cm.Name, TargetType: "CmdletInfo", Reason: "ArgumentException", ErrorID: "NoParmsFound",
				Source: "Microsoft.PowerShell.Commands.GetHelpCommand"}
		}
		b.WriteString("\n")
		b.WriteString(paramHelp(prm, w))
		c.Write(&formatted{text: b.String()})
		return nil
	}
	b.WriteString("\n\nSYNTAX\n")
	for i, l := range cm.syntaxLines() {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(wrap(l, w, "    "))
	}
	b.WriteString("\n\nDESCRIPTION\n")
	desc := cm.Description
	if desc == "" {
		desc = cm.Synopsis
	}
	b.WriteString(wrap(desc, w, "    "))
	if c.Bool("Full") || c.Bool("Detailed") {
		b.WriteString("\n\nPARAMETERS\n")
		for i := range cm.Params {
			if !cm.Params[i].hidden {
				b.WriteString(paramHelp(&cm.Params[i], w))
			}
		}
		b.WriteString("    <CommonParameters>\n        This cmdlet supports the common parameters: Verbose, Debug,\n" +
			"        ErrorAction, ErrorVariable, WarningAction, WarningVariable,\n" +
			"        OutBuffer, PipelineVariable, and OutVariable. For more information, see\n" +
			"        about_CommonParameters (https:/go.microsoft.com/fwlink/?LinkID=113216).\n\n")
	}
	b.WriteString("\n\nRELATED LINKS\n\nREMARKS\n")
	b.WriteString(fmt.Sprintf("    To see the examples, type: \"get-help %s -examples\".\n", cm.Name))
	b.WriteString(fmt.Sprintf("    For more information, type: \"get-help %s -detailed\".\n", cm.Name))
	b.WriteString(fmt.Sprintf("    For technical information, type: \"get-help %s -full\".\n", cm.Name))
	b.WriteString("\n\n")
	c.Write(&formatted{text: b.String()})
	return nil
}

func paramHelp(p *Param, w int) string {
	var b strings.Builder
	t := ""
	if p.Type != Switch {
		t = " <" + p.typeName() + ">"
	} else {
		t = " [<SwitchParameter>]"
	}
	b.WriteString("    -" + p.Name + t + "\n")
	if p.Help != "" {
		b.WriteString(wrap(p.Help, w, "        "))
	}
	b.WriteString("\n")
	pos := "named"
	if p.Position > 0 {
		pos = fmt.Sprint(p.Position)
	}
	pipe := "false"
	switch {
	case p.FromPipeline && p.FromPipelineByName:
		pipe = "True (ByValue, ByPropertyName)"
	case p.FromPipeline:
		pipe = "True (ByValue)"
	case p.FromPipelineByName:
		pipe = "True (ByPropertyName)"
	}
	b.WriteString(fmt.Sprintf("        Required?                    %s\n", strings.ToLower(toString(p.Mandatory))))
	b.WriteString(fmt.Sprintf("        Position?                    %s\n", pos))
	b.WriteString("        Default value\n")
	b.WriteString(fmt.Sprintf("        Accept pipeline input?       %s\n", pipe))
	b.WriteString("        Accept wildcard characters?  false\n\n")
	return b.String()
}
