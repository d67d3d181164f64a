// json.go holds ConvertTo-Json, as Windows PowerShell 5.1 has it: what the web console reads
// the cmdlets' objects with (Get-ReceiveConnector | ConvertTo-Json), and what scripts use.

package shell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// convertToJSON is ConvertTo-Json (registered with the built-ins).
func convertToJSON() *Cmdlet {
	return &Cmdlet{
		Name:     "ConvertTo-Json",
		Synopsis: "Converts an object to a JSON-formatted string.",
		Description: "Objects become JSON objects with their properties in order; numbers, booleans and $null stay " +
			"what they are; collections become arrays; any other value is its string, as a deserialized object of a " +
			"remote Exchange session shows it. Beyond -Depth (2 by default) an object is its string. Dates are " +
			"\\/Date(milliseconds)\\/, as Windows PowerShell 5.1 writes them.",
		Params:   []Param{{Name: "InputObject", Type: Any, Position: 1}, {Name: "Depth", Type: Int}, {Name: "Compress", Type: Switch}},
		Examples: []string{"Get-ReceiveConnector | ConvertTo-Json -Depth 3\n\nThe receive connectors as a JSON array of objects."},
		Process: func(c *Call) error {
			depth := int64(2)
			if c.IsSet("Depth") {
				depth = c.Int("Depth")
				if depth < 0 || depth > 100 {
					return &ErrorRecord{Message: fmt.Sprintf("Cannot validate argument on parameter 'Depth'. The %d argument is greater than the maximum allowed range of 100. "+
						"Supply an argument that is less than or equal to 100 and then try the command again.", depth),
						Category: InvalidData, Reason: "ParameterBindingValidationException", ErrorID: "ParameterArgumentValidationError", Source: "Microsoft.PowerShell.Commands.ConvertToJsonCommand"}
				}
			}
			in := c.Input()
			if c.IsSet("InputObject") {
				in = []any{c.Value("InputObject")}
			}
			var v any
			switch len(in) {
			case 0:
				return nil
			case 1:
				v = jsonValue(in[0], int(depth))
			default:
				arr := make([]any, len(in))
				for i, x := range in {
					arr[i] = jsonValue(x, int(depth))
				}
				v = arr
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if !c.Bool("Compress") {
				enc.SetIndent("", "    ")
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
			c.Write(psDate.ReplaceAllString(strings.TrimSuffix(b.String(), "\n"), `"\/Date($1)\/"`))
			return nil
		},
	}
}

// psDate is a date as jsonValue writes it, which PowerShell 5.1 writes with its slashes escaped.
var psDate = regexp.MustCompile(`"/Date\((-?\d+)\)/"`)

// jsonObject keeps an object's properties in their order.
type jsonObject struct {
	keys []string
	vals []any
}

func (o *jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(o.vals[i]); err != nil {
			return nil, err
		}
		b.Write(bytes.TrimSuffix(vb.Bytes(), []byte("\n")))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonValue is v as ConvertTo-Json writes it, with depth levels of objects left to expand.
func jsonValue(v any, depth int) any {
	switch x := normalize(v).(type) {
	case nil, string, bool, int64, float64:
		return x
	case *SwitchValue:
		return x.On
	case time.Time:
		return fmt.Sprintf("/Date(%d)/", x.UnixMilli())
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = jsonValue(el, depth-1)
		}
		return out
	case *Object:
		if depth < 0 {
			return toString(x)
		}
		o := &jsonObject{}
		for _, n := range x.Names() {
			pv, _ := x.Get(n)
			o.keys = append(o.keys, n)
			o.vals = append(o.vals, jsonValue(pv, depth-1))
		}
		return o
	case *Hashtable:
		if depth < 0 {
			return toString(x)
		}
		o := &jsonObject{}
		for _, k := range x.Keys() {
			o.keys = append(o.keys, k)
			o.vals = append(o.vals, jsonValue(mustGet(x, k), depth-1))
		}
		return o
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.Elem().Kind() != reflect.Struct {
		if rv.IsNil() {
			return nil // an unset optional value (a *bool of an Exchange object)
		}
		return jsonValue(rv.Elem().Interface(), depth)
	}
	return toString(v)
}
