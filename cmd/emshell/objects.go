package emshell

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// objectOf is a configuration object as Get- prints it: every parameter of its table, in
// alphabetical order as Format-List shows Exchange's objects, then Name and Identity.
func objectOf(typeName string, v any, identity string, view *shell.View) *shell.Object {
	rv := reflect.Indirect(reflect.ValueOf(v))
	rt := rv.Type()
	var names []string
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if f.IsExported() && f.Tag.Get("exlab") != "-" && f.Name != "Name" {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	o := shell.NewObject(typeName)
	o.View = view
	for _, n := range names {
		o.Set(n, display(rv.FieldByName(n)))
	}
	if f := rv.FieldByName("Name"); f.IsValid() {
		o.Set("Name", f.String())
	}
	o.Set("Identity", identity)
	return o
}

// display is a field's value as the shell shows it: lists element by element ({a, b}), the
// Exchange spellings of sizes, limits and time spans (their String), numbers and booleans.
func display(v reflect.Value) any {
	if s, ok := v.Interface().(fmt.Stringer); ok && v.Kind() != reflect.Slice {
		return s.String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil // an optional setting left unset
		}
		return display(v.Elem()) // an optional setting (AddressBookEnabled *bool): its value
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = display(v.Index(i))
		}
		return out
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return v.Int()
	case reflect.String:
		return v.String()
	case reflect.Struct, reflect.Map:
		return fmt.Sprint(v.Interface())
	}
	return fmt.Sprint(v.Interface())
}

// strs is a list field as text, for MultiValue.Apply.
func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// objectParams are the cmdlet parameters of a configuration object, from its parameter table
// (config.Objects): lists take Exchange's multi-valued forms, booleans $true/$false, enums one
// of their values; everything else is text in Exchange's spelling, checked by the validation.
func objectParams(kind string, skip ...string) []shell.Param {
	var obj *config.Object
	for _, o := range config.Objects() {
		if o.Name == kind {
			obj = &o
			break
		}
	}
	if obj == nil {
		panic("emshell: no parameter table for " + kind)
	}
	t := fieldTypes(kind)
	var out []shell.Param
	for _, p := range obj.Params {
		if strings.Contains(p.Name, ".") || contains(skip, p.Name) {
			continue
		}
		sp := shell.Param{Name: p.Name, Help: p.Doc}
		ft, ok := t[p.Name]
		switch {
		case ok && ft.Kind() == reflect.Slice:
			sp.Type, sp.TypeName = shell.MultiValued, "MultiValuedProperty"
		case ok && ft.Kind() == reflect.Bool:
			sp.Type = shell.Bool
		case ok && ft.Kind() == reflect.Int:
			sp.Type = shell.Int
		case len(p.Values) > 0:
			sp.Type, sp.Values, sp.TypeName = shell.Enum, p.Values, ft.Name()
		case ok && ft == reflect.TypeOf(config.ByteSize(0)):
			// 64MB reaches the editor as a number, which it writes as Exchange prints a
			// size (64 MB (67,108,864 bytes)); "64 MB" as text is written as given.
			sp.Type, sp.TypeName = shell.Any, "ByteQuantifiedSize"
		default:
			sp.Type = shell.String
			if ok && ft.Name() != "string" {
				sp.TypeName = ft.Name()
			}
		}
		out = append(out, sp)
	}
	return out
}

func fieldTypes(kind string) map[string]reflect.Type {
	var v any
	switch kind {
	case "ReceiveConnector":
		v = config.ReceiveConnector{}
	case "AcceptedDomain":
		v = config.AcceptedDomain{}
	case "SendConnector":
		v = config.SendConnector{}
	case "Server":
		v = config.Server{}
	case "Mailbox":
		v = config.Mailbox{}
	default:
		return nil
	}
	t := reflect.TypeOf(v)
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		out[t.Field(i).Name] = t.Field(i).Type
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// setParams writes every given object parameter of c to node; lists apply the multi-valued
// edit to the current value (cur, from the parsed object).
func setParams(c *shell.Call, node *config.ObjectNode, params []shell.Param, cur *shell.Object, skip ...string) error {
	for _, p := range params {
		if !c.IsSet(p.Name) || contains(skip, p.Name) {
			continue
		}
		var v any
		switch p.Type {
		case shell.MultiValued:
			var old []string
			if cur != nil {
				if x, ok := cur.Get(p.Name); ok {
					old = strs(x)
				}
			}
			v = c.Multi(p.Name).Apply(old)
		case shell.Bool:
			v = c.Bool(p.Name)
		case shell.Int:
			v = c.Int(p.Name)
		default:
			switch x := c.Value(p.Name).(type) {
			case nil:
				v = nil // $null: back to Exchange's default
			case int64:
				v = x // 64MB: the editor writes a size as Exchange prints it
			default:
				v = c.String(p.Name)
			}
		}
		if err := node.Set(p.Name, v); err != nil {
			return err
		}
	}
	return nil
}
