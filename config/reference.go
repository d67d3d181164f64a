package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
)

// ReferenceFile is where the generated reference lives, relative to the repository root.
const ReferenceFile = "docs/config-reference.md"

// Reference renders docs/config-reference.md from the parameter tables (Objects): one section
// per object, one row per parameter with its type, default, range or values, Exchange
// reference and meaning. `make generate` writes it (config/gendoc); TestReferenceIsCurrent
// fails when the committed file differs.
func Reference() []byte {
	var b bytes.Buffer
	b.WriteString("# exlab configuration reference\n\n")
	b.WriteString("<!-- Generated from config/params.go by `make generate` (go run ./config/gendoc); do not edit. -->\n\n")
	b.WriteString("Every object of the configuration file with its parameters, spelled as in Exchange (names are\n")
	b.WriteString("case-insensitive). A parameter the file omits takes its default; values outside the range or\n")
	b.WriteString("values listed are refused as FILE:LINE: field: problem. Sizes are written as Exchange prints\n")
	b.WriteString("them (`36 MB (37,748,736 bytes)`, `36 MB` or `37748736`), time spans as `hh:mm:ss` or\n")
	b.WriteString("`d.hh:mm:ss`, limits as a number or `Unlimited`, lists as YAML lists or `a, b`.\n\n")
	objs := Objects()
	for _, o := range objs {
		fmt.Fprintf(&b, "- [%s](#%s) (`%s`)\n", o.Name, strings.ToLower(o.Name), o.Path)
	}
	for _, o := range objs {
		fmt.Fprintf(&b, "\n## %s\n\n", o.Name)
		fmt.Fprintf(&b, "`%s` — %s. %s", o.Path, o.Ref, o.Doc)
		if o.CheckedBy != "" {
			fmt.Fprintf(&b, " Its values are checked by %s, also when rules are set while the server runs.", o.CheckedBy)
		}
		b.WriteString("\n\n| Parameter | Type | Default | Range or values | Reference | Meaning |\n")
		b.WriteString("|---|---|---|---|---|---|\n")
		for _, p := range o.Params {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", p.Name, cell(typeName(paramType(o.typ, p.Name))),
				cell(p.defaultText()), cell(p.rangeText()), cell(p.Ref), cell(p.Doc))
		}
	}
	return b.Bytes()
}

// paramType is the Go type of the parameter at a dotted path of struct type t.
func paramType(t reflect.Type, name string) reflect.Type {
	for _, part := range strings.Split(name, ".") {
		f, ok := t.FieldByName(part)
		if !ok {
			panic("config: the parameter table names " + name + ", which is not a field")
		}
		t = f.Type
	}
	return t
}

func (p Param) defaultText() string {
	switch {
	case p.Default != "" && p.DefaultNote != "":
		return "`" + p.Default + "` (" + p.DefaultNote + ")"
	case p.Default != "":
		return "`" + p.Default + "`"
	}
	return p.DefaultNote
}

func (p Param) rangeText() string {
	var parts []string
	if len(p.Values) > 0 {
		parts = append(parts, strings.Join(p.Values, ", "))
		if p.Optional {
			parts = append(parts, "or empty")
		}
	}
	switch {
	case p.Above != "":
		parts = append(parts, "above "+p.Above)
	case p.Min != "" && p.Max != "":
		parts = append(parts, p.Min+"-"+p.Max)
	case p.Min != "":
		parts = append(parts, "at least "+p.Min)
	case p.Max != "":
		parts = append(parts, "at most "+p.Max)
	}
	return strings.Join(parts, " ")
}

// cell escapes what would break a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "<", "&lt;")
	return strings.ReplaceAll(s, ">", "&gt;")
}
