package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Engine holds the session: registered cmdlets, variables and the presentation settings.
// An Engine runs one script at a time (Run serializes callers); use one per session.
type Engine struct {
	mu sync.Mutex // held by Run

	// Width is the console width tables and lists are cut to: 120, the width the Exchange
	// Management Shell widens its window to (RemoteExchange.ps1: WidenWindow(120)).
	Width int
	// EnumerationLimit is $FormatEnumerationLimit: how many elements of a collection a table
	// cell or list value shows before "...". The Exchange Management Shell sets it to 16
	// (RemoteExchange.ps1 of Exchange 15: "$FormatEnumerationLimit = 16"); plain PowerShell
	// has 4.
	EnumerationLimit int
	// ComputerName is the server of the remote session ("ex01.contoso.test"): set, the errors
	// of registered cmdlets print with "+ PSComputerName" as an Exchange remote session's do.
	ComputerName string
	// Now is the clock of Get-Date (time.Now when nil).
	Now func() time.Time

	cmdlets map[string]*Cmdlet
	aliases map[string]string
	views   map[string]*View // by lower-case TypeName
	vars    map[string]any
	names   map[string]string // variable name as first written
	errs    []any

	ctx      context.Context
	stdout   io.Writer
	stderr   io.Writer
	out      *outFormatter
	under    []any // $_ stack
	confirm  func(msg string) string
	readLine func(prompt string) (string, bool) // set by Interactive: asks the user
	history  []string
	exited   bool
	depth    int // nested script blocks and functions
}

// maxDepth is PowerShell's call depth limit (100 in Windows PowerShell).
const maxDepth = 100

func (e *Engine) enter() error {
	if e.depth >= maxDepth {
		return &ErrorRecord{Message: "The script failed due to call depth overflow.", Category: InvalidOperation,
			Reason: "ScriptCallDepthException", ErrorID: "CallDepthOverflow"}
	}
	e.depth++
	return nil
}

// New returns an engine with PowerShell's built-in commands (Where-Object, ForEach-Object,
// Select-Object, Sort-Object, Measure-Object, Format-Table, Format-List, Out-String,
// Write-Host, Write-Output, Write-Warning, Get-Help, Get-Command, ConvertTo-SecureString …)
// registered; the caller registers its own cmdlets with Register.
func New() *Engine {
	e := &Engine{
		Width:            120,
		EnumerationLimit: 16,
		cmdlets:          map[string]*Cmdlet{},
		aliases:          map[string]string{},
		views:            map[string]*View{},
		vars:             map[string]any{},
		names:            map[string]string{},
	}
	e.registerBuiltins()
	return e
}

// SetVariable sets a session variable ($name without the dollar).
func (e *Engine) SetVariable(name string, v any) {
	k := strings.ToLower(name)
	if _, ok := e.names[k]; !ok {
		e.names[k] = name
	}
	if k == "formatenumerationlimit" {
		if f, ok := toNumber(v); ok {
			e.EnumerationLimit = int(f)
		}
	}
	e.vars[k] = normalize(v)
}

// Variable returns a session variable.
func (e *Engine) Variable(name string) (any, bool) {
	v, ok := e.lookupVar(name)
	return v, ok
}

// VariableNames lists the session's variables (for completion).
func (e *Engine) VariableNames() []string {
	out := []string{"true", "false", "null", "_", "PSItem", "ErrorActionPreference", "WhatIfPreference", "FormatEnumerationLimit", "Error"}
	for k, n := range e.names {
		switch k {
		case "erroractionpreference", "whatifpreference", "formatenumerationlimit", "error":
			continue
		}
		out = append(out, n)
	}
	return out
}

func (e *Engine) lookupVar(name string) (any, bool) {
	k := strings.ToLower(name)
	if i := strings.Index(k, ":"); i >= 0 {
		switch k[:i] {
		case "global", "script", "local", "private":
			k = k[i+1:]
		}
	}
	switch k {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	case "_", "psitem":
		if len(e.under) == 0 {
			return nil, true
		}
		return e.under[len(e.under)-1], true
	case "formatenumerationlimit":
		return int64(e.EnumerationLimit), true
	case "error":
		out := make([]any, len(e.errs))
		for i := range e.errs {
			out[i] = e.errs[len(e.errs)-1-i]
		}
		return out, true
	case "erroractionpreference":
		if v, ok := e.vars[k]; ok {
			return v, true
		}
		return "Continue", true
	case "whatifpreference":
		if v, ok := e.vars[k]; ok {
			return v, true
		}
		return false, true
	}
	v, ok := e.vars[k]
	return v, ok
}

func (e *Engine) recordError(rec *ErrorRecord) { e.errs = append(e.errs, rec) }

// host writes straight to the console (Write-Host, warnings, errors, What if:), after the
// table rows Out-Default holds, so the order on screen is the order of events.
func (e *Engine) host(text string, toErr bool) {
	if e.out != nil {
		e.out.flush()
	}
	w := e.stdout
	if toErr && e.stderr != nil {
		w = e.stderr
	}
	if w != nil {
		io.WriteString(w, text)
	}
}

// Run parses and runs a script, formatting its output as the console would (Out-Default) to
// stdout; errors, warnings and verbose lines go to stderr (pass the same writer for one
// stream). Every error is printed. The returned error is the one that stopped the script: a
// *ParseError, or a terminating *ErrorRecord (a cmdlet's returned error, -ErrorAction Stop, a
// binding error, an unknown command, throw); nil when the script ran to its end, even with
// non-terminating errors on the way. exit ends the script without an error (see ExitCode).
func (e *Engine) Run(ctx context.Context, src string, stdout, stderr io.Writer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := parseScript(src)
	if err != nil {
		if stderr != nil {
			io.WriteString(stderr, FormatError(err))
		}
		return err
	}
	return e.runBlock(ctx, b, stdout, stderr)
}

// ExitError is what Run returns for `exit N` with N other than 0.
type ExitError struct{ Code int }

func (x *ExitError) Error() string { return fmt.Sprintf("exit %d", x.Code) }

func (e *Engine) runBlock(ctx context.Context, b *block, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e.ctx, e.stdout, e.stderr, e.depth = ctx, stdout, stderr, 0
	e.out = e.newFormatter(func(s string) {
		if stdout != nil {
			io.WriteString(stdout, s)
		}
	})
	defer func() {
		e.out.close()
		e.out = nil
	}()
	err := e.execBlock(b, func(v any) error { e.out.add(v); return nil })
	var fl *flowSignal
	if errors.As(err, &fl) {
		if fl.kind == "exit" {
			e.exited = true
		}
		if fl.kind == "exit" && fl.code != 0 {
			return &ExitError{Code: fl.code}
		}
		return nil
	}
	if err != nil {
		rec, ok := err.(*ErrorRecord)
		if !ok {
			rec = &ErrorRecord{Message: err.Error(), Category: NotSpecified, Reason: "RuntimeException", ErrorID: "RuntimeException"}
		}
		rec.Terminating = true
		e.recordError(rec)
		e.host(rec.Format(), true)
		return rec
	}
	return nil
}

// flowSignal carries break, continue, return and exit up to the construct that handles them.
type flowSignal struct {
	kind string
	code int
}

func (f *flowSignal) Error() string { return f.kind }

func (e *Engine) execBlock(b *block, emit func(any) error) error {
	for _, s := range b.stmts {
		if err := e.ctx.Err(); err != nil {
			return &ErrorRecord{Message: "The pipeline has been stopped.", Category: OperationStopped,
				Reason: "PipelineStoppedException", ErrorID: "PipelineStopped"}
		}
		if err := e.execStmt(s, emit); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) collect(s stmt) ([]any, error) {
	var out []any
	err := e.execStmt(s, func(v any) error { out = append(out, v); return nil })
	return out, err
}

func (e *Engine) execStmt(s stmt, emit func(any) error) error {
	switch x := s.(type) {
	case *pipeline:
		before := len(e.errs)
		err := e.runPipeline(x, emit)
		e.vars["?"] = err == nil && len(e.errs) == before
		// a runtime error of an expression points at its statement
		if rec, ok := err.(*ErrorRecord); ok && rec.ext == nil && rec.cmdName == "" && rec.ComputerName == "" {
			rec.ext = x.ext
		}
		return err
	case *assignStmt:
		_, err := e.assign(x)
		return err
	case *ifStmt:
		for i, c := range x.conds {
			out, err := e.collect(c)
			if err != nil {
				return err
			}
			if toBool(collapse(out)) {
				return e.execBlock(x.bodies[i], emit)
			}
		}
		if x.els != nil {
			return e.execBlock(x.els, emit)
		}
		return nil
	case *foreachStmt:
		out, err := e.collect(x.coll)
		if err != nil {
			return err
		}
		var items []any
		for _, o := range out {
			items = append(items, enumerate(o)...)
		}
		for _, it := range items {
			e.SetVariable(x.variable, it)
			err := e.execBlock(x.body, emit)
			var fl *flowSignal
			if errors.As(err, &fl) {
				if fl.kind == "break" {
					break
				}
				if fl.kind == "continue" {
					continue
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	case *whileStmt:
		for n := 0; ; n++ {
			out, err := e.collect(x.cond)
			if err != nil {
				return err
			}
			if !toBool(collapse(out)) {
				return nil
			}
			err = e.execBlock(x.body, emit)
			var fl *flowSignal
			if errors.As(err, &fl) {
				if fl.kind == "break" {
					return nil
				}
				if fl.kind == "continue" {
					continue
				}
			}
			if err != nil {
				return err
			}
		}
	case *tryStmt:
		return e.execTry(x, emit)
	case *functionStmt:
		e.defineFunction(x)
		return nil
	case *flowStmt:
		var val any
		if x.value != nil {
			out, err := e.collect(x.value)
			if err != nil {
				return err
			}
			val = collapse(out)
			if x.kind == "return" {
				for _, o := range out {
					if err := emit(o); err != nil {
						return err
					}
				}
			}
		}
		switch x.kind {
		case "throw":
			msg := toString(val)
			if msg == "" {
				msg = "ScriptHalted"
			}
			if rec, ok := val.(*ErrorRecord); ok {
				return rec
			}
			return &ErrorRecord{Message: msg, Category: OperationStopped, TargetName: msg, TargetType: typeNameOf(val),
				Reason: "RuntimeException", ErrorID: msg, ext: x.ext}
		case "exit":
			code := 0
			if val != nil {
				f, _ := toNumber(val)
				code = int(f)
			}
			return &flowSignal{kind: "exit", code: code}
		}
		return &flowSignal{kind: x.kind}
	}
	return fmt.Errorf("shell: unknown statement %T", s)
}

func (e *Engine) assign(a *assignStmt) (any, error) {
	out, err := e.collect(a.value)
	if err != nil {
		return nil, err
	}
	v := collapse(out)
	if a.op != "=" {
		cur, err := e.eval(a.target)
		if err != nil {
			return nil, err
		}
		v, err = e.binary(a.op[:1], cur, v)
		if err != nil {
			return nil, err
		}
	}
	switch t := a.target.(type) {
	case *varRef:
		e.SetVariable(t.name, v)
	case *memberExpr:
		obj, err := e.eval(t.obj)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *Object:
			o.Set(o.canonical(t.name), v)
		case *Hashtable:
			o.Set(t.name, v)
		default:
			return nil, errRuntime(fmt.Sprintf("The property '%s' cannot be found on this object. Verify that the property exists and can be set.", t.name),
				"PropertyAssignmentException", InvalidOperation)
		}
	case *indexExpr:
		obj, err := e.eval(t.obj)
		if err != nil {
			return nil, err
		}
		idx, err := e.eval(t.idx)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case []any:
			f, _ := toNumber(idx)
			i := int(f)
			if i < 0 {
				i += len(o)
			}
			if i < 0 || i >= len(o) {
				return nil, errRuntime("Index was outside the bounds of the array.", "IndexOutOfRange", InvalidOperation)
			}
			o[i] = v
		case *Hashtable:
			o.Set(toString(idx), v)
		}
	}
	return v, nil
}

type evaluatedArg struct {
	param    string
	hasValue bool
	value    any
	ext      *extent
}

// stage is one command of a running pipeline.
type stage struct {
	process func(any) error
	end     func() error
}

func (e *Engine) runPipeline(pl *pipeline, emit func(any) error) error {
	stages := make([]*stage, len(pl.elems))
	sink := emit
	for i := len(pl.elems) - 1; i >= 0; i-- {
		cmd, ok := pl.elems[i].(*command)
		if !ok {
			continue
		}
		st, err := e.newStage(cmd, i, sink)
		if err != nil {
			return err
		}
		stages[i] = st
		sink = st.process
	}
	first := 0
	if x, ok := pl.elems[0].(expr); ok {
		if _, isCmd := x.(*command); !isCmd {
			v, err := e.eval(x)
			if err != nil {
				return err
			}
			for _, o := range enumerate(v) {
				if err := sink(o); err != nil {
					return err
				}
			}
			first = 1
		}
	}
	for i := first; i < len(stages); i++ {
		if err := stages[i].end(); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) newStage(cmd *command, index int, sink func(any) error) (*stage, error) {
	upstream, position := index > 0, index+1
	name := cmd.name
	if cmd.nameExpr != nil {
		v, err := e.eval(cmd.nameExpr)
		if err != nil {
			return nil, err
		}
		name = toString(v)
	}
	c := e.lookup(name)
	if c == nil {
		rec := errCommandNotFound(name)
		rec.ext = cmd.nameExt
		return nil, rec
	}
	for _, a := range cmd.args {
		if a.param == "?" {
			// Get-ReceiveConnector -? is Get-Help Get-ReceiveConnector
			return e.newStage(&command{name: "Get-Help", args: []cmdArg{{value: &literal{v: c.Name}, ext: cmd.ext}}, ext: cmd.ext, nameExt: cmd.nameExt}, 0, sink)
		}
	}
	var args []evaluatedArg
	for _, a := range cmd.args {
		if a.splat != "" {
			// splatting: @params
			v, _ := e.lookupVar(a.splat)
			if h, ok := v.(*Hashtable); ok {
				for _, k := range h.Keys() {
					args = append(args, evaluatedArg{param: k, hasValue: true, value: mustGet(h, k), ext: a.ext})
				}
				continue
			}
			for _, x := range enumerate(v) {
				args = append(args, evaluatedArg{value: x, hasValue: true, ext: a.ext})
			}
			continue
		}
		ea := evaluatedArg{param: a.param, ext: a.ext}
		if a.value != nil {
			v, err := e.eval(a.value)
			if err != nil {
				return nil, err
			}
			ea.value, ea.hasValue = v, true
		}
		args = append(args, ea)
	}
	b, rec := e.bindCommandLine(c, cmd, args)
	if rec != nil {
		e.fillRecord(rec, c, cmd)
		return nil, rec
	}
	errAct := toString(mustVar(e, "ErrorActionPreference"))
	if v, ok := b.common["erroraction"]; ok {
		errAct = toString(v)
	}
	whatIf := toBool(mustVar(e, "WhatIfPreference"))
	if v, ok := b.common["whatif"]; ok {
		whatIf = toBool(v)
	}
	var confirm *bool
	if v, ok := b.common["confirm"]; ok {
		on := toBool(v)
		confirm = &on
	}
	verbose := toBool(b.common["verbose"])
	toAll := new(string)
	newCall := func(vals map[string]any, input []any) *Call {
		all := make(map[string]any, len(vals)+len(b.common))
		for k, v := range b.common {
			all[k] = v
		}
		for k, v := range vals {
			all[k] = v
		}
		return &Call{Cmdlet: c, Ctx: e.ctx, engine: e, bound: all, input: input, emit: func(v any) error {
			if o, ok := v.(*Object); ok && o.View == nil && c.View != nil {
				o.View = c.View
			}
			return sink(v)
		}, whatIf: whatIf, confirm: confirm, errAct: errAct, verbose: verbose, inv: cmd, toAll: toAll}
	}
	invoke := func(call *Call) (err error) {
		if c.Process == nil {
			return nil
		}
		defer func() {
			// a cmdlet's bug stops the script with an error instead of the process
			if p := recover(); p != nil {
				rec := &ErrorRecord{Message: fmt.Sprintf("The cmdlet failed: %v", p), Category: NotSpecified,
					Reason: "RuntimeException", ErrorID: "CmdletPanic"}
				e.fillRecord(rec, c, cmd)
				err = rec
			}
		}()
		err = c.Process(call)
		if call.emitErr != nil {
			return call.emitErr
		}
		if err != nil {
			var fl *flowSignal
			if errors.As(err, &fl) {
				return err
			}
			rec, ok := err.(*ErrorRecord)
			if !ok {
				rec = &ErrorRecord{Message: err.Error(), Category: NotSpecified, Reason: "RuntimeException", ErrorID: "RuntimeException"}
			}
			e.fillRecord(rec, c, cmd)
			return rec
		}
		if call.stopErr != nil {
			return call.stopErr
		}
		return nil
	}
	checkMandatory := func(vals map[string]any) error {
		miss := missingMandatory(c, vals, b.set)
		if len(miss) == 0 {
			return nil
		}
		if e.readLine != nil {
			return e.promptMandatory(c, cmd, position, vals, miss)
		}
		rec := errMissingMandatory(c.Name, miss)
		e.fillRecord(rec, c, cmd)
		return rec
	}
	st := &stage{}
	if upstream && takesPipeline(c) {
		st.process = func(obj any) error {
			vals, bound, rec := e.bindPipeline(c, b.values, b.set, obj)
			if rec != nil {
				e.fillRecord(rec, c, cmd)
				return rec
			}
			if !bound {
				rec := errInputNotBound(c.Name, obj)
				e.fillRecord(rec, c, cmd)
				e.recordError(rec)
				e.host(rec.Format(), true)
				return nil
			}
			if err := checkMandatory(vals); err != nil {
				return err
			}
			return invoke(newCall(vals, []any{obj}))
		}
		st.end = func() error { return nil }
		return st, nil
	}
	var input []any
	st.process = func(obj any) error { input = append(input, obj); return nil }
	st.end = func() error {
		if err := checkMandatory(b.values); err != nil {
			return err
		}
		return invoke(newCall(b.values, input))
	}
	return st, nil
}

func mustVar(e *Engine, name string) any { v, _ := e.lookupVar(name); return v }

// invokeBlock runs a script block with $_ set to under (Where-Object, ForEach-Object,
// calculated properties). It runs in the session scope, as a dot-sourced block does.
func (e *Engine) invokeBlock(sb *ScriptBlock, under any) ([]any, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer func() { e.depth-- }()
	e.under = append(e.under, under)
	defer func() { e.under = e.under[:len(e.under)-1] }()
	var out []any
	err := e.execBlock(sb.body, func(v any) error { out = append(out, v); return nil })
	var fl *flowSignal
	if errors.As(err, &fl) && fl.kind == "return" {
		err = nil
	}
	return out, err
}

// InvokeScript runs a script block for a cmdlet, with $_ set to the given object.
func (c *Call) InvokeScript(sb *ScriptBlock, under any) ([]any, error) {
	return c.engine.invokeBlock(sb, under)
}

func (e *Engine) eval(x expr) (any, error) {
	switch n := x.(type) {
	case *literal:
		return n.v, nil
	case *varRef:
		v, _ := e.lookupVar(n.name)
		return v, nil
	case *expandString:
		var b strings.Builder
		for _, p := range n.parts {
			if s, ok := p.(string); ok {
				b.WriteString(s)
				continue
			}
			v, err := e.eval(p)
			if err != nil {
				return nil, err
			}
			b.WriteString(toString(v))
		}
		return b.String(), nil
	case *arrayExpr:
		out := make([]any, 0, len(n.elems))
		for _, el := range n.elems {
			v, err := e.eval(el)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *subExpr:
		var out []any
		err := e.execBlock(n.body, func(v any) error { out = append(out, v); return nil })
		if err != nil {
			return nil, err
		}
		if n.array {
			var flat []any
			for _, o := range out {
				flat = append(flat, enumerate(o)...)
			}
			if flat == nil {
				flat = []any{}
			}
			return flat, nil
		}
		return collapse(out), nil
	case *parenExpr:
		if a, ok := n.value.(*assignStmt); ok {
			return e.assign(a)
		}
		out, err := e.collect(n.value)
		if err != nil {
			return nil, err
		}
		if pl, ok := n.value.(*pipeline); ok && len(pl.elems) == 1 {
			if _, isCmd := pl.elems[0].(*command); !isCmd {
				// (1,2) keeps the array as one value
				v, err := e.eval(pl.elems[0])
				return v, err
			}
		}
		return collapse(out), nil
	case *hashExpr:
		h := NewHashtable()
		for i, k := range n.keys {
			kv, err := e.eval(k)
			if err != nil {
				return nil, err
			}
			out, err := e.collect(n.vals[i])
			if err != nil {
				return nil, err
			}
			v := collapse(out)
			if pl, ok := n.vals[i].(*pipeline); ok && len(pl.elems) == 1 {
				if ex, isExpr := pl.elems[0].(expr); isExpr {
					if _, isCmd := ex.(*command); !isCmd {
						v, err = e.eval(ex)
						if err != nil {
							return nil, err
						}
					}
				}
			}
			h.Set(toString(kv), v)
		}
		return h, nil
	case *scriptExpr:
		return n.sb, nil
	case *memberExpr:
		return e.member(n)
	case *indexExpr:
		obj, err := e.eval(n.obj)
		if err != nil {
			return nil, err
		}
		idx, err := e.eval(n.idx)
		if err != nil {
			return nil, err
		}
		return index(obj, idx), nil
	case *unaryExpr:
		v, err := e.eval(n.x)
		if err != nil {
			return nil, err
		}
		if n.op == "not" {
			return !toBool(v), nil
		}
		f, ok := toNumber(v)
		if !ok {
			return nil, errRuntime(fmt.Sprintf("Cannot convert value %q to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", toString(v)),
				"InvalidCastFromStringToInteger", InvalidArgument)
		}
		return numberValue(-f), nil
	case *binExpr:
		l, err := e.eval(n.l)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "and":
			if !toBool(l) {
				return false, nil
			}
			r, err := e.eval(n.r)
			return toBool(r), err
		case "or":
			if toBool(l) {
				return true, nil
			}
			r, err := e.eval(n.r)
			return toBool(r), err
		}
		r, err := e.eval(n.r)
		if err != nil {
			return nil, err
		}
		return e.binary(n.op, l, r)
	case *castExpr:
		v, err := e.eval(n.x)
		if err != nil {
			return nil, err
		}
		return cast(n.typ, v)
	case *typeExpr:
		return nil, errRuntime(fmt.Sprintf("Unable to find type [%s].", n.typ), "TypeNotFound", InvalidOperation)
	case *command:
		return nil, fmt.Errorf("shell: command in expression")
	}
	return nil, fmt.Errorf("shell: unknown expression %T", x)
}

func index(obj, idx any) any {
	switch o := normalize(obj).(type) {
	case []any:
		if arr, ok := idx.([]any); ok {
			var out []any
			for _, i := range arr {
				out = append(out, index(o, i))
			}
			return out
		}
		f, ok := toNumber(idx)
		if !ok {
			return nil
		}
		i := int(f)
		if i < 0 {
			i += len(o)
		}
		if i < 0 || i >= len(o) {
			return nil
		}
		return o[i]
	case string:
		f, _ := toNumber(idx)
		r := []rune(o)
		i := int(f)
		if i < 0 {
			i += len(r)
		}
		if i < 0 || i >= len(r) {
			return nil
		}
		return string(r[i])
	case *Hashtable:
		v, _ := o.Get(toString(idx))
		return v
	case *Object:
		if s, ok := idx.(string); ok {
			v, _ := o.Get(s)
			return v
		}
		f, _ := toNumber(idx)
		if int(f) == 0 || int(f) == -1 {
			return o
		}
		return nil
	case nil:
		return nil
	}
	f, _ := toNumber(idx)
	if int(f) == 0 || int(f) == -1 {
		return obj
	}
	return nil
}

func cast(typ string, v any) (any, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(typ), "system.")) {
	case "int", "int32", "int64", "long":
		f, ok := toNumber(v)
		if !ok {
			return nil, errRuntime(fmt.Sprintf("Cannot convert value %q to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", toString(v)),
				"InvalidCastFromStringToInteger", InvalidArgument)
		}
		return int64(math.Round(f)), nil
	case "double", "decimal", "float":
		f, ok := toNumber(v)
		if !ok {
			return nil, errRuntime(fmt.Sprintf("Cannot convert value %q to type \"System.Double\". Error: \"Input string was not in a correct format.\"", toString(v)),
				"InvalidCastFromStringToDouble", InvalidArgument)
		}
		return f, nil
	case "string":
		return toString(v), nil
	case "bool", "boolean":
		return toBool(v), nil
	case "array", "object[]", "string[]":
		var out []any
		for _, x := range enumerate(v) {
			if strings.HasPrefix(strings.ToLower(typ), "string") {
				x = toString(x)
			}
			out = append(out, x)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case "pscustomobject", "psobject", "management.automation.pscustomobject":
		if h, ok := v.(*Hashtable); ok {
			o := NewObject("System.Management.Automation.PSCustomObject")
			for _, k := range h.Keys() {
				o.Set(k, mustGet(h, k))
			}
			return o, nil
		}
		return v, nil
	case "void":
		return nil, nil
	case "ordered", "hashtable", "collections.hashtable":
		return v, nil
	case "datetime":
		if t, ok := v.(time.Time); ok {
			return t, nil
		}
		if t, ok := parseDate(toString(v), time.Local); ok {
			return t, nil
		}
		return nil, errRuntime(fmt.Sprintf("Cannot convert value %q to type \"System.DateTime\". Error: \"String was not recognized as a valid DateTime.\"", toString(v)),
			"InvalidCastParseTargetInvocation", InvalidArgument)
	case "securestring", "security.securestring":
		if s, ok := v.(*SecureString); ok {
			return s, nil
		}
	}
	return nil, errRuntime(fmt.Sprintf("Unable to find type [%s].", typ), "TypeNotFound", InvalidOperation)
}

func (e *Engine) member(n *memberExpr) (any, error) {
	var args []any
	for _, a := range n.args {
		v, err := e.eval(a)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	if n.static {
		return e.static(typeOfExpr(n.obj), n.name, n.call, args)
	}
	obj, err := e.eval(n.obj)
	if err != nil {
		return nil, err
	}
	if !n.call {
		return property(obj, n.name), nil
	}
	return callMethod(obj, n.name, args)
}

// static covers the .NET static members scripts use: [string]::IsNullOrEmpty, [math]::Round,
// [datetime]::Now and the like.
func (e *Engine) static(typ, name string, call bool, args []any) (any, error) {
	t := strings.TrimPrefix(strings.ToLower(typ), "system.")
	m := strings.ToLower(name)
	num := func(i int) float64 { f, _ := toNumber(argAt(args, i)); return f }
	switch t + "::" + m {
	case "string::isnullorempty":
		return toString(argAt(args, 0)) == "", nil
	case "string::isnullorwhitespace":
		return strings.TrimSpace(toString(argAt(args, 0))) == "", nil
	case "string::join":
		var parts []string
		for _, a := range args[min(1, len(args)):] {
			for _, x := range enumerate(a) {
				parts = append(parts, toString(x))
			}
		}
		return strings.Join(parts, argString(args, 0)), nil
	case "string::format":
		if len(args) == 0 {
			return "", nil
		}
		rest := args[1:]
		if len(rest) == 1 {
			rest = enumerate(rest[0])
		}
		return formatOperator(toString(args[0]), rest), nil
	case "string::empty":
		return "", nil
	case "math::round":
		p := math.Pow(10, num(1))
		return numberValue(math.RoundToEven(num(0)*p) / p), nil
	case "math::floor":
		return numberValue(math.Floor(num(0))), nil
	case "math::ceiling":
		return numberValue(math.Ceil(num(0))), nil
	case "math::truncate":
		return numberValue(math.Trunc(num(0))), nil
	case "math::abs":
		return numberValue(math.Abs(num(0))), nil
	case "math::max":
		return numberValue(math.Max(num(0), num(1))), nil
	case "math::min":
		return numberValue(math.Min(num(0), num(1))), nil
	case "datetime::now":
		return e.now(), nil
	case "datetime::utcnow":
		return e.now().UTC(), nil
	case "datetime::today":
		y, mo, d := e.now().Date()
		return time.Date(y, mo, d, 0, 0, 0, 0, e.location()), nil
	case "datetime::parse":
		return cast("datetime", argAt(args, 0))
	case "int::maxvalue", "int32::maxvalue":
		return int64(math.MaxInt32), nil
	case "int::minvalue", "int32::minvalue":
		return int64(math.MinInt32), nil
	}
	if call {
		return nil, errRuntime(fmt.Sprintf("Method invocation failed because [%s] does not contain a method named '%s'.", typ, name),
			"MethodNotFound", InvalidOperation)
	}
	return nil, errRuntime(fmt.Sprintf("Unable to find type [%s].", typ), "TypeNotFound", InvalidOperation)
}

func typeOfExpr(x expr) string {
	if t, ok := x.(*typeExpr); ok {
		return t.typ
	}
	return "?"
}

func argString(args []any, i int) string {
	if i < len(args) {
		return toString(args[i])
	}
	return ""
}

// callMethod covers the .NET methods admins call in one-liners.
func callMethod(obj any, name string, args []any) (any, error) {
	m := strings.ToLower(name)
	if t, ok := obj.(time.Time); ok {
		if v, ok := dateMethod(t, m, args); ok {
			return v, nil
		}
	}
	if m == "tostring" {
		return toString(obj), nil
	}
	switch o := normalize(obj).(type) {
	case string:
		switch m {
		case "toupper", "toupperinvariant":
			return strings.ToUpper(o), nil
		case "tolower", "tolowerinvariant":
			return strings.ToLower(o), nil
		case "trim":
			if len(args) > 0 {
				return strings.Trim(o, argString(args, 0)), nil
			}
			return strings.TrimSpace(o), nil
		case "trimstart":
			return strings.TrimLeft(o, " \t\r\n"+argString(args, 0)), nil
		case "trimend":
			return strings.TrimRight(o, " \t\r\n"+argString(args, 0)), nil
		case "contains":
			return strings.Contains(o, argString(args, 0)), nil
		case "startswith":
			return strings.HasPrefix(o, argString(args, 0)), nil
		case "endswith":
			return strings.HasSuffix(o, argString(args, 0)), nil
		case "replace":
			return strings.ReplaceAll(o, argString(args, 0), argString(args, 1)), nil
		case "split":
			sep := argString(args, 0)
			if sep == "" {
				sep = " "
			}
			// String.Split(chars): any of the characters separates
			return normalize(strings.FieldsFunc(o, func(r rune) bool { return strings.ContainsRune(sep, r) })), nil
		case "substring":
			r := []rune(o)
			f, _ := toNumber(argAt(args, 0))
			start := int(f)
			if start < 0 || start > len(r) {
				return nil, errRuntime("Exception calling \"Substring\" with \"1\" argument(s): \"startIndex cannot be larger than length of string.\"", "ArgumentOutOfRangeException", NotSpecified)
			}
			if len(args) > 1 {
				g, _ := toNumber(args[1])
				end := min(start+int(g), len(r))
				return string(r[start:end]), nil
			}
			return string(r[start:]), nil
		case "indexof":
			return int64(strings.Index(o, argString(args, 0))), nil
		case "equals":
			return o == argString(args, 0), nil
		}
	case []any:
		switch m {
		case "contains":
			for _, x := range o {
				if equalValues(x, argAt(args, 0), false) {
					return true, nil
				}
			}
			return false, nil
		}
	case *Hashtable:
		switch m {
		case "containskey":
			_, ok := o.Get(argString(args, 0))
			return ok, nil
		case "add":
			o.Set(argString(args, 0), argAt(args, 1))
			return nil, nil
		case "remove":
			nh := NewHashtable()
			for _, k := range o.Keys() {
				if !strings.EqualFold(k, argString(args, 0)) {
					nh.Set(k, mustGet(o, k))
				}
			}
			*o = *nh
			return nil, nil
		}
	}
	return nil, errRuntime(fmt.Sprintf("Method invocation failed because [%s] does not contain a method named '%s'.", fullTypeNameOf(obj), name),
		"MethodNotFound", InvalidOperation)
}

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// binary evaluates an operator on two values. Comparison operators with a collection on the
// left filter it, as PowerShell's do.
func (e *Engine) binary(op string, l, r any) (any, error) {
	l, r = normalize(l), normalize(r)
	cs := false
	base := op
	if len(op) > 2 && (op[0] == 'c' || op[0] == 'i') && comparisonOps[op[1:]] {
		cs = op[0] == 'c'
		base = op[1:]
	}
	switch base {
	case "xor":
		return toBool(l) != toBool(r), nil
	case "f":
		return formatOperator(toString(l), enumerate(r)), nil
	case "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch":
		if arr, ok := l.([]any); ok {
			out := []any{}
			for _, x := range arr {
				ok, err := e.compare(base, x, r, cs)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, x)
				}
			}
			return out, nil
		}
		return e.compare(base, l, r, cs)
	case "contains", "notcontains":
		found := false
		for _, x := range enumerate(l) {
			if equalValues(x, r, cs) {
				found = true
				break
			}
		}
		return found == (base == "contains"), nil
	case "in", "notin":
		found := false
		for _, x := range enumerate(r) {
			if equalValues(x, l, cs) {
				found = true
				break
			}
		}
		return found == (base == "in"), nil
	case "replace":
		pat, repl := "", ""
		if arr, ok := r.([]any); ok {
			pat, repl = argString(arr, 0), argString(arr, 1)
		} else {
			pat = toString(r)
		}
		re, err := compileRegex(pat, cs)
		if err != nil {
			return nil, err
		}
		repl = regexp.MustCompile(`\$(\d+)`).ReplaceAllString(repl, "$${$1}")
		if arr, ok := l.([]any); ok {
			out := make([]any, len(arr))
			for i, x := range arr {
				out[i] = re.ReplaceAllString(toString(x), repl)
			}
			return out, nil
		}
		return re.ReplaceAllString(toString(l), repl), nil
	case "split":
		re, err := compileRegex(toString(r), cs)
		if err != nil {
			return nil, err
		}
		return normalize(re.Split(toString(l), -1)), nil
	case "join":
		var parts []string
		for _, x := range enumerate(l) {
			parts = append(parts, toString(x))
		}
		return strings.Join(parts, toString(r)), nil
	case "is", "isnot":
		is := strings.EqualFold(typeNameOf(l), strings.TrimPrefix(toString(r), "System."))
		return is == (base == "is"), nil
	case "as":
		v, err := cast(toString(r), l)
		if err != nil {
			return nil, nil
		}
		return v, nil
	case "..":
		a, _ := toNumber(l)
		b, _ := toNumber(r)
		var out []any
		step := 1
		if b < a {
			step = -1
		}
		for i := int(a); ; i += step {
			out = append(out, int64(i))
			if i == int(b) || len(out) > 100000 {
				break
			}
		}
		return out, nil
	case "+":
		switch x := l.(type) {
		case nil:
			return r, nil
		case []any:
			out := append(append([]any{}, x...), enumerate(r)...)
			if r == nil {
				out = append(out, nil)
			}
			return out, nil
		case *Hashtable:
			h := NewHashtable()
			for _, k := range x.Keys() {
				h.Set(k, mustGet(x, k))
			}
			if y, ok := r.(*Hashtable); ok {
				for _, k := range y.Keys() {
					h.Set(k, mustGet(y, k))
				}
			}
			return h, nil
		case string:
			return x + toString(r), nil
		case int64, float64, bool:
			return e.arith(op, l, r)
		}
		return toString(l) + toString(r), nil
	case "-", "*", "/", "%":
		if s, ok := l.(string); ok && base == "*" {
			n, _ := toNumber(r)
			if n*float64(len(s)+1) > 1<<24 {
				return nil, errRuntime("Array dimensions exceeded supported range.", "RuntimeException", NotSpecified)
			}
			return strings.Repeat(s, max(int(n), 0)), nil
		}
		if arr, ok := l.([]any); ok && base == "*" {
			n, _ := toNumber(r)
			if n*float64(len(arr)+1) > 1<<24 {
				return nil, errRuntime("Array dimensions exceeded supported range.", "RuntimeException", NotSpecified)
			}
			var out []any
			for i := 0; i < int(n); i++ {
				out = append(out, arr...)
			}
			return out, nil
		}
		return e.arith(op, l, r)
	}
	return nil, fmt.Errorf("shell: unknown operator -%s", op)
}

func (e *Engine) arith(op string, l, r any) (any, error) {
	a, ok := toNumber(l)
	if !ok {
		return nil, errRuntime(fmt.Sprintf("Cannot convert value %q to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", toString(l)),
			"InvalidCastFromStringToInteger", InvalidArgument)
	}
	b, ok := toNumber(r)
	if !ok {
		return nil, errRuntime(fmt.Sprintf("Cannot convert value %q to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", toString(r)),
			"InvalidCastFromStringToInteger", InvalidArgument)
	}
	switch op {
	case "+":
		return numberValue(a + b), nil
	case "-":
		return numberValue(a - b), nil
	case "*":
		return numberValue(a * b), nil
	case "/":
		if b == 0 {
			return nil, errRuntime("Attempted to divide by zero.", "RuntimeException", NotSpecified)
		}
		return numberValue(a / b), nil
	case "%":
		if b == 0 {
			return nil, errRuntime("Attempted to divide by zero.", "RuntimeException", NotSpecified)
		}
		return numberValue(math.Mod(a, b)), nil
	}
	return nil, fmt.Errorf("shell: unknown operator %s", op)
}

func compileRegex(pat string, cs bool) (*regexp.Regexp, error) {
	if !cs {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, errRuntime(fmt.Sprintf("The regular expression pattern %s is not valid.", pat), "InvalidRegularExpression", InvalidOperation)
	}
	return re, nil
}

func (e *Engine) compare(op string, l, r any, cs bool) (bool, error) {
	switch op {
	case "eq":
		return equalValues(l, r, cs), nil
	case "ne":
		return !equalValues(l, r, cs), nil
	case "gt":
		return compareValues(l, r, cs) > 0, nil
	case "ge":
		return compareValues(l, r, cs) >= 0, nil
	case "lt":
		return compareValues(l, r, cs) < 0, nil
	case "le":
		return compareValues(l, r, cs) <= 0, nil
	case "like", "notlike":
		ok := wildcardRegexp(toString(r), cs).MatchString(toString(l))
		return ok == (op == "like"), nil
	case "match", "notmatch":
		re, err := compileRegex(toString(r), cs)
		if err != nil {
			return false, err
		}
		m := re.FindStringSubmatch(toString(l))
		if m != nil {
			h := NewHashtable()
			for i, g := range m {
				h.Set(fmt.Sprint(i), g)
			}
			for i, n := range re.SubexpNames() {
				if n != "" {
					h.Set(n, m[i])
				}
			}
			e.SetVariable("Matches", h)
		}
		return (m != nil) == (op == "match"), nil
	}
	return false, nil
}

// formatOperator is -f: {0}, {1,10}, {0:fmt} (the format part is ignored), {{ and }}.
func formatOperator(f string, args []any) string {
	var b strings.Builder
	r := []rune(f)
	for i := 0; i < len(r); i++ {
		switch {
		case r[i] == '{' && i+1 < len(r) && r[i+1] == '{':
			b.WriteRune('{')
			i++
		case r[i] == '}' && i+1 < len(r) && r[i+1] == '}':
			b.WriteRune('}')
			i++
		case r[i] == '{':
			j := i + 1
			for j < len(r) && r[j] != '}' {
				j++
			}
			spec := string(r[i+1 : min(j, len(r))])
			idx, rest, _ := strings.Cut(spec, ":")
			idx, align, _ := strings.Cut(idx, ",")
			_ = rest
			var n int
			fmt.Sscanf(strings.TrimSpace(idx), "%d", &n)
			s := ""
			if n >= 0 && n < len(args) {
				s = toString(args[n])
			}
			var w int
			fmt.Sscanf(strings.TrimSpace(align), "%d", &w)
			switch {
			case w > 0 && runeLen(s) < w:
				s = strings.Repeat(" ", w-runeLen(s)) + s
			case w < 0 && runeLen(s) < -w:
				s += strings.Repeat(" ", -w-runeLen(s))
			}
			b.WriteString(s)
			i = j
		default:
			b.WriteRune(r[i])
		}
	}
	return b.String()
}

// promptMandatory asks for missing mandatory parameters as the console host does
// ("cmdlet New-ReceiveConnector at command pipeline position 1", "Supply values for the
// following parameters:", "Name: ", "Bindings[0]: " … until an empty line; the layout of the
// prompts quoted in github.com/Apoc70/Copy-ReceiveConnector issue 4).
func (e *Engine) promptMandatory(c *Cmdlet, cmd *command, position int, vals map[string]any, miss []string) error {
	e.host(fmt.Sprintf("cmdlet %s at command pipeline position %d\nSupply values for the following parameters:\n", c.Name, position), false)
	for _, name := range miss {
		p := c.param(name)
		var v any
		switch p.Type {
		case Strings, MultiValued:
			var list []any
			for i := 0; ; i++ {
				line, ok := e.readLine(fmt.Sprintf("%s[%d]: ", p.Name, i))
				if !ok || line == "" {
					break
				}
				list = append(list, line)
			}
			if len(list) == 0 {
				rec := &ErrorRecord{Message: fmt.Sprintf("Cannot bind argument to parameter '%s' because it is an empty collection.", p.Name),
					Category: InvalidData, Reason: "ParameterBindingValidationException", ErrorID: "ParameterArgumentValidationErrorEmptyCollectionNotAllowed"}
				e.fillRecord(rec, c, cmd)
				return rec
			}
			v = list
		default:
			line, ok := e.readLine(p.Name + ": ")
			if !ok || line == "" {
				rec := &ErrorRecord{Message: fmt.Sprintf("Cannot bind argument to parameter '%s' because it is an empty string.", p.Name),
					Category: InvalidData, Reason: "ParameterBindingValidationException", ErrorID: "ParameterArgumentValidationErrorEmptyStringNotAllowed"}
				e.fillRecord(rec, c, cmd)
				return rec
			}
			v = line
			if p.Type == SecureValue {
				v = NewSecureString(line)
			}
		}
		cv, rec := e.convert(c, p, v)
		if rec != nil {
			e.fillRecord(rec, c, cmd)
			return rec
		}
		vals[strings.ToLower(p.Name)] = cv
	}
	return nil
}

// execTry runs try/catch/finally: a terminating error (a cmdlet's, -ErrorAction Stop, throw)
// goes to the first catch whose type names its exception (or that names none), with $_ the
// error record.
func (e *Engine) execTry(t *tryStmt, emit func(any) error) (err error) {
	if t.finally != nil {
		defer func() {
			if ferr := e.execBlock(t.finally, emit); ferr != nil && err == nil {
				err = ferr
			}
		}()
	}
	err = e.execBlock(t.body, emit)
	rec, ok := err.(*ErrorRecord)
	if !ok {
		return err
	}
	for _, c := range t.catches {
		match := len(c.types) == 0
		for _, ty := range c.types {
			short := ty
			if i := strings.LastIndex(ty, "."); i >= 0 {
				short = ty[i+1:]
			}
			if strings.EqualFold(short, rec.Reason) || strings.EqualFold(short, "Exception") || strings.EqualFold(short, "RuntimeException") && rec.Reason == "RuntimeException" {
				match = true
			}
		}
		if !match {
			continue
		}
		e.recordError(rec)
		e.under = append(e.under, rec)
		cerr := e.execBlock(c.body, emit)
		e.under = e.under[:len(e.under)-1]
		return cerr
	}
	return err
}

// defineFunction registers a script function as a command: its parameters are positional in
// order, typed loosely ([string], [int], [switch], [bool], [string[]]), Mandatory when the
// [Parameter(Mandatory)] attribute says so. The body runs in the session scope with the
// parameters as variables, as a dot-sourced function would; $args holds the unbound rest.
func (e *Engine) defineFunction(f *functionStmt) {
	c := &Cmdlet{Name: f.name, Synopsis: f.name}
	for i, fp := range f.params {
		p := Param{Name: fp.name, Position: i + 1, Mandatory: fp.mandatory}
		switch strings.ToLower(fp.typ) {
		case "string":
			p.Type = String
		case "int", "int32", "int64", "long":
			p.Type = Int
		case "switch":
			p.Type, p.Position = Switch, 0
		case "bool":
			p.Type = Bool
		case "string[]":
			p.Type = Strings
		case "datetime":
			p.Type = DateTime
		case "securestring":
			p.Type = SecureValue
		case "scriptblock":
			p.Type = Script
		}
		c.Params = append(c.Params, p)
	}
	c.Params = append(c.Params, Param{Name: "args", Position: len(f.params) + 1, Remaining: true, hidden: true})
	c.builtin = true
	c.Process = func(call *Call) error {
		if err := e.enter(); err != nil {
			return err
		}
		defer func() { e.depth-- }()
		for _, fp := range f.params {
			v, set := call.bound[strings.ToLower(fp.name)]
			if !set && fp.def != nil {
				d, err := e.eval(fp.def)
				if err != nil {
					return err
				}
				v = d
			}
			if sv, ok := v.(*SwitchValue); ok {
				v = sv.On
			}
			e.SetVariable(fp.name, v)
		}
		rest := enumerate(call.bound["args"])
		if rest == nil {
			rest = []any{}
		}
		e.SetVariable("args", rest)
		e.under = append(e.under, collapse(call.input))
		defer func() { e.under = e.under[:len(e.under)-1] }()
		var out []any
		err := e.execBlock(f.body, func(v any) error { out = append(out, v); return nil })
		var fl *flowSignal
		if errors.As(err, &fl) && fl.kind == "return" {
			err = nil
		}
		call.Write(out...)
		return err
	}
	e.Register(c)
}

// NewScriptBlock parses src as the body of a script block (what { … } holds), for cmdlets that
// take an expression as text: Exchange's -Filter "MessageCount -gt 0".
func NewScriptBlock(src string) (*ScriptBlock, error) {
	b, err := parseScript(src)
	if err != nil {
		return nil, err
	}
	return &ScriptBlock{body: b, src: src}, nil
}
