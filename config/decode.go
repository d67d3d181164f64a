package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one configuration error, printed as FILE:LINE: field: problem.
type Problem struct {
	File    string
	Line    int
	Field   string
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Field, p.Message)
}

// Problems is every problem found in one file; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// decoder maps a YAML node tree onto the Organization struct tree strictly: every key must be a
// parameter name (case-insensitive, as in PowerShell), every value must parse, and every problem
// is collected rather than stopping at the first (STYLE §5).
type decoder struct {
	file     string
	problems Problems
	lines    map[string]int
}

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

var scalarType = reflect.TypeOf((*scalar)(nil)).Elem()

type defaulter interface{ setDefaults() }

var defaulterType = reflect.TypeOf((*defaulter)(nil)).Elem()

func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		if _, seen := d.lines[path]; !seen {
			d.lines[path] = n.Line
		}
	}
	if v.CanAddr() && v.Addr().Type().Implements(scalarType) {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a single value, not a %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(scalar).parseExchange(n.Value); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(path, n, p.Elem())
		v.Set(p)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a single value, not a %s", kindName(n))
			return
		}
		if isNull(n) {
			v.SetString("")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be true or false, not a %s", kindName(n))
			return
		}
		switch strings.ToLower(strings.TrimPrefix(n.Value, "$")) {
		case "true", "yes", "on":
			v.SetBool(true)
		case "false", "no", "off":
			v.SetBool(false)
		default:
			d.fail(n, path, "%q is not true or false", n.Value)
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a number, not a %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(n.Value), ",", ""), 10, 64)
		if err != nil {
			d.fail(n, path, "%q is not a whole number", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		d.decodeSlice(path, n, v)
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	default:
		d.fail(n, path, "internal: cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if isNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	items := n.Content
	if n.Kind == yaml.ScalarNode {
		// PowerShell accepts a comma-separated list ("Tls, Integrated"); so does exlab, for
		// lists of single values.
		if v.Type().Elem().Kind() == reflect.Struct && !reflect.PointerTo(v.Type().Elem()).Implements(scalarType) {
			d.fail(n, path, "must be a list")
			return
		}
		items = nil
		for _, part := range strings.Split(n.Value, ",") {
			items = append(items, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.TrimSpace(part), Line: n.Line, Column: n.Column})
		}
	} else if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list, not a %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		e := out.Index(i)
		if e.Addr().Type().Implements(defaulterType) {
			e.Addr().Interface().(defaulter).setDefaults()
		}
		d.decode(fmt.Sprintf("%s[%d]", path, i), item, e)
	}
	v.Set(out)
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping of parameter names to values, not a %s", kindName(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("exlab") == "-" {
			continue
		}
		fields[strings.ToLower(f.Name)] = i
		names = append(names, f.Name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		fp := key
		if path != "" {
			fp = path + "." + key
		}
		idx, ok := fields[strings.ToLower(key)]
		if !ok {
			msg := "unknown parameter"
			if s := closest(key, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			d.fail(k, fp, "%s", msg)
			continue
		}
		name := t.Field(idx).Name
		fp = name
		if path != "" {
			fp = path + "." + name
		}
		if seen[name] {
			d.fail(k, fp, "given twice")
			continue
		}
		seen[name] = true
		d.lines[fp] = k.Line
		d.decode(fp, val, v.Field(idx))
		d.lines[fp] = k.Line
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "node"
}

// closest returns the parameter name nearest to key, for "did you mean" hints.
func closest(key string, names []string) string {
	best, bestD := "", 4
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
