package shell

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Kind is a parameter's type: how the binder converts an argument.
type Kind int

// The parameter kinds. The zero value is Any.
const (
	// Any takes the argument as it is (an array stays an array).
	Any Kind = iota
	// String takes a scalar's text; an array is an error.
	String
	// Int takes an integer (10MB too) or a numeric string.
	Int
	// Bool takes $true/$false or a number (Exchange's "<$true | $false>" parameters).
	Bool
	// Switch is present or absent; -Name:$false sets it off.
	Switch
	// Strings takes one value or an array, each as text.
	Strings
	// MultiValued is Exchange's MultiValuedProperty: a value or array replaces, @{Add=…;
	// Remove=…} edits; Call.Multi returns it.
	MultiValued
	// SecureString takes only a ConvertTo-SecureString result.
	SecureValue
	// Object takes one value, typically an object from the pipeline (an Identity).
	ObjectValue
	// Enum takes one of Param.Values, matched case-insensitively.
	Enum
	// Script takes a script block.
	Script
	// DateTime takes a time.Time or a date string (Call.Time).
	DateTime
)

// Named is the Position of a parameter that has none.
const Named = 0

// Param describes one parameter of a cmdlet: the binder's input, Get-Help's syntax and the
// completion list.
type Param struct {
	Name    string
	Aliases []string
	Type    Kind
	// TypeName is the .NET type Get-Help shows and conversion errors name; empty means the
	// kind's default (String, Int32, SwitchParameter, MultiValuedProperty …).
	TypeName string
	// Values are an Enum's names.
	Values []string
	// Position is 1-based; Named (0) for a named-only parameter.
	Position int
	// Mandatory parameters missing after binding are asked for in Interactive mode, an error
	// in Run.
	Mandatory bool
	// FromPipeline binds each input object (ValueFromPipeline); FromPipelineByName binds the
	// input object's property of the same name or alias (ValueFromPipelineByPropertyName).
	FromPipeline, FromPipelineByName bool
	// Set names the parameter sets the parameter belongs to, comma-separated; empty means all.
	Set string
	// Remaining takes every positional argument left, as an array (ValueFromRemainingArguments).
	Remaining bool
	// Help is the parameter's description for Get-Help -Full/-Parameter.
	Help string

	hidden bool // a script function's $args: bound, not shown
}

// Cmdlet is one command. Process runs once per pipeline input object when a parameter takes
// pipeline input and there is input (PowerShell's ProcessRecord); otherwise once, with all
// input objects in Call.Input.
type Cmdlet struct {
	Name        string
	Aliases     []string
	Synopsis    string
	Description string
	Params      []Param
	// View is the default view of the objects the cmdlet writes that carry none.
	View *View
	// SupportsShouldProcess adds -WhatIf and -Confirm; HighImpact asks before acting in an
	// interactive session unless -Confirm:$false.
	SupportsShouldProcess, HighImpact bool
	// ClassName is the FullyQualifiedErrorId suffix of the cmdlet's errors, e.g.
	// Microsoft.Exchange.Management.SystemConfigurationTasks.GetReceiveConnector.
	ClassName string
	// Examples are shown by Get-Help -Examples, each "code\n\ndescription".
	Examples []string
	Process  func(*Call) error

	builtin bool
}

// common parameters every cmdlet accepts (about_CommonParameters), with their aliases.
var commonParams = []Param{
	{Name: "Verbose", Aliases: []string{"vb"}, Type: Switch},
	{Name: "Debug", Aliases: []string{"db"}, Type: Switch},
	{Name: "ErrorAction", Aliases: []string{"ea"}, Type: Enum, TypeName: "ActionPreference",
		Values: []string{"SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"}},
	{Name: "WarningAction", Aliases: []string{"wa"}, Type: Enum, TypeName: "ActionPreference",
		Values: []string{"SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"}},
	{Name: "ErrorVariable", Aliases: []string{"ev"}, Type: String},
	{Name: "WarningVariable", Aliases: []string{"wv"}, Type: String},
	{Name: "OutVariable", Aliases: []string{"ov"}, Type: String},
	{Name: "OutBuffer", Aliases: []string{"ob"}, Type: Int},
	{Name: "PipelineVariable", Aliases: []string{"pv"}, Type: String},
	{Name: "InformationAction", Aliases: []string{"infa"}, Type: Enum, TypeName: "ActionPreference",
		Values: []string{"SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"}},
	{Name: "InformationVariable", Aliases: []string{"iv"}, Type: String},
}

var shouldProcessParams = []Param{
	{Name: "WhatIf", Aliases: []string{"wi"}, Type: Switch},
	{Name: "Confirm", Aliases: []string{"cf"}, Type: Switch},
}

func (c *Cmdlet) allParams() []Param {
	ps := append([]Param(nil), c.Params...)
	ps = append(ps, commonParams...)
	if c.SupportsShouldProcess {
		ps = append(ps, shouldProcessParams...)
	}
	return ps
}

func (c *Cmdlet) param(name string) *Param {
	for i := range c.Params {
		if strings.EqualFold(c.Params[i].Name, name) {
			return &c.Params[i]
		}
	}
	return nil
}

// MultiValue is a bound MultiValued parameter: either a replacement list or additions and
// removals (Exchange's @{Add=…; Remove=…}).
type MultiValue struct {
	// Replace is set (possibly empty, for $null) when the argument was a value or an array.
	Replace     []string
	IsReplace   bool
	Add, Remove []string
}

// Apply returns the list after the change: the replacement, or old with Add appended (when not
// already present) and Remove taken out, compared case-insensitively.
func (m MultiValue) Apply(old []string) []string {
	if m.IsReplace {
		return append([]string{}, m.Replace...)
	}
	out := []string{}
	for _, o := range old {
		drop := false
		for _, r := range m.Remove {
			if strings.EqualFold(o, r) {
				drop = true
			}
		}
		if !drop {
			out = append(out, o)
		}
	}
	for _, a := range m.Add {
		dup := false
		for _, o := range out {
			if strings.EqualFold(o, a) {
				dup = true
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// Call is one invocation of a cmdlet's Process: the bound parameters, the input and the ways
// to write output.
type Call struct {
	Cmdlet *Cmdlet
	Ctx    context.Context

	engine  *Engine
	bound   map[string]any // canonical name → converted value
	input   []any
	emit    func(any) error
	stopErr *ErrorRecord
	whatIf  bool
	confirm *bool
	errAct  string
	verbose bool
	inv     *command
	emitErr error
	toAll   *string // "a" (Yes to All) or "l" (No to All), shared by the calls of one command
}

// IsSet reports whether the parameter was given (on the command line or from the pipeline).
func (c *Call) IsSet(name string) bool {
	_, ok := c.bound[strings.ToLower(name)]
	return ok
}

// Value is the bound value as converted for its kind (nil when not set).
func (c *Call) Value(name string) any { return c.bound[strings.ToLower(name)] }

// String is a String/Enum/Any parameter's text.
func (c *Call) String(name string) string { return toString(c.Value(name)) }

// Int is an Int parameter's value.
func (c *Call) Int(name string) int64 {
	f, _ := toNumber(c.Value(name))
	return int64(f)
}

// Bool is a Bool or Switch parameter's value.
func (c *Call) Bool(name string) bool { return toBool(c.Value(name)) }

// Strings is a Strings parameter's values (a scalar gives one).
func (c *Call) Strings(name string) []string {
	var out []string
	for _, v := range enumerate(c.Value(name)) {
		out = append(out, toString(v))
	}
	return out
}

// Multi is a MultiValued parameter's change.
func (c *Call) Multi(name string) MultiValue {
	if m, ok := c.Value(name).(MultiValue); ok {
		return m
	}
	return MultiValue{IsReplace: true, Replace: c.Strings(name)}
}

// Secure is a SecureString parameter's value (nil when not set).
func (c *Call) Secure(name string) *SecureString {
	s, _ := c.Value(name).(*SecureString)
	return s
}

// Object is an Object parameter's value when it is an object.
func (c *Call) Object(name string) *Object {
	o, _ := c.Value(name).(*Object)
	return o
}

// Input is the pipeline input: all input objects for a cmdlet without pipeline parameters,
// else the current one.
func (c *Call) Input() []any { return c.input }

// Write sends objects down the pipeline (arrays are unrolled).
func (c *Call) Write(objs ...any) {
	if c.stopErr != nil || c.emitErr != nil {
		return
	}
	for _, o := range objs {
		for _, v := range enumerate(o) {
			if err := c.emit(v); err != nil {
				c.emitErr = err
				return
			}
		}
	}
}

// WriteWarning prints "WARNING: msg", as Exchange's cmdlets warn (unless -WarningAction
// SilentlyContinue).
func (c *Call) WriteWarning(msg string) {
	if strings.EqualFold(c.String("WarningAction"), "SilentlyContinue") || strings.EqualFold(c.String("WarningAction"), "Ignore") {
		return
	}
	c.engine.host("WARNING: "+msg+"\n", true)
}

// WriteVerbose prints "VERBOSE: msg" under -Verbose.
func (c *Call) WriteVerbose(msg string) {
	if c.verbose {
		c.engine.host("VERBOSE: "+msg+"\n", true)
	}
}

// WriteHost prints text to the console, as Write-Host does.
func (c *Call) WriteHost(text string) { c.engine.host(text, false) }

// WriteError reports a non-terminating error. Under -ErrorAction Stop it ends the command
// instead: later writes are dropped and the engine stops the script with it.
func (c *Call) WriteError(rec *ErrorRecord) {
	c.engine.fillRecord(rec, c.Cmdlet, c.inv)
	switch strings.ToLower(c.errAct) {
	case "stop":
		if c.stopErr == nil {
			c.stopErr = rec
		}
		return
	case "silentlycontinue", "ignore":
		c.engine.recordError(rec)
		return
	}
	c.engine.recordError(rec)
	c.engine.host(rec.Format(), true)
}

// Stopped reports whether -ErrorAction Stop turned an error terminating; Process should return.
func (c *Call) Stopped() bool { return c.stopErr != nil }

// ShouldProcess asks whether to act on target. Under -WhatIf it prints
// `What if: <action> "<target>".` (Exchange's form: `What if: Configuring Receive connector
// "EX01\Default EX01".`) and returns false. With -Confirm, or for a HighImpact cmdlet in an
// interactive session, it asks first.
func (c *Call) ShouldProcess(target, action string) bool {
	msg := action
	if target != "" {
		msg = action + ` "` + target + `".`
	} else if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	if c.whatIf {
		c.engine.host("What if: "+msg+"\n", false)
		return false
	}
	ask := c.Cmdlet.HighImpact
	if c.confirm != nil {
		ask = *c.confirm
	}
	if !ask || c.engine.confirm == nil {
		return true
	}
	if c.toAll != nil {
		switch *c.toAll {
		case "a":
			return true
		case "l":
			return false
		}
	}
	ans := c.engine.confirm(msg)
	switch ans {
	case "a", "l":
		if c.toAll != nil {
			*c.toAll = ans
		}
		return ans == "a"
	case "y", "":
		return true
	}
	return false
}

// Width is the output width tables and lists are cut to.
func (c *Call) Width() int { return c.engine.Width }

// Engine returns the engine running the call (its settings and variables). A cmdlet must not
// call Run on it (Run holds the engine); InvokeScript runs a script block.
func (c *Call) Engine() *Engine { return c.engine }

// Register adds a cmdlet (replacing one of the same name).
func (e *Engine) Register(c *Cmdlet) {
	e.cmdlets[strings.ToLower(c.Name)] = c
	for _, a := range c.Aliases {
		e.aliases[strings.ToLower(a)] = c.Name
	}
}

// Cmdlets lists the registered commands by name.
func (e *Engine) Cmdlets() []*Cmdlet {
	var out []*Cmdlet
	for _, c := range e.cmdlets {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

func (e *Engine) lookup(name string) *Cmdlet {
	n := strings.ToLower(name)
	if a, ok := e.aliases[n]; ok {
		n = strings.ToLower(a)
	}
	return e.cmdlets[n]
}

// kindTypeName is Get-Help's type for a parameter.
func (p *Param) typeName() string {
	if p.TypeName != "" {
		return p.TypeName
	}
	switch p.Type {
	case String:
		return "String"
	case Int:
		return "Int32"
	case Bool:
		return "Boolean"
	case Switch:
		return "SwitchParameter"
	case Strings:
		return "String[]"
	case MultiValued:
		return "MultiValuedProperty"
	case SecureValue:
		return "SecureString"
	case Script:
		return "ScriptBlock"
	case DateTime:
		return "DateTime"
	case Enum:
		return "String"
	}
	return "Object"
}

func (p *Param) fullTypeName() string {
	t := p.typeName()
	switch t {
	case "String", "Int32", "Boolean", "Object", "String[]", "Object[]":
		return "System." + t
	case "SwitchParameter", "ScriptBlock":
		return "System.Management.Automation." + t
	case "SecureString":
		return "System.Security.SecureString"
	}
	return t
}

// resolveParam finds a parameter by name, alias or unambiguous prefix (PowerShell accepts
// -Bind for -Bindings).
func (c *Cmdlet) resolveParam(name string) (*Param, *ErrorRecord) {
	all := c.allParams()
	for i := range all {
		if strings.EqualFold(all[i].Name, name) {
			return &all[i], nil
		}
		for _, a := range all[i].Aliases {
			if strings.EqualFold(a, name) {
				return &all[i], nil
			}
		}
	}
	var matches []*Param
	for i := range all {
		if len(name) <= len(all[i].Name) && strings.EqualFold(all[i].Name[:len(name)], name) {
			matches = append(matches, &all[i])
		}
	}
	switch len(matches) {
	case 0:
		return nil, errParamNotFound(c.Name, name)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.Name
	}
	return nil, errParamAmbiguous(c.Name, name, names)
}

// convert turns an argument into the parameter's kind, or returns the binder's error.
func (e *Engine) convert(c *Cmdlet, p *Param, v any) (any, *ErrorRecord) {
	v = normalize(v)
	if sv, ok := v.(*SwitchValue); ok && p.Type != Switch {
		v = sv.On
	}
	switch p.Type {
	case String:
		if arr, ok := v.([]any); ok {
			if len(arr) == 1 {
				return toString(arr[0]), nil
			}
			return nil, bindError(c.Name, "CannotConvertArgument", InvalidArgument,
				fmt.Sprintf("Cannot convert 'System.Object[]' to the type 'System.String' required by parameter '%s'. Specified method is not supported.", p.Name))
		}
		if v == nil {
			return nil, nil
		}
		return toString(v), nil
	case Int:
		if b, ok := v.(bool); ok {
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		}
		if s, ok := v.(string); ok && strings.EqualFold(strings.TrimSpace(s), "unlimited") {
			return "Unlimited", nil
		}
		f, ok := toNumber(v)
		if !ok || v == nil {
			return nil, errTransform(c.Name, p.Name, fmt.Sprintf("Cannot convert value %q to type %q. Error: \"Input string was not in a correct format.\"",
				toString(v), p.fullTypeNameOr("System.Int32")))
		}
		return int64(f), nil
	case Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		}
		return nil, errTransform(c.Name, p.Name, fmt.Sprintf("Cannot convert value %q to type \"System.Boolean\". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
			fullTypeNameOf(v)))
	case Switch:
		return &SwitchValue{On: toBool(v)}, nil
	case Strings:
		var out []any
		for _, x := range enumerate(v) {
			out = append(out, toString(x))
		}
		return out, nil
	case MultiValued:
		if h, ok := v.(*Hashtable); ok {
			m := MultiValue{}
			for _, k := range h.Keys() {
				val, _ := h.Get(k)
				var list []string
				for _, x := range enumerate(val) {
					list = append(list, toString(x))
				}
				switch strings.ToLower(k) {
				case "add", "+":
					m.Add = append(m.Add, list...)
				case "remove", "-":
					m.Remove = append(m.Remove, list...)
				default:
					return nil, errTransform(c.Name, p.Name, fmt.Sprintf("Cannot convert the \"System.Collections.Hashtable\" value of type \"System.Collections.Hashtable\" to type %q.", p.fullTypeNameOr("Microsoft.Exchange.Data.MultiValuedProperty")))
				}
			}
			return m, nil
		}
		m := MultiValue{IsReplace: true, Replace: []string{}}
		for _, x := range enumerate(v) {
			m.Replace = append(m.Replace, toString(x))
		}
		return m, nil
	case SecureValue:
		if s, ok := v.(*SecureString); ok {
			return s, nil
		}
		return nil, errTransform(c.Name, p.Name, fmt.Sprintf("Cannot convert the %q value of type %q to type \"System.Security.SecureString\".",
			toString(v), fullTypeNameOf(v)))
	case Enum:
		s := toString(v)
		for _, name := range p.Values {
			if strings.EqualFold(name, s) {
				return name, nil
			}
		}
		return nil, errCannotBind(c.Name, p.Name, fmt.Sprintf("Cannot convert value %q to type %q. Error: \"Unable to match the identifier name %s to a valid enumerator name. Specify one of the following enumerator names and try again:\n%s\"",
			s, p.fullTypeNameOr(p.typeName()), s, strings.Join(p.Values, ", ")))
	case DateTime:
		return e.convertDate(c, p, v)
	case Script:
		if sb, ok := v.(*ScriptBlock); ok {
			return sb, nil
		}
		return nil, errCannotBind(c.Name, p.Name, fmt.Sprintf("Cannot convert the %q value of type %q to type \"System.Management.Automation.ScriptBlock\".", toString(v), fullTypeNameOf(v)))
	case ObjectValue:
		if arr, ok := v.([]any); ok {
			if len(arr) == 1 {
				return arr[0], nil
			}
			return nil, errCannotBind(c.Name, p.Name, fmt.Sprintf("Cannot convert 'System.Object[]' to the type '%s' required by parameter '%s'. Specified method is not supported.", p.fullTypeNameOr("System.Object"), p.Name))
		}
	}
	return v, nil
}

func (p *Param) fullTypeNameOr(def string) string {
	if p.TypeName != "" {
		return p.TypeName
	}
	return def
}

func inSet(p *Param, set string) bool {
	if p.Set == "" || set == "" {
		return true
	}
	for _, s := range strings.Split(p.Set, ",") {
		if strings.EqualFold(strings.TrimSpace(s), set) {
			return true
		}
	}
	return false
}

// chooseSet returns the parameter set the bound parameters select ("" when any), or an error
// when they name two.
func chooseSet(c *Cmdlet, bound map[string]any) (string, *ErrorRecord) {
	var cands []string
	first := true
	for i := range c.Params {
		p := &c.Params[i]
		if _, ok := bound[strings.ToLower(p.Name)]; !ok || p.Set == "" {
			continue
		}
		sets := strings.Split(p.Set, ",")
		for j := range sets {
			sets[j] = strings.TrimSpace(sets[j])
		}
		if first {
			cands, first = sets, false
			continue
		}
		var keep []string
		for _, s := range cands {
			for _, t := range sets {
				if strings.EqualFold(s, t) {
					keep = append(keep, s)
				}
			}
		}
		cands = keep
		if len(cands) == 0 {
			return "", errParameterSet(c.Name)
		}
	}
	if len(cands) >= 1 {
		return cands[0], nil
	}
	return "", nil
}

// boundArgs is the command line's binding of one invocation.
type boundArgs struct {
	values map[string]any
	common map[string]any
	set    string
}

// bindCommandLine binds named, then positional arguments.
func (e *Engine) bindCommandLine(c *Cmdlet, cmd *command, args []evaluatedArg) (*boundArgs, *ErrorRecord) {
	b := &boundArgs{values: map[string]any{}, common: map[string]any{}}
	var positional []evaluatedArg
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.param == "" {
			positional = append(positional, a)
			continue
		}
		p, err := c.resolveParam(a.param)
		if err != nil {
			err.ext = a.ext
			return nil, err
		}
		var v any
		switch {
		case a.hasValue:
			v = a.value
		case p.Type == Switch:
			v = true
		default:
			if i+1 >= len(args) || args[i+1].param != "" {
				er := errMissingArgument(c.Name, p.Name, p.fullTypeName())
				er.ext = a.ext
				return nil, er
			}
			i++
			v = args[i].value
		}
		key := strings.ToLower(p.Name)
		if _, dup := b.values[key]; dup {
			er := errAlreadyBound(c.Name, p.Name)
			er.ext = a.ext
			return nil, er
		}
		if _, dup := b.common[key]; dup {
			er := errAlreadyBound(c.Name, p.Name)
			er.ext = a.ext
			return nil, er
		}
		cv, err := e.convert(c, p, v)
		if err != nil {
			err.ext = a.ext
			return nil, err
		}
		if c.param(p.Name) != nil {
			b.values[key] = cv
		} else {
			b.common[key] = cv
		}
	}
	set, err := chooseSet(c, b.values)
	if err != nil {
		err.ext = cmd.ext
		return nil, err
	}
	var byPos []*Param
	for i := range c.Params {
		if c.Params[i].Position > 0 {
			byPos = append(byPos, &c.Params[i])
		}
	}
	sort.SliceStable(byPos, func(i, j int) bool { return byPos[i].Position < byPos[j].Position })
	for pi := 0; pi < len(positional); pi++ {
		a := positional[pi]
		var target *Param
		for _, p := range byPos {
			if _, ok := b.values[strings.ToLower(p.Name)]; ok || !inSet(p, set) {
				continue
			}
			target = p
			break
		}
		if target == nil {
			er := errPositional(c.Name, toString(a.value))
			er.ext = a.ext
			return nil, er
		}
		val := a.value
		if target.Remaining {
			var rest []any
			for ; pi < len(positional); pi++ {
				rest = append(rest, positional[pi].value)
			}
			val = rest
			if len(rest) == 1 {
				val = rest[0]
			}
		}
		cv, err := e.convert(c, target, val)
		if err != nil {
			err.ext = a.ext
			return nil, err
		}
		b.values[strings.ToLower(target.Name)] = cv
		if target.Set != "" && set == "" {
			set, _ = chooseSet(c, b.values)
		}
	}
	b.set = set
	return b, nil
}

// bindPipeline binds one input object to the parameters that take pipeline input and are not
// bound on the command line: by property name first for objects, then by value.
func (e *Engine) bindPipeline(c *Cmdlet, base map[string]any, set string, obj any) (map[string]any, bool, *ErrorRecord) {
	vals := make(map[string]any, len(base)+1)
	for k, v := range base {
		vals[k] = v
	}
	bound := false
	for i := range c.Params {
		p := &c.Params[i]
		key := strings.ToLower(p.Name)
		if _, ok := base[key]; ok || !inSet(p, set) {
			continue
		}
		if p.FromPipelineByName {
			if o, ok := obj.(*Object); ok {
				names := append([]string{p.Name}, p.Aliases...)
				found := false
				for _, n := range names {
					if pv, ok := o.Get(n); ok {
						cv, err := e.convert(c, p, pv)
						if err != nil {
							return nil, false, err
						}
						vals[key], bound, found = cv, true, true
						break
					}
				}
				if found {
					continue
				}
			}
		}
		if p.FromPipeline {
			cv, err := e.convert(c, p, obj)
			if err != nil {
				return nil, false, err
			}
			vals[key], bound = cv, true
		}
	}
	return vals, bound, nil
}

func missingMandatory(c *Cmdlet, vals map[string]any, set string) []string {
	var miss []string
	for i := range c.Params {
		p := &c.Params[i]
		if !p.Mandatory || !inSet(p, set) {
			continue
		}
		if _, ok := vals[strings.ToLower(p.Name)]; !ok {
			miss = append(miss, p.Name)
		}
	}
	return miss
}

func takesPipeline(c *Cmdlet) bool {
	for _, p := range c.Params {
		if p.FromPipeline || p.FromPipelineByName {
			return true
		}
	}
	return false
}

// fillRecord completes a cmdlet's error record: activity, FullyQualifiedErrorId suffix, the
// remote computer name for registered cmdlets, the position for local ones.
func (e *Engine) fillRecord(rec *ErrorRecord, c *Cmdlet, inv *command) {
	if c == nil {
		return
	}
	if rec.Activity == "" {
		rec.Activity = c.Name
	}
	if rec.Source == "" && rec.ErrorID != "" {
		if c.ClassName != "" {
			rec.Source = c.ClassName
		} else {
			rec.Source = c.Name
		}
	}
	if !c.builtin && e.ComputerName != "" && rec.ComputerName == "" && !localBindingError[rec.ErrorID] {
		rec.ComputerName = e.ComputerName
		// raised on the server: the FullyQualifiedErrorId names the cmdlet's class there
		if rec.Source == c.Name && c.ClassName != "" {
			rec.Source = c.ClassName
		}
	}
	if rec.cmdName == "" {
		rec.cmdName = c.Name
	}
	if rec.ext == nil && inv != nil {
		rec.ext = inv.ext
	}
}

// localBindingError lists the binder's errors that a remote session raises in its local proxy
// function (names, positions, sets), so they print with a position and no PSComputerName;
// value conversions happen on the server and print as remote errors.
var localBindingError = map[string]bool{
	"NamedParameterNotFound": true, "AmbiguousParameter": true, "PositionalParameterNotFound": true,
	"MissingArgument": true, "MissingMandatoryParameter": true, "AmbiguousParameterSet": true,
	"ParameterAlreadyBound": true, "InputObjectNotBound": true,
}
