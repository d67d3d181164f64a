package config

// Editing the organization file in place, the way the Set-/New-/Remove- cmdlets change
// Active Directory (issue 16 point 5): a Document holds the file's text and its YAML node
// tree; every edit rewrites only the lines it touches, found through the node tree's line and
// column positions, so that comments, blank lines, key order, indentation and quoting of
// everything else stay byte for byte as the admin wrote them. After each edit the text is
// parsed again, so positions are always those of the current text; an edit whose text would
// not parse is undone and returned as an error (it would be a bug of this file).
//
// EditFile and EditBytes run an edit, validate the result with Parse and only then write it:
// a change that fails validation changes nothing, and its Problems come back unchanged.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Document is an organization file held as its text and YAML node tree, so that an edit keeps
// the file's comments, order and style. Its methods are not safe for concurrent use; EditFile
// serializes the edits of one file.
type Document struct {
	name     string
	orig     []byte
	lines    []string // the text, one element per line, without its line terminator
	crlf     bool     // the file ends its lines with CR LF
	finalEOL bool     // the last line ends with a line terminator
	root     *yaml.Node
	handles  []*ObjectNode
}

// Field is one parameter of an object that Add creates: Param is its name (matched
// case-insensitively, as PowerShell does), Value as for ObjectNode.Set.
type Field struct {
	Param string
	Value any
}

// ObjectNode is one object of a top-level list of the file (a receive connector, a mailbox, …).
// It stays valid across edits of the same Document: Remove of an earlier object shifts it, and
// an ObjectNode that was removed returns errors.
type ObjectNode struct {
	d     *Document
	kind  string
	index int // in the list; -1 once removed
}

var (
	organizationType = reflect.TypeOf(Organization{})
	stringType       = reflect.TypeOf("")
	byteSizeType     = reflect.TypeOf(ByteSize(0))
)

// ParseDocument reads src (named name in messages) as an organization file for editing. It
// checks only the YAML syntax and that the file is a mapping of top-level keys; Parse checks
// the rest when an edit is written. The error, if any, is Problems.
func ParseDocument(name string, src []byte) (*Document, error) {
	d := &Document{name: name, orig: bytes.Clone(src)}
	text := string(src)
	// CR LF files are edited as LF and written back with CR LF; a file that mixes the two keeps
	// its CRs as part of its lines, and new lines end in LF.
	d.crlf = strings.Count(text, "\r\n") > 0 && strings.Count(text, "\r\n") == strings.Count(text, "\n")
	if d.crlf {
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	if text != "" {
		d.finalEOL = strings.HasSuffix(text, "\n")
		text = strings.TrimSuffix(text, "\n")
		d.lines = strings.Split(text, "\n")
	}
	if err := d.reparse(); err != nil {
		return nil, err
	}
	return d, nil
}

// Bytes returns the document's current text, with the line terminators of the original.
func (d *Document) Bytes() ([]byte, error) {
	return []byte(d.text()), nil
}

// Changed says whether the text differs from what ParseDocument was given; Exchange's Set-
// cmdlets warn "no settings … have been modified" when it does not.
func (d *Document) Changed() bool { return d.text() != string(d.orig) }

// Name is the name the document was parsed under.
func (d *Document) Name() string { return d.name }

func (d *Document) text() string {
	if len(d.lines) == 0 {
		return ""
	}
	eol := "\n"
	if d.crlf {
		eol = "\r\n"
	}
	s := strings.Join(d.lines, eol)
	if d.finalEOL {
		s += eol
	}
	return s
}

func (d *Document) reparse() error {
	var doc yaml.Node
	src := strings.Join(d.lines, "\n")
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return Problems{yamlProblem(d.name, err)}
	}
	d.root = nil
	if len(doc.Content) == 0 {
		return nil
	}
	r := doc.Content[0]
	if r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
		return nil
	}
	if r.Kind != yaml.MappingNode || r.Style&yaml.FlowStyle != 0 {
		return Problems{{File: d.name, Line: r.Line, Field: "(file)", Message: "the file must be a block mapping of Organization, Servers, ReceiveConnectors, …"}}
	}
	d.root = r
	return nil
}

// edit runs f on the text and parses the result; when f fails or its text does not parse,
// the text is restored. Every exported edit runs through it, so each is all or nothing.
func (d *Document) edit(f func() error) error {
	saved := append([]string(nil), d.lines...)
	savedEOL := d.finalEOL
	savedHandles := make([]int, len(d.handles))
	for i, h := range d.handles {
		savedHandles[i] = h.index
	}
	err := f()
	if err == nil {
		if perr := d.reparse(); perr != nil {
			err = fmt.Errorf("config: internal: an edit produced text that does not parse: %v", perr)
		}
	}
	if err != nil {
		d.lines, d.finalEOL = saved, savedEOL
		for i, h := range d.handles {
			h.index = savedHandles[i]
		}
		if perr := d.reparse(); perr != nil {
			panic("config: restoring a document failed: " + perr.Error())
		}
	}
	return err
}

// splice replaces lines from..to (1-based, inclusive; to = from-1 inserts before from) with repl.
func (d *Document) splice(from, to int, repl []string) {
	if to >= len(d.lines) && len(repl) > 0 {
		// Lines written at the end of a file without a final newline end with one.
		d.finalEOL = true
	}
	out := make([]string, 0, len(d.lines)-(to-from+1)+len(repl))
	out = append(out, d.lines[:from-1]...)
	out = append(out, repl...)
	out = append(out, d.lines[to:]...)
	d.lines = out
}

func (d *Document) line(n int) string {
	if n < 1 || n > len(d.lines) {
		return ""
	}
	return d.lines[n-1]
}

// ---- the objects of the file ----

// kindField returns the Organization field of top-level key kind (case-insensitive).
func kindField(kind string) (reflect.StructField, bool) {
	for i := 0; i < organizationType.NumField(); i++ {
		f := organizationType.Field(i)
		if f.IsExported() && f.Tag.Get("exlab") != "-" && strings.EqualFold(f.Name, kind) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func listKind(kind string) (string, reflect.Type, error) {
	f, ok := kindField(kind)
	if !ok || f.Type.Kind() != reflect.Slice {
		return "", nil, fmt.Errorf("%q is not a list of objects of the organization file (ReceiveConnectors, SendConnectors, AcceptedDomains, Mailboxes, Servers, ADPermissions, Certificates, Faults)", kind)
	}
	return f.Name, f.Type.Elem(), nil
}

// nameParam is the parameter that names an object of type t: Name, or a Certificate's
// FriendlyName; "" when the object has no name (ADPermission).
func nameParam(t reflect.Type) string {
	if _, ok := t.FieldByName("Name"); ok {
		return "Name"
	}
	if t == reflect.TypeOf(Certificate{}) {
		return "FriendlyName"
	}
	return ""
}

// topEntry returns the key and value of top-level key name (case-insensitive).
func (d *Document) topEntry(name string) (k, v *yaml.Node) {
	if d.root == nil {
		return nil, nil
	}
	k, v, _ = mapEntry(d.root, name)
	return k, v
}

func mapEntry(m *yaml.Node, name string) (k, v *yaml.Node, i int) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil, -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.EqualFold(m.Content[i].Value, name) {
			return m.Content[i], m.Content[i+1], i / 2
		}
	}
	return nil, nil, -1
}

func (d *Document) items(kind string) []*yaml.Node {
	_, v := d.topEntry(kind)
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil
	}
	return v.Content
}

func (d *Document) handle(kind string, i int) *ObjectNode {
	for _, h := range d.handles {
		if h.kind == kind && h.index == i {
			return h
		}
	}
	h := &ObjectNode{d: d, kind: kind, index: i}
	d.handles = append(d.handles, h)
	return h
}

// Objects returns the objects of list kind ("ReceiveConnectors", case-insensitive) in file
// order; nil when the file has none or kind is not a list.
func (d *Document) Objects(kind string) []*ObjectNode {
	kind, _, err := listKind(kind)
	if err != nil {
		return nil
	}
	var out []*ObjectNode
	for i := range d.items(kind) {
		out = append(out, d.handle(kind, i))
	}
	return out
}

// Find returns the object of list kind whose name is name, case-insensitively as Exchange
// compares identities; nil if there is none. The name is the object's Name (for accepted
// domains without one their DomainName, for mailboxes the local part of PrimarySmtpAddress,
// as Parse fills them), a Certificate's FriendlyName; ADPermissions have no name (use Objects).
//
// A receive connector also matches its Identity, SERVER\Name (its Server, or the only server
// when it names none, as Parse fills it), so that connectors of one name on two servers can be
// told apart; FindAll returns every match, for the Identity forms that must be unique.
func (d *Document) Find(kind, name string) *ObjectNode {
	if all := d.FindAll(kind, name); len(all) > 0 {
		return all[0]
	}
	return nil
}

// FindAll returns every object of list kind that Find would match, in file order.
func (d *Document) FindAll(kind, name string) []*ObjectNode {
	var out []*ObjectNode
	for _, o := range d.Objects(kind) {
		n := o.Name()
		if n == "" {
			continue
		}
		if strings.EqualFold(n, name) || (o.kind == "ReceiveConnectors" && strings.EqualFold(o.Identity(), name)) {
			out = append(out, o)
		}
	}
	return out
}

// Identity is a receive connector's Exchange identity, SERVER\Name; for other objects their
// name.
func (o *ObjectNode) Identity() string {
	n := o.Name()
	if o.kind != "ReceiveConnectors" || n == "" {
		return n
	}
	server, _ := o.Get("Server")
	s, _ := server.(string)
	if s == "" {
		if servers := o.d.Objects("Servers"); len(servers) == 1 {
			s = servers[0].Name()
		}
	}
	return s + `\` + n
}

// Index is the object's place in its list: the Organization that Parse (EditFile) returns
// has it at the same index (ReceiveConnectors[Index]). -1 once removed.
func (o *ObjectNode) Index() int { return o.index }

// Kind is the top-level list the object is in ("ReceiveConnectors").
func (o *ObjectNode) Kind() string { return o.kind }

// Name is the object's name as Find matches it; "" for a removed object or one without a name.
func (o *ObjectNode) Name() string {
	if o.index < 0 {
		return ""
	}
	_, t, _ := listKind(o.kind)
	get := func(p string) string {
		v, _ := o.Get(p)
		s, _ := v.(string)
		return s
	}
	np := nameParam(t)
	if np == "" {
		return ""
	}
	if n := get(np); n != "" {
		return n
	}
	switch t {
	case reflect.TypeOf(AcceptedDomain{}):
		return get("DomainName")
	case reflect.TypeOf(Mailbox{}):
		local, _, _ := strings.Cut(get("PrimarySmtpAddress"), "@")
		return local
	}
	return ""
}

func (o *ObjectNode) live() error {
	if o.index < 0 {
		return fmt.Errorf("the object was removed from %s", o.kind)
	}
	return nil
}

// ---- parameter names and order ----

// structField resolves param (case-insensitive) among the fields of struct t.
func structField(t reflect.Type, param string) (reflect.StructField, error) {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("exlab") == "-" {
			continue
		}
		if strings.EqualFold(f.Name, param) {
			return f, nil
		}
		names = append(names, f.Name)
	}
	msg := fmt.Sprintf("%s: unknown parameter of %s", param, t.Name())
	if s := closest(param, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return reflect.StructField{}, errors.New(msg)
}

// paramOrder is where parameter name of struct t goes among the others: its place in the
// parameter table (params.go), else its place among the struct's fields after the table's.
func paramOrder(t reflect.Type, name string) int {
	tableOrderOnce.Do(func() {
		tableOrder = map[reflect.Type]map[string]int{}
		for _, obj := range Objects() {
			m := map[string]int{}
			for i, p := range obj.Params {
				head, _, _ := strings.Cut(p.Name, ".")
				if _, seen := m[head]; !seen {
					m[head] = i
				}
			}
			tableOrder[obj.typ] = m
		}
	})
	if i, ok := tableOrder[t][name]; ok {
		return i
	}
	if f, ok := t.FieldByName(name); ok {
		return 1000 + f.Index[0]
	}
	return 1 << 30
}

var (
	tableOrderOnce sync.Once
	tableOrder     map[reflect.Type]map[string]int // type → parameter (canonical) → place in its table
)

// isScalarType says whether values of t are one YAML scalar (a scalar parameter type, a
// string, number or bool).
func isScalarType(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(scalarType) {
		return true
	}
	return t.Kind() != reflect.Struct && t.Kind() != reflect.Slice
}

// ---- Get and Set ----

// Get returns the value of param (case-insensitive; a dotted path for a nested value,
// "BackPressure.Enabled") as the file writes it: a string for a single value, []string for a
// list, map[string]any for a mapping. ok is false when the file does not give it, so that
// Exchange's default applies (Parse fills it).
func (o *ObjectNode) Get(param string) (any, bool) {
	if o.live() != nil {
		return nil, false
	}
	items := o.d.items(o.kind)
	if o.index >= len(items) {
		return nil, false
	}
	n := items[o.index]
	for _, p := range strings.Split(param, ".") {
		_, v, _ := mapEntry(n, p)
		if v == nil {
			return nil, false
		}
		n = v
	}
	return nodeValue(n), true
}

// Get returns the value at path as ObjectNode.Get does: path[0] is a top-level key; for a
// list of objects path[1] is an object's name (Find) and the rest its parameter.
func (d *Document) Get(path []string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	if kind, _, err := listKind(path[0]); err == nil && len(path) >= 3 {
		o := d.Find(kind, path[1])
		if o == nil {
			return nil, false
		}
		return o.Get(strings.Join(path[2:], "."))
	}
	n := d.root
	for _, p := range path {
		_, v, _ := mapEntry(n, p)
		if v == nil {
			return nil, false
		}
		n = v
	}
	return nodeValue(n), true
}

func nodeValue(n *yaml.Node) any {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := []string{}
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = nodeValue(n.Content[i+1])
		}
		return out
	}
	if isNull(n) {
		return nil
	}
	return n.Value
}

// Set sets param of the object, matched case-insensitively against the parameter table
// (params.go) and written with its table name; a dotted path sets a nested value
// ("BackPressure.Enabled", "DkimSigning.Domain"). value is a string, written as given (a size
// "36 MB", a TimeSpan "00:00:05"); a bool; an integer (for a size: bytes, written as
// Exchange prints them, "36 MB (37,748,736 bytes)"); a time.Duration, or any value with a
// String method (TimeSpan, ByteSize, Limit, Binding, IPRange); for a list a slice of those or
// a comma-separated string; or nil, which removes the parameter and so gives it back
// Exchange's default.
//
// An existing parameter keeps its place, its quoting, its list style (flow or block, and the
// lines of the items that stay) and its line comment; a new one goes where the parameter
// table orders it, styled as the same parameter of the list's other objects. Renaming
// (Set("Name", …)) keeps the object's place. An unknown parameter is an error naming it, and
// nothing changes; the values are checked by Parse when the edit is written (EditFile).
func (o *ObjectNode) Set(param string, value any) error {
	if err := o.live(); err != nil {
		return err
	}
	_, t, _ := listKind(o.kind)
	return o.d.edit(func() error {
		return o.d.setIn(addr{kind: o.kind, index: o.index}, t, strings.Split(param, "."), value)
	})
}

// Set sets the value at path: path[0] is a top-level key (case-insensitive). For a list of
// objects path[1] is an object's name (Find) and the rest its parameter: the per-server
// settings of Set-TransportService and Set-FrontendTransportService are parameters of the
// server's Servers entry, e.g. {"Servers", "EX01", "MessageRetryInterval"} or {"Servers",
// "EX01", "BackPressure", "Enabled"}. For a mapping (Organization, TransportConfig,
// ServerComponentState) the rest is the parameter: {"ServerComponentState", "HubTransport"}. A
// top-level key the file lacks is created where default-org.yaml has it. value is as for
// ObjectNode.Set.
func (d *Document) Set(path []string, value any) error {
	if len(path) < 2 {
		return fmt.Errorf("config: Set needs a top-level key and a parameter, not %q", strings.Join(path, "."))
	}
	if kind, _, err := listKind(path[0]); err == nil {
		if len(path) < 3 {
			return fmt.Errorf("%s: Set needs an object's name and a parameter; use Add and Remove for whole objects", kind)
		}
		o := d.Find(kind, path[1])
		if o == nil {
			return fmt.Errorf("%s: there is no object named %q", kind, path[1])
		}
		return o.Set(strings.Join(path[2:], "."), value)
	}
	return d.edit(func() error { return d.setIn(addr{index: -1}, organizationType, path, value) })
}

// addr names a mapping of the file: the root (kind ""), an object of a list (kind, index), and
// keys below it (canonical names). It is resolved anew after each change of the text.
type addr struct {
	kind  string
	index int
	keys  []string
}

func (a addr) isRoot() bool { return a.kind == "" && len(a.keys) == 0 }

func (a addr) child(key string) addr {
	return addr{kind: a.kind, index: a.index, keys: append(append([]string(nil), a.keys...), key)}
}

// resolve returns the node at a: a mapping, or the null or empty value of a key that has
// none yet; nil if absent. Its key, if any, comes with it.
func (d *Document) resolve(a addr) (key, n *yaml.Node) {
	n = d.root
	if a.kind != "" {
		items := d.items(a.kind)
		if a.index < 0 || a.index >= len(items) {
			return nil, nil
		}
		n = items[a.index]
	}
	for _, k := range a.keys {
		var v *yaml.Node
		key, v, _ = mapEntry(n, k)
		if v == nil {
			return nil, nil
		}
		n = v
	}
	return key, n
}

func (d *Document) setIn(a addr, t reflect.Type, keys []string, value any) error {
	f, err := structField(t, keys[0])
	if err != nil {
		return err
	}
	ft := f.Type
	if len(keys) > 1 {
		if isScalarType(ft) || ft.Kind() == reflect.Slice {
			return fmt.Errorf("%s: is a single value or list, not an object with parameters", strings.Join(append(a.keys, f.Name), "."))
		}
		if value != nil {
			if err := d.ensureMapping(a, t, f.Name); err != nil {
				return err
			}
		}
		if err := d.setIn(a.child(f.Name), ft, keys[1:], value); err != nil {
			return err
		}
		return nil
	}
	if !isScalarType(ft) && ft.Kind() != reflect.Slice && value != nil {
		return fmt.Errorf("%s: is an object; set its parameters one by one (%s.<parameter>)", f.Name, f.Name)
	}
	_, m := d.resolve(a)
	if m == nil && !a.isRoot() {
		if value == nil {
			return nil
		}
		return fmt.Errorf("config: internal: %v not found", a)
	}
	k, v, _ := mapEntry(m, f.Name)
	if value == nil || isNilPointer(value) {
		if k != nil {
			if err := d.removeEntry(m, k); err != nil {
				return err
			}
			d.pruneEmpty(a)
		}
		return nil
	}
	ind := d.childIndent(a, m)
	sib := d.sibling(a, f.Name)
	if sib == nil && v == nil {
		sib = nearList(m)
	}
	r, err := d.render(ft, value, v, sib)
	if err != nil {
		return fmt.Errorf("%s: %v", f.Name, err)
	}
	if k != nil {
		return d.replaceValue(k, v, r)
	}
	return d.insertEntry(a, m, t, f.Name, r, ind)
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// ensureMapping makes sure key name of the mapping at a holds a mapping (or nothing yet).
func (d *Document) ensureMapping(a addr, t reflect.Type, name string) error {
	_, m := d.resolve(a)
	if m == nil && !a.isRoot() {
		return fmt.Errorf("config: internal: %v not found", a)
	}
	k, v, _ := mapEntry(m, name)
	if k == nil {
		if err := d.insertEntry(a, m, t, name, rendered{empty: true}, d.childIndent(a, m)); err != nil {
			return err
		}
		return d.reparse()
	}
	switch {
	case isNull(v) && v.Value == "":
		return nil
	case v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle != 0 && len(v.Content) > 0:
		return fmt.Errorf("%s: is written as a flow mapping {…}; write it as a block to edit it", name)
	case v.Kind == yaml.MappingNode:
		return nil
	}
	return fmt.Errorf("%s: is not a mapping of parameters (line %d)", name, v.Line)
}

// pruneEmpty removes the key of a nested mapping that an edit left empty, and so on upwards.
func (d *Document) pruneEmpty(a addr) {
	for len(a.keys) > 0 {
		if err := d.reparse(); err != nil {
			return
		}
		_, n := d.resolve(a)
		if n == nil || !(isNull(n) && n.Value == "") {
			return
		}
		parent := addr{kind: a.kind, index: a.index, keys: a.keys[:len(a.keys)-1]}
		_, pm := d.resolve(parent)
		k, _, _ := mapEntry(pm, a.keys[len(a.keys)-1])
		if k == nil || d.removeEntry(pm, k) != nil {
			return
		}
		a = parent
	}
}

// sibling returns the value of the same parameter in the other objects of the list, the
// model for the style of a parameter an object does not have yet.
func (d *Document) sibling(a addr, name string) *yaml.Node {
	if a.kind == "" {
		return nil
	}
	for i := range d.items(a.kind) {
		if i == a.index {
			continue
		}
		b := addr{kind: a.kind, index: i, keys: a.keys}
		if _, m := d.resolve(b); m != nil {
			if _, v, _ := mapEntry(m, name); v != nil && !isNull(v) {
				return v
			}
		}
	}
	return nil
}

// nearList is a model for a new list parameter that no other object has: another list of
// single values in the same mapping, written in flow or block style; only its style is
// followed, not its quoting (an empty copy of it is returned).
func nearList(m *yaml.Node) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 1; i < len(m.Content); i += 2 {
		v := m.Content[i]
		if v.Kind == yaml.SequenceNode && len(v.Content) > 0 && v.Content[0].Kind == yaml.ScalarNode {
			return &yaml.Node{Kind: yaml.SequenceNode, Style: v.Style, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Style: yaml.TaggedStyle}}}
		}
	}
	return nil
}

// childIndent is the indentation of the keys of the mapping at a.
func (d *Document) childIndent(a addr, m *yaml.Node) int {
	if m != nil && m.Kind == yaml.MappingNode && len(m.Content) > 0 && m.Style&yaml.FlowStyle == 0 {
		return m.Content[0].Column - 1
	}
	if a.isRoot() {
		return 0
	}
	key, _ := d.resolve(a)
	base := 0
	if key != nil {
		base = key.Column - 1
	}
	return base + d.indentUnit()
}

// indentUnit is the file's indentation step: that of the first nested mapping key, else 2.
func (d *Document) indentUnit() int {
	if d.root != nil {
		for i := 1; i < len(d.root.Content); i += 2 {
			v := d.root.Content[i]
			if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Column > 1 {
				return v.Column - 1
			}
		}
	}
	return 2
}

// ---- values ----

// rendered is a value ready to be written: one scalar, or a list of scalars.
type rendered struct {
	scalar string
	list   bool
	items  []string // each written as a scalar
	raw    []string // the items' values, to keep the lines of unchanged block items
	block  bool     // a list written as a block sequence
	empty  bool     // no value at all ("Key:"), for a mapping filled next
}

// oneLine is the value written on the key's line: the scalar or a flow sequence.
func (r rendered) oneLine() string {
	if r.list {
		return "[" + strings.Join(r.items, ", ") + "]"
	}
	return r.scalar
}

// render turns value into the text of a parameter of type ft. old is the parameter's
// current value (nil when new) and sib the same parameter of another object: the quoting and
// list style follow them.
func (d *Document) render(ft reflect.Type, value any, old, sib *yaml.Node) (rendered, error) {
	ref := old
	if ref == nil || isNull(ref) {
		ref = sib
	}
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft.Kind() == reflect.Slice && !isScalarType(ft) {
		et := ft.Elem()
		var raw []string
		rv := reflect.ValueOf(value)
		if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			for i := 0; i < rv.Len(); i++ {
				s, err := toText(et, rv.Index(i).Interface())
				if err != nil {
					return rendered{}, err
				}
				raw = append(raw, s)
			}
		} else if rv.Kind() == reflect.String {
			// A string is a comma-separated list, as the file's own single-value form of a list
			// ("Tls, Integrated") and PowerShell's -AuthMechanism Tls,Integrated.
			for _, part := range strings.Split(rv.String(), ",") {
				if part = strings.TrimSpace(part); part != "" {
					raw = append(raw, part)
				}
			}
		} else {
			s, err := toText(et, value)
			if err != nil {
				return rendered{}, err
			}
			raw = []string{s}
		}
		r := rendered{list: true, raw: raw, items: []string{}}
		// An empty list is always written [] (a block sequence cannot be empty).
		r.block = len(raw) > 0 && ref != nil && ref.Kind == yaml.SequenceNode && ref.Style&yaml.FlowStyle == 0 && len(ref.Content) > 0
		quote := yaml.Style(0)
		if ref != nil && ref.Kind == yaml.SequenceNode && len(ref.Content) > 0 {
			all := ref.Content[0].Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
			for _, c := range ref.Content {
				if c.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != all {
					all = 0
				}
			}
			quote = all
		}
		if quote == 0 {
			for _, s := range raw {
				if needsQuote(s, et, !r.block) {
					quote = yaml.DoubleQuotedStyle
				}
			}
		}
		for _, s := range raw {
			if quote == 0 && et == timeSpanType {
				quote = yaml.DoubleQuotedStyle
			}
			r.items = append(r.items, quoteAs(s, quote))
		}
		return r, nil
	}
	s, err := toText(ft, value)
	if err != nil {
		return rendered{}, err
	}
	var quote yaml.Style
	if ref != nil && ref.Kind == yaml.ScalarNode {
		quote = ref.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	}
	if quote == 0 && (ft == timeSpanType || needsQuote(s, ft, false)) {
		// TimeSpans are quoted as in the default (00:00:05 is a sexagesimal number to YAML 1.1).
		quote = yaml.DoubleQuotedStyle
	}
	if s == "" && quote == 0 {
		quote = yaml.DoubleQuotedStyle
	}
	return rendered{scalar: quoteAs(s, quote)}, nil
}

// toText is how value is written for a parameter of type t.
func toText(t reflect.Type, value any) (string, error) {
	if value == nil {
		return "", errors.New("a list cannot hold $null")
	}
	rv := reflect.ValueOf(value)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "", errors.New("a list cannot hold $null")
		}
		rv = rv.Elem()
		value = rv.Interface()
	}
	if dur, ok := value.(time.Duration); ok {
		return FormatTimeSpan(dur), nil
	}
	if rv.Type() == byteSizeType {
		return ByteSize(rv.Uint()).String(), nil
	}
	if st, ok := value.(fmt.Stringer); ok {
		return st.String(), nil
	}
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == byteSizeType && rv.Int() >= 0 {
			return ByteSize(rv.Int()).String(), nil
		}
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t == byteSizeType {
			return ByteSize(rv.Uint()).String(), nil
		}
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64), nil
	}
	return "", fmt.Errorf("cannot write a %T as a value", value)
}

// needsQuote says whether s must be quoted to be read back as itself: it would not parse as
// a plain scalar (in a flow sequence when flow), or it would read as null, or, for free
// text (names, banners, passwords), as something other than a string.
func needsQuote(s string, t reflect.Type, flow bool) bool {
	if s == "" || strings.ContainsAny(s, "\n\r\t") || strings.TrimSpace(s) != s {
		return true
	}
	src := "k: " + s
	if flow {
		src = "k: [" + s + "]"
	}
	var n yaml.Node
	if yaml.Unmarshal([]byte(src), &n) != nil || len(n.Content) != 1 || len(n.Content[0].Content) != 2 {
		return true
	}
	v := n.Content[0].Content[1]
	if flow {
		if v.Kind != yaml.SequenceNode || len(v.Content) != 1 {
			return true
		}
		v = v.Content[0]
	}
	if v.Kind != yaml.ScalarNode || v.Value != s || v.Style != 0 || v.Tag == "!!null" {
		return true
	}
	return t == stringType && v.Tag != "!!str"
}

// quoteAs writes s plain, single- or double-quoted.
func quoteAs(s string, style yaml.Style) string {
	switch {
	case style&yaml.SingleQuotedStyle != 0 && !strings.ContainsAny(s, "\n\r\t\\"):
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	case style != 0:
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"':
				b.WriteString(`\"`)
			case r == '\\':
				b.WriteString(`\\`)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\t':
				b.WriteString(`\t`)
			case r == '\r':
				b.WriteString(`\r`)
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	return s
}

// ---- positions in the text ----

// pos is a place in the text: a line (1-based) and a byte offset in it.
type pos struct{ line, off int }

func (d *Document) nodeStart(n *yaml.Node) pos {
	return pos{n.Line, runeOffset(d.line(n.Line), n.Column)}
}

// runeOffset turns yaml's 1-based column (counted in characters) into a byte offset.
func runeOffset(s string, col int) int {
	off := 0
	for i := 1; i < col && off < len(s); i++ {
		_, w := utf8.DecodeRuneInString(s[off:])
		off += w
	}
	return off
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

func isCommentLine(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "#") }

// afterColon is the position just after the ':' that follows key k.
func (d *Document) afterColon(k *yaml.Node) pos {
	p := d.nodeStart(k)
	if k.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		p = d.scanQuoted(p)
	}
	for {
		l := d.line(p.line)
		for p.off < len(l) {
			if l[p.off] == ':' && (p.off+1 == len(l) || l[p.off+1] == ' ' || l[p.off+1] == '\t') {
				return pos{p.line, p.off + 1}
			}
			p.off++
		}
		if p.line >= len(d.lines) {
			return p
		}
		p = pos{p.line + 1, 0}
	}
}

// valueSpan is where the value of key k starts and ends (end exclusive); an empty value is
// the point after the colon.
func (d *Document) valueSpan(k, v *yaml.Node) (start, end pos) {
	if isNull(v) && v.Value == "" {
		p := d.afterColon(k)
		return p, p
	}
	return d.nodeStart(v), d.nodeEnd(v, k.Column-1)
}

// nodeEnd is the position after the last character of n, a value whose key (or dash) is at
// indentation ind.
func (d *Document) nodeEnd(n *yaml.Node, ind int) pos {
	start := d.nodeStart(n)
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 {
			return d.scanFlow(start)
		}
		if len(n.Content) == 0 {
			return start
		}
		last := n.Content[len(n.Content)-1]
		if n.Kind == yaml.MappingNode {
			return d.nodeEnd(last, n.Content[len(n.Content)-2].Column-1)
		}
		return d.nodeEnd(last, n.Column-1)
	case yaml.ScalarNode:
		switch {
		case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
			return d.scanQuoted(start)
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			end := pos{start.line, len(d.line(start.line))}
			for l := start.line + 1; l <= len(d.lines); l++ {
				s := d.line(l)
				if isBlank(s) {
					continue
				}
				if indentOf(s) <= ind {
					break
				}
				end = pos{l, len(s)}
			}
			return end
		}
	}
	// A plain scalar (or an alias): to the end of the line or a comment, and on over the
	// more indented lines that continue it.
	end := pos{start.line, plainEnd(d.line(start.line), start.off)}
	for l := start.line + 1; l <= len(d.lines); l++ {
		s := d.line(l)
		if isBlank(s) || isCommentLine(s) || indentOf(s) <= ind {
			break
		}
		end = pos{l, plainEnd(s, indentOf(s))}
	}
	return end
}

func plainEnd(s string, from int) int {
	end := len(s)
	for i := from; i < len(s); i++ {
		if s[i] == '#' && i > from && (s[i-1] == ' ' || s[i-1] == '\t') {
			end = i
			break
		}
	}
	return len(strings.TrimRight(s[:end], " \t\r"))
}

// scanQuoted returns the position after the quoted scalar starting at p.
func (d *Document) scanQuoted(p pos) pos {
	q := d.line(p.line)[p.off]
	p.off++
	for p.line <= len(d.lines) {
		l := d.line(p.line)
		for p.off < len(l) {
			c := l[p.off]
			switch {
			case q == '"' && c == '\\':
				p.off += 2
				continue
			case c == q && q == '\'' && p.off+1 < len(l) && l[p.off+1] == '\'':
				p.off += 2
				continue
			case c == q:
				return pos{p.line, p.off + 1}
			}
			p.off++
		}
		p = pos{p.line + 1, 0}
	}
	return pos{len(d.lines), len(d.line(len(d.lines)))}
}

// scanFlow returns the position after the flow collection starting at p. A quote opens a
// quoted scalar only where a scalar starts (after [ { , : or a space); inside a plain scalar
// ([o'brien@contoso.test]) it is an ordinary character.
func (d *Document) scanFlow(p pos) pos {
	depth := 0
	prev := byte(' ')
	for p.line <= len(d.lines) {
		l := d.line(p.line)
		for p.off < len(l) {
			c := l[p.off]
			switch {
			case (c == '"' || c == '\'') && strings.IndexByte(" \t[{,:", prev) >= 0:
				p = d.scanQuoted(p)
				l = d.line(p.line)
				prev = c
				continue
			case c == '#' && strings.IndexByte(" \t", prev) >= 0:
				p.off = len(l)
				continue
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				depth--
				if depth == 0 {
					return pos{p.line, p.off + 1}
				}
			}
			prev = c
			p.off++
		}
		p = pos{p.line + 1, 0}
		prev = ' '
	}
	return pos{len(d.lines), len(d.line(len(d.lines)))}
}

// ---- the edits ----

// entryLines are the lines of key k's entry in its mapping: from the comment lines just above
// it at its indentation to the last line of its value.
func (d *Document) entryLines(k, v *yaml.Node) (first, last int) {
	first = k.Line
	ind := k.Column - 1
	if d.onDashLine(k) {
		ind = indentOf(d.line(k.Line))
	}
	for first > 1 {
		s := d.line(first - 1)
		if !isCommentLine(s) || indentOf(s) != ind {
			break
		}
		first--
	}
	_, end := d.valueSpan(k, v)
	return first, end.line
}

// onDashLine says whether node n is the first key of a block sequence item, on the "- " line.
func (d *Document) onDashLine(n *yaml.Node) bool {
	l := d.line(n.Line)
	return strings.TrimSpace(l[:runeOffset(l, n.Column)]) != ""
}

// replaceOnLine writes text where a value ran from start to end on one line, keeping the
// comment after it in its column when the new value leaves room (else its old gap).
func (d *Document) replaceOnLine(start, end pos, text string) {
	l := d.line(start.line)
	prefix, rest := l[:start.off], l[end.off:]
	if start == end {
		prefix = strings.TrimRight(prefix, " ") + " "
	}
	head := prefix + text
	if t := strings.TrimLeft(rest, " \t"); strings.HasPrefix(t, "#") {
		oldCol := utf8.RuneCountInString(l[:len(l)-len(t)])
		pad := oldCol - utf8.RuneCountInString(head)
		if pad < 1 {
			pad = max(1, len(rest)-len(t)) // no room: the old gap
		}
		rest = strings.Repeat(" ", pad) + t
	}
	d.splice(start.line, end.line, []string{head + rest})
}

// replaceValue writes r as the value of key k (current value v).
func (d *Document) replaceValue(k, v *yaml.Node, r rendered) error {
	start, end := d.valueSpan(k, v)
	colon := d.afterColon(k)
	keyPart := d.line(k.Line)[:colon.off]
	// The comment of the key's line stays.
	var comment string
	if start.line > k.Line || start == end {
		comment = d.line(k.Line)[colon.off:]
	} else {
		comment = d.line(end.line)[end.off:]
	}
	if t := strings.TrimLeft(comment, " \t"); strings.HasPrefix(t, "#") {
		comment = " " + t
	} else {
		comment = ""
	}
	if !r.block {
		if start.line == end.line && start.line == k.Line {
			d.replaceOnLine(start, end, r.oneLine())
			return nil
		}
		d.splice(k.Line, end.line, []string{keyPart + " " + r.oneLine() + comment})
		return nil
	}
	dashInd := k.Column - 1 + 2
	old := map[string][]string{}
	if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
		dashInd = v.Column - 1
		for _, c := range v.Content {
			if c.Kind == yaml.ScalarNode && c.Line == d.nodeEnd(c, dashInd).line {
				old[c.Value] = append(old[c.Value], d.line(c.Line))
			}
		}
	}
	out := []string{keyPart + comment}
	for i, item := range r.items {
		if ls := old[r.raw[i]]; len(ls) > 0 {
			out = append(out, ls[0])
			old[r.raw[i]] = ls[1:]
			continue
		}
		out = append(out, strings.Repeat(" ", dashInd)+"- "+item)
	}
	last := end.line
	if start == end {
		last = k.Line
	}
	d.splice(k.Line, last, out)
	return nil
}

// entryText is the lines of a new entry name: r at indentation ind.
func entryText(ind int, name string, r rendered) []string {
	pad := strings.Repeat(" ", ind)
	switch {
	case r.empty:
		return []string{pad + name + ":"}
	case r.block:
		out := []string{pad + name + ":"}
		for _, it := range r.items {
			out = append(out, pad+"  - "+it)
		}
		return out
	}
	return []string{pad + name + ": " + r.oneLine()}
}

// insertEntry adds key name with value r to the mapping m at a (of struct type t): after the
// last key that the parameter table orders before it, else before the first.
func (d *Document) insertEntry(a addr, m *yaml.Node, t reflect.Type, name string, r rendered, ind int) error {
	lines := entryText(ind, name, r)
	topLevel := a.isRoot()
	if m == nil || m.Kind != yaml.MappingNode || len(m.Content) == 0 {
		// The file, or the key holding this mapping, is empty so far (nothing, null or {}).
		if topLevel {
			if len(d.lines) > 0 && !isBlank(d.lines[len(d.lines)-1]) && d.blankBetweenTop() {
				lines = append([]string{""}, lines...)
			}
			d.splice(len(d.lines)+1, len(d.lines), lines)
			return nil
		}
		key, _ := d.resolve(a)
		if key == nil {
			return fmt.Errorf("config: internal: no key for %v", a)
		}
		colon := d.afterColon(key)
		kl := d.line(key.Line)
		rest := strings.TrimLeft(kl[colon.off:], " \t")
		if strings.HasPrefix(rest, "{}") || strings.HasPrefix(rest, "[]") {
			rest = strings.TrimLeft(rest[2:], " \t")
		}
		head := kl[:colon.off]
		if rest != "" {
			head += " " + rest
		}
		d.splice(key.Line, key.Line, append([]string{head}, lines...))
		return nil
	}
	if m.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s: the mapping at line %d is written in flow style {…}; write it as a block to edit it", name, m.Line)
	}
	ord := paramOrder(t, name)
	after := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if paramOrder(t, canonicalKey(t, m.Content[i].Value)) < ord {
			after = i
		}
	}
	if after < 0 && d.onDashLine(m.Content[0]) {
		after = 0
	}
	if after >= 0 {
		_, last := d.entryLines(m.Content[after], m.Content[after+1])
		last = d.footComments(last, ind)
		if topLevel && d.blankBetweenTop() {
			lines = append([]string{""}, lines...)
		}
		d.splice(last+1, last, lines)
		return nil
	}
	first, _ := d.entryLines(m.Content[0], m.Content[1])
	if topLevel && d.blankBetweenTop() {
		lines = append(lines, "")
	}
	d.splice(first, first-1, lines)
	return nil
}

// footComments extends an entry ending at line last over the comment lines right after it,
// indented at least as its key (at ind), when a blank line (or the end of the file) follows
// them: they belong to the entry (as the example after "SendConnectors: []" in the default
// does), not to the next key.
func (d *Document) footComments(last, ind int) int {
	j := last + 1
	for j <= len(d.lines) && isCommentLine(d.line(j)) && indentOf(d.line(j)) >= ind {
		j++
	}
	if j > len(d.lines) || isBlank(d.line(j)) {
		return j - 1
	}
	return last
}

func canonicalKey(t reflect.Type, key string) string {
	if f, err := structField(t, key); err == nil {
		return f.Name
	}
	return key
}

// blankBetweenTop says whether the file separates its top-level keys with blank lines.
func (d *Document) blankBetweenTop() bool {
	if d.root == nil || len(d.root.Content) < 4 {
		return true
	}
	for i := 2; i+1 < len(d.root.Content); i += 2 {
		first, _ := d.entryLines(d.root.Content[i], d.root.Content[i+1])
		if isBlank(d.line(first - 1)) {
			return true
		}
	}
	return false
}

// removeEntry deletes key k from mapping m with its comment lines; a blank line that then
// stands next to another one goes too.
func (d *Document) removeEntry(m, k *yaml.Node) error {
	var v *yaml.Node
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i] == k {
			v, idx = m.Content[i+1], i
		}
	}
	if v == nil {
		return errors.New("config: internal: key not in its mapping")
	}
	first, last := d.entryLines(k, v)
	if d.onDashLine(k) {
		// The first key of a list item: the next key moves up onto the "- " line.
		kl := d.line(k.Line)
		dash := kl[:runeOffset(kl, k.Column)]
		if idx+2 >= len(m.Content) {
			d.splice(k.Line, last, []string{strings.TrimRight(dash, " ") + " {}"})
			return nil
		}
		next := m.Content[idx+2]
		nl := d.line(next.Line)
		d.splice(k.Line, next.Line, []string{dash + nl[runeOffset(nl, next.Column):]})
		return nil
	}
	d.removeLines(first, last)
	return nil
}

// removeLines deletes lines first..last; when blank lines stood on both sides, one goes too.
func (d *Document) removeLines(first, last int) {
	if first > 1 && isBlank(d.line(first-1)) && (last == len(d.lines) || isBlank(d.line(last+1))) {
		if last < len(d.lines) {
			last++
		} else {
			first--
		}
	}
	d.splice(first, last, nil)
}

// Add appends a new object to list kind ("ReceiveConnectors", case-insensitive) with the
// given fields, written in the parameter table's order whatever their order here (nil values
// are left out), in the style of the list's other objects (indentation, blank lines between
// objects, quoting, flow or block lists). A list the file lacks is created where
// default-org.yaml has it; an empty one ([]) is filled. Nothing changes on an error, and the
// values are checked by Parse when the edit is written (EditFile): Add itself refuses only an
// unknown parameter or a value it cannot write.
func (d *Document) Add(kind string, fields ...Field) (*ObjectNode, error) {
	kind, t, err := listKind(kind)
	if err != nil {
		return nil, err
	}
	type f struct {
		name  string
		ord   int
		value any
	}
	var fs []f
	for _, fl := range fields {
		if fl.Value == nil || isNilPointer(fl.Value) {
			continue
		}
		head, _, _ := strings.Cut(fl.Param, ".")
		sf, err := structField(t, head)
		if err != nil {
			return nil, err
		}
		name := sf.Name
		if _, rest, ok := strings.Cut(fl.Param, "."); ok {
			name += "." + rest
		}
		fs = append(fs, f{name, paramOrder(t, sf.Name), fl.Value})
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].ord < fs[j].ord })
	if len(fs) == 0 || strings.Contains(fs[0].name, ".") {
		return nil, fmt.Errorf("%s: a new object needs at least one parameter, its %s first", kind, nameParam(t))
	}
	var obj *ObjectNode
	err = d.edit(func() error {
		index, err := d.appendItem(kind, t, fs[0].name, fs[0].value)
		if err != nil {
			return err
		}
		if err := d.reparse(); err != nil {
			return err
		}
		for _, fl := range fs[1:] {
			if err := d.setIn(addr{kind: kind, index: index}, t, strings.Split(fl.name, "."), fl.value); err != nil {
				return err
			}
			if err := d.reparse(); err != nil {
				return err
			}
		}
		obj = d.handle(kind, index)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// appendItem writes a new item "- name: value" at the end of list kind and returns its index.
func (d *Document) appendItem(kind string, t reflect.Type, name string, value any) (int, error) {
	f, _ := structField(t, name)
	items := d.items(kind)
	var sib *yaml.Node
	for _, it := range items {
		if _, v, _ := mapEntry(it, name); v != nil {
			sib = v
			break
		}
	}
	r, err := d.render(f.Type, value, nil, sib)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", name, err)
	}
	k, v := d.topEntry(kind)
	if k == nil {
		if err := d.insertEntry(addr{index: -1}, d.root, organizationType, kind, rendered{empty: true}, 0); err != nil {
			return 0, err
		}
		if err := d.reparse(); err != nil {
			return 0, err
		}
		k, v = d.topEntry(kind)
	}
	switch {
	case v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0:
		dashInd := v.Column - 1
		keyOff := 2
		first := v.Content[0]
		if first.Kind == yaml.MappingNode && len(first.Content) > 0 && first.Content[0].Line == first.Line {
			keyOff = first.Content[0].Column - v.Column
		}
		lines := entryText(dashInd+keyOff, name, r)
		lines[0] = strings.Repeat(" ", dashInd) + "-" + strings.Repeat(" ", keyOff-1) + strings.TrimLeft(lines[0], " ")
		lastItem := v.Content[len(v.Content)-1]
		end := d.nodeEnd(lastItem, dashInd).line
		if len(v.Content) >= 2 {
			between := false
			for l := d.nodeEnd(v.Content[0], dashInd).line + 1; l < v.Content[1].Line; l++ {
				if isBlank(d.line(l)) {
					between = true
				}
			}
			if between {
				lines = append([]string{""}, lines...)
			}
		}
		d.splice(end+1, end, lines)
		return len(v.Content), nil
	case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
		return 0, fmt.Errorf("%s: the list at line %d is written in flow style [{…}]; write it as a block to edit it", kind, v.Line)
	case (v.Kind == yaml.SequenceNode) || (isNull(v) && v.Value == ""):
		dashInd := d.listIndent()
		lines := entryText(dashInd+2, name, r)
		lines[0] = strings.Repeat(" ", dashInd) + "- " + strings.TrimLeft(lines[0], " ")
		colon := d.afterColon(k)
		kl := d.line(k.Line)
		rest := strings.TrimLeft(kl[colon.off:], " \t")
		if strings.HasPrefix(rest, "[]") {
			rest = strings.TrimLeft(rest[2:], " \t")
		}
		head := kl[:colon.off]
		if rest != "" {
			head += " " + rest
		}
		d.splice(k.Line, k.Line, append([]string{head}, lines...))
		return 0, nil
	}
	return 0, fmt.Errorf("%s: is not a list (line %d)", kind, v.Line)
}

// listIndent is the indentation of the dashes of the file's top-level lists, else 2.
func (d *Document) listIndent() int {
	if d.root != nil {
		for i := 1; i < len(d.root.Content); i += 2 {
			v := d.root.Content[i]
			if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
				return v.Column - 1
			}
		}
	}
	return 2
}

// Remove deletes the object of list kind named name (Find) with its comment lines, and
// reports whether there was one. The last object of a list leaves "Kind: []".
func (d *Document) Remove(kind, name string) bool {
	o := d.Find(kind, name)
	if o == nil {
		return false
	}
	return d.RemoveObject(o) == nil
}

// RemoveObject deletes object o, as Remove does; for objects without a name (ADPermissions).
func (d *Document) RemoveObject(o *ObjectNode) error {
	if err := o.live(); err != nil {
		return err
	}
	kind, i := o.kind, o.index
	return d.edit(func() error {
		k, v := d.topEntry(kind)
		if v == nil || v.Kind != yaml.SequenceNode || i >= len(v.Content) {
			return fmt.Errorf("%s: no object %d", kind, i)
		}
		if v.Style&yaml.FlowStyle != 0 {
			return fmt.Errorf("%s: the list at line %d is written in flow style; write it as a block to edit it", kind, v.Line)
		}
		item := v.Content[i]
		dashInd := v.Column - 1
		first := item.Line
		for first > 1 && !strings.HasPrefix(strings.TrimLeft(d.line(first), " "), "-") {
			first--
		}
		for first > 1 {
			s := d.line(first - 1)
			if !isCommentLine(s) || indentOf(s) != dashInd {
				break
			}
			first--
		}
		last := d.nodeEnd(item, dashInd).line
		if len(v.Content) == 1 {
			colon := d.afterColon(k)
			kl := d.line(k.Line)
			head := kl[:colon.off] + " []"
			if rest := strings.TrimLeft(kl[colon.off:], " \t"); rest != "" {
				head += " " + rest
			}
			d.splice(first, last, nil)
			d.splice(k.Line, k.Line, []string{head})
		} else {
			if i == 0 && isBlank(d.line(last+1)) {
				// The blank line that separated the first object from the second goes with it,
				// so the list does not start with one.
				last++
			}
			d.removeLines(first, last)
		}
		for _, h := range d.handles {
			if h.kind != kind {
				continue
			}
			switch {
			case h.index == i:
				h.index = -1
			case h.index > i:
				h.index--
			}
		}
		return nil
	})
}

// ---- writing the file ----

// EditBytes runs edit on the organization in src (named name in messages), validates the
// result with Parse and returns the new bytes and organization. A change that fails
// validation returns Parse's Problems unchanged (they name the field, and the line of the new
// text); an error of edit is returned as it is. It is EditFile for a server running on the
// embedded default, whose caller then writes the bytes to a file of its own.
func EditBytes(name string, src []byte, edit func(*Document) error) ([]byte, *Organization, error) {
	d, err := ParseDocument(name, src)
	if err != nil {
		return nil, nil, err
	}
	if err := edit(d); err != nil {
		return nil, nil, err
	}
	out, _ := d.Bytes()
	o, err := Parse(name, out)
	if err != nil {
		return nil, nil, err
	}
	return out, o, nil
}

// fileLocks serializes the edits of one file within the process; lockDir (a file lock on
// the file's directory where the platform has one) does so between processes.
var fileLocks sync.Map // absolute path → *sync.Mutex

// EditFile reads the organization file at path, runs edit on its Document, validates the
// result with Parse and, when it is valid, writes it atomically: the new text goes to a
// temporary file in the same directory, is synced and renamed over path, and the directory
// is synced; path+".bak" then holds the previous content (written the same way, before the
// rename). A change that fails validation changes nothing on disk, neither the file nor its
// .bak, and returns Parse's Problems unchanged. An edit that changes no byte writes nothing.
// Concurrent EditFile calls on one file, from goroutines or (on Unix) other processes, run
// one after the other, each on the result of the one before, so none is lost. An edit that
// wants to warn as Exchange's Set- cmdlets do when nothing changed can ask its Document's
// Changed before it returns. Messages and relative file names in the organization go by
// path, as with Load; a symbolic link at path stays one (its target is rewritten).
func EditFile(path string, edit func(*Document) error) (*Organization, error) {
	target, unlock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Line: 0, Field: "(file)", Message: err.Error()}}
	}
	out, o, err := EditBytes(path, old, edit)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(out, old) {
		return o, nil
	}
	if err := replaceFile(target, old, out); err != nil {
		return nil, err
	}
	return o, nil
}

// WriteFile writes data as the organization file at path the way EditFile writes an edit:
// atomically, with path+".bak" holding the previous content when there was a file, under
// EditFile's lock. It is for the bytes EditBytes returns, e.g. when a server that ran on the
// embedded default gets a file of its own; it does not validate them again.
func WriteFile(path string, data []byte) error {
	target, unlock, err := lockFile(path)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := os.ReadFile(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeAtomic(target, data, 0o644)
	case err != nil:
		return fmt.Errorf("config: reading %s: %v", path, err)
	case bytes.Equal(old, data):
		return nil
	}
	return replaceFile(target, old, data)
}

// lockFile takes EditFile's locks for path and returns the file to write: path, or the file a
// symbolic link at path points to (the link stays one; its target gets the .bak).
func lockFile(path string) (target string, unlock func(), err error) {
	target = path
	if real, err := filepath.EvalSymlinks(path); err == nil {
		target = real
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		abs = target
	}
	v, _ := fileLocks.LoadOrStore(abs, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	unlockDir, err := lockDir(filepath.Dir(abs))
	if err != nil {
		mu.Unlock()
		return "", nil, fmt.Errorf("config: locking %s: %v", filepath.Dir(abs), err)
	}
	return target, func() { unlockDir(); mu.Unlock() }, nil
}

// replaceFile writes old to target+".bak", then data to target, each atomically, keeping
// target's permissions.
func replaceFile(target string, old, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(target); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := writeAtomic(target+".bak", old, mode); err != nil {
		return err
	}
	return writeAtomic(target, data, mode)
}

// writeAtomic replaces path with data: a temporary file in the same directory, fsync,
// rename, fsync of the directory; a failure leaves path as it was and no temporary file.
func writeAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("config: writing %s: %v", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("config: writing %s: %v", path, err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("config: writing %s: %v", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("config: writing %s: %v", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("config: writing %s: %v", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: writing %s: %v", path, err)
	}
	syncDir(dir)
	return nil
}
