package shell

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Object is what cmdlets write to the pipeline: an ordered list of named properties and a type
// name, like the PSObject a remote Exchange session deserializes (its TypeNames[0] is the type,
// e.g. "Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector"). Property names
// are matched case-insensitively, as PowerShell does.
type Object struct {
	// TypeName is the type the object claims; consecutive objects of one type share a table.
	TypeName string
	// View is the default view of this object at the end of a pipeline; nil means PowerShell's
	// rule (up to four properties: a table, else a list).
	View  *View
	names []string
	vals  map[string]any // key: lower-case name
}

// NewObject returns an object of the given type with the given properties, in order:
// NewObject("Thing", "Name", "a", "Count", 3).
func NewObject(typeName string, kv ...any) *Object {
	o := &Object{TypeName: typeName, vals: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(fmt.Sprint(kv[i]), kv[i+1])
	}
	return o
}

// Set adds the property or replaces its value (keeping its place).
func (o *Object) Set(name string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	k := strings.ToLower(name)
	if _, ok := o.vals[k]; !ok {
		o.names = append(o.names, name)
	}
	o.vals[k] = normalize(v)
}

// Get returns the property's value and whether the object has it.
func (o *Object) Get(name string) (any, bool) {
	v, ok := o.vals[strings.ToLower(name)]
	return v, ok
}

// Names lists the property names in order.
func (o *Object) Names() []string { return append([]string(nil), o.names...) }

// Has reports whether the object has the property.
func (o *Object) Has(name string) bool { _, ok := o.vals[strings.ToLower(name)]; return ok }

// canonical returns the property's name as the object spells it.
func (o *Object) canonical(name string) string {
	for _, n := range o.names {
		if strings.EqualFold(n, name) {
			return n
		}
	}
	return name
}

// Hashtable is PowerShell's @{…}: ordered here (as [ordered]@{} is), keys case-insensitive.
type Hashtable struct {
	keys []string
	vals map[string]any
}

// NewHashtable returns an empty hashtable.
func NewHashtable() *Hashtable { return &Hashtable{vals: map[string]any{}} }

// Set adds or replaces a key.
func (h *Hashtable) Set(key string, v any) {
	k := strings.ToLower(key)
	if _, ok := h.vals[k]; !ok {
		h.keys = append(h.keys, key)
	}
	h.vals[k] = normalize(v)
}

// Get returns the key's value.
func (h *Hashtable) Get(key string) (any, bool) { v, ok := h.vals[strings.ToLower(key)]; return v, ok }

// Keys lists the keys in insertion order.
func (h *Hashtable) Keys() []string { return append([]string(nil), h.keys...) }

// Len is the number of keys.
func (h *Hashtable) Len() int { return len(h.keys) }

// SecureString is what ConvertTo-SecureString returns. It prints as PowerShell prints one;
// the cmdlet that receives it reads the text with Plain.
type SecureString struct{ plain string }

// NewSecureString wraps a plain text.
func NewSecureString(s string) *SecureString { return &SecureString{plain: s} }

// Plain is the text it protects.
func (s *SecureString) Plain() string { return s.plain }

// String is what PowerShell shows for a SecureString.
func (s *SecureString) String() string { return "System.Security.SecureString" }

// ScriptBlock is a { … } value: Where-Object, ForEach-Object and calculated properties run it.
type ScriptBlock struct {
	body *block
	src  string
}

// String is the block's source text without its braces, as PowerShell prints a script block.
func (s *ScriptBlock) String() string { return s.src }

// normalize maps Go values to the engine's few kinds: integers to int64, floats to float64,
// slices to []any.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint:
		return int64(x)
	case uint32:
		return int64(x)
	case uint16:
		return int64(x)
	case uint8:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []*Object:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []int:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = int64(s)
		}
		return out
	case []int64:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return v
}

// toString is PowerShell's conversion of a value to a string: $null is "", booleans are
// True/False, arrays are joined with spaces (as "$array" does), anything else by its String method.
func toString(v any) string {
	switch x := normalize(v).(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatFloat(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = toString(e)
		}
		return strings.Join(parts, " ")
	case *Hashtable:
		return "System.Collections.Hashtable"
	case *Object:
		return objectString(x)
	case *ScriptBlock:
		return x.src
	case time.Time:
		return dateString(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// objectString is how an object reads inside a string or a table cell: its Identity, else its
// Name, else PowerShell's @{a=1; b=2} for a property bag.
func objectString(o *Object) string {
	for _, p := range []string{"Identity", "Name"} {
		if v, ok := o.Get(p); ok && v != nil {
			return toString(v)
		}
	}
	parts := make([]string, 0, len(o.names))
	for _, n := range o.names {
		v, _ := o.Get(n)
		parts = append(parts, n+"="+toString(v))
	}
	return "@{" + strings.Join(parts, "; ") + "}"
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'G', 15, 64)
}

// toBool is PowerShell's truth: $null, "", 0, $false and an empty array are false; an array of
// one element is that element's truth.
func toBool(v any) bool {
	switch x := normalize(v).(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int64:
		return x != 0
	case float64:
		return x != 0
	case []any:
		if len(x) == 0 {
			return false
		}
		if len(x) == 1 {
			return toBool(x[0])
		}
		return true
	case *SwitchValue:
		return x.On
	}
	return true
}

// SwitchValue is a bound switch parameter's value ($true when present, or -Name:$false).
type SwitchValue struct{ On bool }

func (s *SwitchValue) String() string { return toString(s.On) }

// toNumber converts for arithmetic and numeric comparison; ok is false when the value is not a
// number and cannot be parsed as one.
func toNumber(v any) (float64, bool) {
	switch x := normalize(v).(type) {
	case nil:
		return 0, true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, true
		}
		if n, ok := parseNumberLiteral(s); ok {
			f, _ := toNumber(n)
			return f, true
		}
		return 0, false
	}
	return 0, false
}

func isNumber(v any) bool {
	switch normalize(v).(type) {
	case int64, float64:
		return true
	}
	return false
}

// numberValue returns an int64 when f is whole, else f.
func numberValue(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 9e18 {
		return int64(f)
	}
	return f
}

// enumerate is how the pipeline unrolls a value: arrays give their elements, $null gives
// nothing, anything else is one object.
func enumerate(v any) []any {
	switch x := normalize(v).(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{normalize(v)}
}

// collapse is the value of a pipeline's output: nothing is $null, one object is itself, more
// are an array (PowerShell's assignment of command output).
func collapse(out []any) any {
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

// property reads a member of a value: an object's property, a hashtable's key, Count/Length of
// arrays and strings; for an array, the property of each element (member enumeration).
func property(v any, name string) any {
	switch x := normalize(v).(type) {
	case nil:
		return nil
	case *Object:
		if p, ok := x.Get(name); ok {
			return p
		}
		if strings.EqualFold(name, "Count") || strings.EqualFold(name, "Length") {
			return int64(1)
		}
		return nil
	case *Hashtable:
		if p, ok := x.Get(name); ok {
			return p
		}
		switch strings.ToLower(name) {
		case "count":
			return int64(x.Len())
		case "keys":
			return normalize(x.Keys())
		}
		return nil
	case []any:
		switch strings.ToLower(name) {
		case "count", "length":
			return int64(len(x))
		}
		var out []any
		for _, e := range x {
			out = append(out, enumerate(property(e, name))...)
		}
		return collapse(out)
	case string:
		switch strings.ToLower(name) {
		case "length":
			return int64(len([]rune(x)))
		case "count":
			return int64(1)
		}
		return nil
	case time.Time:
		if v, ok := datePart(x, name); ok {
			return v
		}
		return nil
	case *ErrorRecord:
		switch strings.ToLower(name) {
		case "exception":
			return NewObject(x.Reason, "Message", x.Message)
		case "categoryinfo":
			return x.CategoryInfo()
		case "fullyqualifiederrorid":
			return x.FullyQualifiedErrorID()
		case "targetobject":
			return nilIfEmpty(x.TargetName)
		}
		return nil
	case *SecureString:
		if strings.EqualFold(name, "Length") {
			return int64(len([]rune(x.plain)))
		}
	}
	if strings.EqualFold(name, "Count") {
		return int64(1)
	}
	return nil
}

// equalValues is -eq for two scalars: case-insensitive for strings, numeric when the left side
// is a number (PowerShell converts the right side to the left side's type).
func equalValues(a, b any, caseSensitive bool) bool {
	a, b = normalize(a), normalize(b)
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case int64, float64:
		fa, _ := toNumber(x)
		fb, ok := toNumber(b)
		return ok && fa == fb
	case bool:
		return x == toBool(b)
	case time.Time:
		return compareValues(a, b, false) == 0
	}
	sa, sb := toString(a), toString(b)
	if caseSensitive {
		return sa == sb
	}
	return strings.EqualFold(sa, sb)
}

// compareValues orders two scalars as PowerShell's -lt/-gt: numerically when the left is a
// number (or both parse as numbers), else as case-insensitive strings.
func compareValues(a, b any, caseSensitive bool) int {
	a, b = normalize(a), normalize(b)
	if a == nil && b == nil {
		return 0
	}
	if a == nil {
		return -1
	}
	if b == nil {
		return 1
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		if !ok {
			tb, ok = parseDate(toString(b), ta.Location())
		}
		if ok {
			return ta.Compare(tb)
		}
	}
	if isNumber(a) || (isNumber(b) && isNumericString(a)) {
		fa, _ := toNumber(a)
		fb, ok := toNumber(b)
		if ok {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	}
	if x, ok := a.(bool); ok {
		y := toBool(b)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	sa, sb := toString(a), toString(b)
	if !caseSensitive {
		sa, sb = strings.ToLower(sa), strings.ToLower(sb)
	}
	return strings.Compare(sa, sb)
}

func isNumericString(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	_, ok = parseNumberLiteral(strings.TrimSpace(s))
	return ok
}

// wildcardRegexp turns a PowerShell wildcard (* ? [a-z]) into an anchored regexp.
func wildcardRegexp(pattern string, caseSensitive bool) *regexp.Regexp {
	var b strings.Builder
	if !caseSensitive {
		b.WriteString("(?is)")
	} else {
		b.WriteString("(?s)")
	}
	b.WriteString("^")
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '`':
			if i+1 < len(rs) {
				i++
				b.WriteString(regexp.QuoteMeta(string(rs[i])))
			}
		case '[':
			j := i + 1
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j < len(rs) {
				b.WriteString("[" + strings.ReplaceAll(string(rs[i+1:j]), `\`, `\\`) + "]")
				i = j
			} else {
				b.WriteString(`\[`)
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return regexp.MustCompile("^" + regexp.QuoteMeta(pattern) + "$")
	}
	return re
}

// Like reports whether s matches the PowerShell wildcard pattern, case-insensitively (what
// -like and Get-Command -Name do). Cmdlets may use it for Identity wildcards.
func Like(s, pattern string) bool { return wildcardRegexp(pattern, false).MatchString(s) }

// sortValues sorts in place by the key function, stable, as Sort-Object does.
func sortValues(vs []any, key func(any) []any, desc bool) {
	sort.SliceStable(vs, func(i, j int) bool {
		ki, kj := key(vs[i]), key(vs[j])
		for n := range ki {
			c := compareValues(ki[n], kj[n], false)
			if c != 0 {
				if desc {
					return c > 0
				}
				return c < 0
			}
		}
		return false
	})
}
