package shell

import (
	"strings"
	"time"
)

// ViewKind is a view's shape.
type ViewKind int

// The view shapes of Out-Default.
const (
	TableView ViewKind = iota + 1
	ListView
)

// View is a type's default view at the end of a pipeline (what a .format.ps1xml gives an
// Exchange type): a table with these columns, or a list of these properties.
type View struct {
	Kind    ViewKind
	Columns []Column
}

// Column is one table column or list entry.
type Column struct {
	// Label is the header; empty means the property name.
	Label string
	// Property is the object's property shown.
	Property string
	// Width is a fixed column width; 0 sizes the column to its widest value, as PowerShell 5
	// does for a table it has all rows of.
	Width int
	// Right aligns the column (numbers are always right-aligned).
	Right bool
	// Value, when set, computes the cell instead of reading Property.
	Value func(*Object) any

	// numeric: a column the engine generated (no view), where numbers are right-aligned as
	// PowerShell aligns them in a table built from properties; a view's columns align left
	// unless Right.
	numeric bool
}

// TableOf and ListOf build views from property names.
func TableOf(props ...string) *View { return &View{Kind: TableView, Columns: columnsOf(props)} }

// ListOf is a list view of the given properties.
func ListOf(props ...string) *View { return &View{Kind: ListView, Columns: columnsOf(props)} }

func columnsOf(props []string) []Column {
	cs := make([]Column, len(props))
	for i, p := range props {
		cs[i] = Column{Property: p}
	}
	return cs
}

// generated marks columns the engine built from an object's properties.
func generated(cs []Column) []Column {
	for i := range cs {
		cs[i].numeric = true
	}
	return cs
}

// dictionaryView is PowerShell's view of a hashtable's entries: Name 30 wide, then Value.
var dictionaryView = []Column{{Property: "Name", Width: 30}, {Property: "Value"}}

func (c *Column) label() string {
	if c.Label != "" {
		return c.Label
	}
	return c.Property
}

func (c *Column) get(v any, e *Engine) any {
	if c.Value != nil {
		if o, ok := v.(*Object); ok {
			return c.Value(o)
		}
		return nil
	}
	return property(v, c.Property)
}

// formatted is the output of Format-Table/Format-List: text Out-Default writes as it is.
type formatted struct{ text string }

func (f *formatted) String() string { return f.text }

// cellText is a value as a table cell or list value shows it: collections as {a, b, c} up to
// the enumeration limit, then "...".
func (e *Engine) cellText(v any) string {
	switch x := normalize(v).(type) {
	case nil:
		return ""
	case []any:
		var parts []string
		for i, el := range x {
			if i >= e.EnumerationLimit {
				return "{" + strings.Join(parts, ", ") + "...}"
			}
			if _, nested := el.([]any); nested {
				parts = append(parts, "System.Object[]")
				continue
			}
			parts = append(parts, toString(el))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *Hashtable:
		var parts []string
		for _, k := range x.Keys() {
			parts = append(parts, "["+k+", "+toString(mustGet(x, k))+"]")
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case time.Time:
		return dateCell(x)
	}
	return toString(v)
}

func mustGet(h *Hashtable, k string) any { v, _ := h.Get(k); return v }

// RegisterView sets the default view of a type, as a .format.ps1xml does: objects of that
// TypeName without a View of their own are shown by it.
func (e *Engine) RegisterView(typeName string, v *View) { e.views[strings.ToLower(typeName)] = v }

// shapeOf decides how an object is shown: its view (or its cmdlet's), its type's, else PowerShell's rule
// (up to four properties: a table; more: a list).
func (e *Engine) shapeOf(v any) (ViewKind, []Column, string) {
	switch x := v.(type) {
	case *Object:
		if x.View != nil && len(x.View.Columns) > 0 {
			return x.View.Kind, x.View.Columns, x.TypeName
		}
		if tv := e.views[strings.ToLower(x.TypeName)]; tv != nil && len(tv.Columns) > 0 {
			return tv.Kind, tv.Columns, x.TypeName
		}
		cols := generated(columnsOf(x.names))
		if len(cols) <= 4 {
			return TableView, cols, x.TypeName
		}
		return ListView, cols, x.TypeName
	case *Hashtable:
		return TableView, dictionaryView, "System.Collections.Hashtable"
	}
	return 0, nil, ""
}

// hashRows turns a hashtable into the Name/Value rows PowerShell shows for it.
func hashRows(h *Hashtable) []any {
	var out []any
	for _, k := range h.Keys() {
		out = append(out, NewObject("System.Collections.DictionaryEntry", "Name", k, "Value", mustGet(h, k)))
	}
	return out
}

// outFormatter is Out-Default: objects in, console text out. Consecutive objects of one type
// share one table or list; other values are written out of band, one per line.
type outFormatter struct {
	e     *Engine
	write func(string)
	// the open group
	kind     ViewKind
	typeName string
	cols     []Column
	rows     []any
	widths   []int // set once the table header is written
	autosize bool
	open     bool
}

func (e *Engine) newFormatter(write func(string)) *outFormatter {
	return &outFormatter{e: e, write: write}
}

func (f *outFormatter) add(v any) {
	v = normalize(v)
	switch x := v.(type) {
	case nil:
		return
	case *formatted:
		f.close()
		f.write(x.text)
		return
	case *ErrorRecord:
		f.close()
		f.write(x.Format())
		return
	case time.Time:
		// the DateTime view: long date and time, between format start and end
		f.close()
		f.write("\n" + dateLong(x) + "\n\n\n")
		return
	case *Object, *Hashtable:
		kind, cols, tn := f.e.shapeOf(x)
		if f.open && (f.kind != kind || !strings.EqualFold(f.typeName, tn)) {
			f.close()
		}
		if !f.open {
			f.open, f.kind, f.typeName, f.cols, f.widths = true, kind, tn, cols, nil
			f.write("\n") // format start
			if kind == ListView {
				f.write("\n") // group start
			}
		}
		rows := []any{x}
		if h, ok := x.(*Hashtable); ok {
			rows = hashRows(h)
		}
		if kind == ListView {
			for _, r := range rows {
				f.write(f.e.renderListEntry(r, cols))
			}
			return
		}
		f.rows = append(f.rows, rows...)
		return
	}
	// out of band: scalars and strings, one per line, without closing a table; while table
	// rows wait for their widths they wait with them, so the order stays
	if f.open && f.kind == TableView && len(f.rows) > 0 {
		f.rows = append(f.rows, outOfBand{toString(v)})
		return
	}
	f.write(toString(v) + "\n")
}

// outOfBand is a scalar queued between table rows.
type outOfBand struct{ text string }

// flush writes the buffered table rows (the header first, which fixes the widths).
func (f *outFormatter) flush() {
	if !f.open || f.kind != TableView || len(f.rows) == 0 {
		return
	}
	var b strings.Builder
	if f.widths == nil {
		var rows []any
		for _, r := range f.rows {
			if _, ok := r.(outOfBand); !ok {
				rows = append(rows, r)
			}
		}
		f.widths = f.e.tableWidths(f.cols, rows, f.autosize)
		b.WriteString(f.e.tableHeader(f.cols, f.widths))
	}
	for _, r := range f.rows {
		if s, ok := r.(outOfBand); ok {
			b.WriteString(s.text + "\n")
			continue
		}
		b.WriteString(f.e.tableRow(f.cols, f.widths, r))
	}
	f.rows = nil
	f.write(b.String())
}

// close ends the open group: the group end and format end blank lines of PowerShell's
// OutCommandInner.
func (f *outFormatter) close() {
	if !f.open {
		return
	}
	f.flush()
	f.write("\n\n")
	f.open = false
}

// tableWidths sizes the columns: fixed widths stay, the others fit their widest cell or label;
// then ColumnWidthManager's rule cuts the rightmost columns to the console width.
func (e *Engine) tableWidths(cols []Column, rows []any, autosize bool) []int {
	w := make([]int, len(cols))
	for i, c := range cols {
		if c.Width > 0 && !autosize {
			w[i] = c.Width
			continue
		}
		w[i] = runeLen(c.label())
		for _, r := range rows {
			if n := runeLen(firstLine(e.cellText(c.get(r, e)))); n > w[i] {
				w[i] = n
			}
		}
	}
	fitColumns(w, e.Width)
	return w
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i] + "..."
	}
	return s
}

func runeLen(s string) int { return len([]rune(s)) }

// fitColumns is PowerShell's ColumnWidthManager with a minimum width of 1 and one separator:
// unsized columns share what is left; when the total exceeds the width, the last visible column
// shrinks, or is hidden (-1) when it cannot keep one cell.
func fitColumns(w []int, total int) {
	sum := func() int {
		s, vis := 0, 0
		for _, x := range w {
			if x > 0 {
				s += x
				vis++
			}
		}
		if vis == 0 {
			return 0
		}
		return s + vis - 1
	}
	var unsized []int
	for i, x := range w {
		if x <= 0 {
			w[i] = 1
			unsized = append(unsized, i)
		}
	}
	if avail := total - sum(); avail > 0 && len(unsized) > 0 {
		for avail > 0 {
			for _, i := range unsized {
				w[i]++
				avail--
				if avail == 0 {
					break
				}
			}
		}
		return
	}
	for {
		excess := sum() - total
		if excess <= 0 {
			return
		}
		last := len(w) - 1
		for i, x := range w {
			if x < 0 {
				last = i - 1
				break
			}
		}
		if last < 0 {
			return
		}
		if w[last]-excess < 1 {
			w[last] = -1
			continue
		}
		w[last] -= excess
	}
}

// field is TableWriter.GenerateRowField: pad to the width by alignment, or cut with "...".
func field(s string, width int, right bool) string {
	r := []rune(firstLine(s))
	n := len(r)
	switch {
	case n < width:
		pad := strings.Repeat(" ", width-n)
		if right {
			return pad + string(r)
		}
		return string(r) + pad
	case n > width:
		keep := width - 3
		if keep > 0 {
			if right {
				return "..." + string(r[n-keep:])
			}
			return string(r[:keep]) + "..."
		}
		if right {
			return string(r[n-width:])
		}
		return string(r[:width])
	}
	return string(r)
}

func (e *Engine) tableHeader(cols []Column, w []int) string {
	var h, u []string
	for i, c := range cols {
		if w[i] <= 0 {
			continue
		}
		l := c.label()
		h = append(h, field(l, w[i], c.Right))
		n := min(runeLen(l), w[i])
		u = append(u, field(strings.Repeat("-", n), w[i], c.Right))
	}
	return strings.Join(h, " ") + "\n" + strings.Join(u, " ") + "\n"
}

func (e *Engine) tableRow(cols []Column, w []int, row any) string {
	var parts []string
	for i, c := range cols {
		if w[i] <= 0 {
			continue
		}
		v := c.get(row, e)
		parts = append(parts, field(e.cellText(v), w[i], c.Right || c.numeric && isNumber(v)))
	}
	return strings.Join(parts, " ") + "\n"
}

// renderTable is a whole Format-Table block: format start, header, rows, group and format end.
func (e *Engine) renderTable(cols []Column, rows []any, autosize, hideHeader bool) string {
	w := e.tableWidths(cols, rows, autosize)
	var b strings.Builder
	b.WriteString("\n")
	if !hideHeader {
		b.WriteString(e.tableHeader(cols, w))
	}
	for _, r := range rows {
		b.WriteString(e.tableRow(cols, w, r))
	}
	b.WriteString("\n\n")
	return b.String()
}

// renderListEntry is ListWriter: "Name : Value" padded to the longest name, long values cut into
// lines under the value column, then the entry's blank line.
func (e *Engine) renderListEntry(row any, cols []Column) string {
	lw := 0
	for _, c := range cols {
		lw = max(lw, runeLen(c.label()))
	}
	var b strings.Builder
	valueWidth := max(e.Width-(lw+3), 1)
	pad := strings.Repeat(" ", lw+3)
	for _, c := range cols {
		label := c.label() + strings.Repeat(" ", lw-runeLen(c.label())) + " : "
		text := strings.ReplaceAll(e.cellText(c.get(row, e)), "\r\n", "\n")
		for li, line := range strings.Split(text, "\n") {
			prefix := label
			if li > 0 {
				prefix = pad
			}
			chunks := splitCells(line, valueWidth)
			for ci, ch := range chunks {
				if ci == 0 {
					b.WriteString(prefix + ch + "\n")
				} else {
					b.WriteString(pad + ch + "\n")
				}
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

func splitCells(s string, width int) []string {
	r := []rune(s)
	if len(r) <= width {
		return []string{s}
	}
	var out []string
	for len(r) > width {
		out = append(out, string(r[:width]))
		r = r[width:]
	}
	if len(r) > 0 {
		out = append(out, string(r))
	}
	return out
}

// renderList is a whole Format-List block.
func (e *Engine) renderList(rows []any, colsFor func(any) []Column) string {
	var b strings.Builder
	b.WriteString("\n\n")
	for _, r := range rows {
		b.WriteString(e.renderListEntry(r, colsFor(r)))
	}
	b.WriteString("\n\n")
	return b.String()
}

// formatAll renders values as Out-Default would, into one string (Out-String).
func (e *Engine) formatAll(vals []any) string {
	var b strings.Builder
	f := e.newFormatter(func(s string) { b.WriteString(s) })
	for _, v := range vals {
		f.add(v)
	}
	f.close()
	return b.String()
}

// allColumns lists every property of a value (Format-List *).
func allColumns(v any) []Column {
	switch x := v.(type) {
	case *Object:
		return generated(columnsOf(x.names))
	case *Hashtable:
		return dictionaryView
	}
	return nil
}

// expandProperties resolves a property list with wildcards and calculated properties
// (@{Name=…; Expression={…}}) against a sample object.
func (e *Engine) expandProperties(spec []any, sample any) ([]Column, error) {
	var cols []Column
	for _, s := range spec {
		switch x := s.(type) {
		case *Hashtable:
			var name string
			var exprV any
			for _, k := range x.Keys() {
				v, _ := x.Get(k)
				switch strings.ToLower(k) {
				case "name", "n", "label", "l":
					name = toString(v)
				case "expression", "e":
					exprV = v
				}
			}
			ev := exprV
			if name == "" {
				name = toString(ev)
			}
			col := Column{Label: name, Property: name, numeric: true}
			switch sb := ev.(type) {
			case *ScriptBlock:
				col.Value = func(o *Object) any {
					out, _ := e.invokeBlock(sb, o)
					return collapse(out)
				}
			default:
				pn := toString(ev)
				col.Value = func(o *Object) any { return property(o, pn) }
			}
			cols = append(cols, col)
		default:
			name := toString(s)
			if strings.ContainsAny(name, "*?[") {
				for _, c := range allColumns(sample) {
					if Like(c.Property, name) {
						cols = append(cols, c)
					}
				}
				continue
			}
			if o, ok := sample.(*Object); ok {
				name = o.canonical(name)
			}
			cols = append(cols, Column{Property: name, numeric: true})
		}
	}
	return cols, nil
}
