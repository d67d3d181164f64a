package shell

import (
	"strings"
	"testing"
)

// TestConvertToJSON: objects keep their property order, numbers and booleans stay typed, arrays
// stay arrays, -Depth cuts nested objects to their string, -Compress writes one line, and a
// date is Windows PowerShell 5.1's \/Date(ms)\/.
func TestConvertToJSON(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{`Get-Thing "Relay EX02" | Select-Object Name, Enabled, MaxSize, RemoteIPRanges | ConvertTo-Json -Compress`,
			`{"Name":"Relay EX02","Enabled":false,"MaxSize":10485760,"RemoteIPRanges":["10.0.0.5","10.0.0.6"]}`},
		{`@{a=1; b=@{c='x<y>'}} | ConvertTo-Json -Compress -Depth 0`, `{"a":1,"b":"System.Collections.Hashtable"}`},
		{`@{a=1; b=@{c='x<y>'}} | ConvertTo-Json -Compress`, `{"a":1,"b":{"c":"x<y>"}}`},
		{`1, 'two', $true, $null | ConvertTo-Json -Compress`, `[1,"two",true,null]`},
		{`ConvertTo-Json -InputObject @(1,2) -Compress`, `[1,2]`},
		{`[datetime]'2020-12-03T10:00:00Z' | ConvertTo-Json`, `"\/Date(1606989600000)\/"`},
		{`@{n=2.5} | ConvertTo-Json`, "{\n    \"n\": 2.5\n}"},
	} {
		out, errOut, _, err := run(t, c.script)
		if err != nil || errOut != "" {
			t.Errorf("%s: %v %s", c.script, err, errOut)
			continue
		}
		if got := strings.TrimSpace(out); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.script, got, c.want)
		}
	}
	yes := true
	if v := jsonValue(NewObject("T", "Flag", &yes, "Unset", (*bool)(nil)), 2); func() string { b, _ := v.(*jsonObject).MarshalJSON(); return string(b) }() != `{"Flag":true,"Unset":null}` {
		t.Errorf("pointers: %+v", v)
	}
	if _, errOut, _, _ := run(t, `1 | ConvertTo-Json -Depth 101`); !strings.Contains(errOut, "maximum allowed range of 100") {
		t.Errorf("-Depth 101: %q", errOut)
	}
}
