package shell

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestBinding checks the parameter binder against the fake cmdlets: what each Set-Thing or
// New-Thing changed in the store.
func TestBinding(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, s *thingStore)
	}{
		{"positional Identity and named bool", `Set-Thing "Default EX01" -Enabled $false`, func(t *testing.T, s *thingStore) {
			if s.things[0].Enabled {
				t.Error("still enabled")
			}
		}},
		{"-Name:value", `Set-Thing -Identity:"EX01\Default EX01" -Enabled:$false -MaxSize:20MB`, func(t *testing.T, s *thingStore) {
			if s.things[0].Enabled || s.things[0].MaxSize != 20<<20 {
				t.Errorf("%+v", s.things[0])
			}
		}},
		{"unambiguous prefix", `Set-Thing -Ident "Relay EX02" -Ena 1 -MaxS 1KB -Ro hubtransport`, func(t *testing.T, s *thingStore) {
			th := s.things[2]
			if !th.Enabled || th.MaxSize != 1024 || th.Role != "HubTransport" {
				t.Errorf("%+v", th)
			}
		}},
		{"parameter alias", `Set-Thing "Relay EX02" -Ranges 1.1.1.1`, func(t *testing.T, s *thingStore) {
			if !reflect.DeepEqual(s.things[2].Ranges, []string{"1.1.1.1"}) {
				t.Errorf("%v", s.things[2].Ranges)
			}
		}},
		{"array argument replaces", `Set-Thing "Relay EX02" -RemoteIPRanges 10.0.0.5,10.0.0.6,10.0.0.9`, func(t *testing.T, s *thingStore) {
			if !reflect.DeepEqual(s.things[2].Ranges, []string{"10.0.0.5", "10.0.0.6", "10.0.0.9"}) {
				t.Errorf("%v", s.things[2].Ranges)
			}
		}},
		{"@() argument", `$r = '1.1.1.1'; Set-Thing "Relay EX02" -RemoteIPRanges @($r, "2.2.2.2")`, func(t *testing.T, s *thingStore) {
			if !reflect.DeepEqual(s.things[2].Ranges, []string{"1.1.1.1", "2.2.2.2"}) {
				t.Errorf("%v", s.things[2].Ranges)
			}
		}},
		{"hashtable Add and Remove", `Set-Thing "Relay EX02" -RemoteIPRanges @{Add="10.0.0.7","10.0.0.8"; Remove="10.0.0.5"}`, func(t *testing.T, s *thingStore) {
			if !reflect.DeepEqual(s.things[2].Ranges, []string{"10.0.0.6", "10.0.0.7", "10.0.0.8"}) {
				t.Errorf("%v", s.things[2].Ranges)
			}
		}},
		{"$null clears a multi-valued property", `Set-Thing "Relay EX02" -RemoteIPRanges $null`, func(t *testing.T, s *thingStore) {
			if len(s.things[2].Ranges) != 0 {
				t.Errorf("%v", s.things[2].Ranges)
			}
		}},
		{"switch with :$false", `Get-Thing | Set-Thing -Enabled $false -WhatIf:$false`, func(t *testing.T, s *thingStore) {
			for _, th := range s.things {
				if th.Enabled {
					t.Errorf("%s enabled", th.Name)
				}
			}
		}},
		{"pipeline by value runs once per object", `Get-Thing -Server EX01 | Set-Thing -MaxSize 5MB`, func(t *testing.T, s *thingStore) {
			if !reflect.DeepEqual(s.log, []string{`set EX01\Default EX01`, `set EX01\Default Frontend EX01`}) {
				t.Errorf("%v", s.log)
			}
		}},
		{"identity strings from the pipeline", `"Relay EX02", "Default EX01" | Set-Thing -Enabled $true`, func(t *testing.T, s *thingStore) {
			if !s.things[2].Enabled || len(s.log) != 2 {
				t.Errorf("%v", s.log)
			}
		}},
		{"secure string", `New-Thing Lab -Role FrontendTransport -Password (ConvertTo-SecureString -String 'P@ssw0rd' -AsPlainText -Force)`, func(t *testing.T, s *thingStore) {
			if len(s.things) != 4 || s.things[3].Password != "P@ssw0rd" || s.things[3].Role != "FrontendTransport" {
				t.Errorf("%+v", s.things[len(s.things)-1])
			}
		}},
		{"variable holding objects piped", `$c = Get-Thing "Relay EX02"; $c | Set-Thing -Enabled $true; Set-Thing $c -MaxSize 1`, func(t *testing.T, s *thingStore) {
			if !s.things[2].Enabled || s.things[2].MaxSize != 1 {
				t.Errorf("%+v", s.things[2])
			}
		}},
		{"Remove-Thing with -Confirm:$false", `Remove-Thing "Relay EX02" -Confirm:$false`, func(t *testing.T, s *thingStore) {
			if len(s.things) != 2 {
				t.Errorf("%d things", len(s.things))
			}
		}},
		{"-ErrorAction accepted", `Get-Thing Nope -ErrorAction SilentlyContinue; Get-Thing Nope -ea silentlycontinue; Set-Thing "Relay EX02" -Verbose -MaxSize 2`, func(t *testing.T, s *thingStore) {
			if s.things[2].MaxSize != 2 {
				t.Errorf("%+v", s.things[2])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, s, err := run(t, tc.src)
			if err != nil || errOut != "" {
				t.Fatalf("Run: %v\n%s", err, errOut)
			}
			tc.check(t, s)
		})
	}
}

// TestBindingPipelineByPropertyName checks ValueFromPipelineByPropertyName: Name comes from the
// input objects' Name property.
func TestBindingPipelineByPropertyName(t *testing.T) {
	out, errOut, _, err := run(t, `Get-Thing -Server EX01 | Get-ByName; [pscustomobject]@{Name='x'} | Get-ByName`)
	if err != nil {
		t.Fatal(err, errOut)
	}
	if want := "name=Default EX01\nname=Default Frontend EX01\nname=x\n"; out != want {
		t.Errorf("got %q want %q", out, want)
	}
}

// TestBindingInputWithoutPipelineParameters: a cmdlet with no pipeline parameter gets all
// input at once, and runs once even without input.
func TestBindingInputWithoutPipelineParameters(t *testing.T) {
	out, _, _, err := run(t, `Get-Thing | Get-Input; Get-Input; @() | Get-Input`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "received 3\nreceived 0\nreceived 0\n"; out != want {
		t.Errorf("got %q want %q", out, want)
	}
}

// TestBindingCall checks the typed getters a cmdlet reads.
func TestBindingCall(t *testing.T) {
	e := New()
	var got *Call
	e.Register(&Cmdlet{Name: "Test-Args", Params: []Param{
		{Name: "S", Type: String, Position: 1},
		{Name: "N", Type: Int, Position: 2},
		{Name: "L", Type: Strings},
		{Name: "F", Type: Switch},
		{Name: "M", Type: MultiValued},
		{Name: "Rest", Type: Any, Position: 3, Remaining: true},
	}, Process: func(c *Call) error { got = c; return nil }})
	if err := e.Run(context.Background(), `Test-Args abc 10MB -L x,y -F -M @{add='a'} r1 r2 r3`, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got.String("S") != "abc" || got.Int("N") != 10<<20 || !reflect.DeepEqual(got.Strings("L"), []string{"x", "y"}) ||
		!got.Bool("F") || !got.IsSet("F") || got.IsSet("Nope") {
		t.Errorf("bound %v", got.bound)
	}
	if m := got.Multi("M"); m.IsReplace || !reflect.DeepEqual(m.Add, []string{"a"}) || !reflect.DeepEqual(m.Apply([]string{"A", "b"}), []string{"A", "b"}) {
		t.Errorf("multi %+v", m)
	}
	if r := got.Strings("Rest"); !reflect.DeepEqual(r, []string{"r1", "r2", "r3"}) {
		t.Errorf("rest %v", r)
	}
	if err := e.Run(context.Background(), `Test-Args -F:$false`, nil, nil); err != nil || got.Bool("F") || !got.IsSet("F") {
		t.Errorf("-F:$false: %v %v", err, got.bound)
	}
}

func TestMultiValueApply(t *testing.T) {
	tests := []struct {
		m    MultiValue
		old  []string
		want []string
	}{
		{MultiValue{IsReplace: true, Replace: []string{"a"}}, []string{"x"}, []string{"a"}},
		{MultiValue{Add: []string{"b", "A"}}, []string{"a"}, []string{"a", "b"}},
		{MultiValue{Remove: []string{"X"}}, []string{"x", "y"}, []string{"y"}},
		{MultiValue{Add: []string{"z"}, Remove: []string{"y"}}, []string{"x", "y"}, []string{"x", "z"}},
	}
	for _, tc := range tests {
		if got := tc.m.Apply(tc.old); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v.Apply(%v) = %v, want %v", tc.m, tc.old, got, tc.want)
		}
	}
}

// TestWhatIf: -WhatIf prints Exchange's "What if:" line per object and changes nothing;
// $WhatIfPreference does the same for every command.
func TestWhatIf(t *testing.T) {
	out, errOut, s, err := run(t, `Get-Thing -Server EX01 | Set-Thing -Enabled $false -WhatIf; Remove-Thing "Relay EX02" -WhatIf; New-Thing X -Role HubTransport -WhatIf`)
	if err != nil {
		t.Fatal(err, errOut)
	}
	want := "What if: Configuring thing \"EX01\\Default EX01\".\n" +
		"What if: Configuring thing \"EX01\\Default Frontend EX01\".\n" +
		"What if: Removing thing \"EX02\\Relay EX02\".\n" +
		"What if: Creating thing \"EX01\\X\".\n"
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if len(s.log) != 0 || len(s.things) != 3 || !s.things[0].Enabled {
		t.Errorf("changed: %v", s.log)
	}
	out, _, s, _ = run(t, `$WhatIfPreference = $true; Set-Thing "Relay EX02" -MaxSize 1`)
	if !strings.HasPrefix(out, "What if: ") || len(s.log) != 0 {
		t.Errorf("preference: %q %v", out, s.log)
	}
}

// TestSplatting: @params passes a hashtable as named arguments and an array as positional ones.
func TestSplatting(t *testing.T) {
	_, errOut, s, err := run(t, `$p = @{
    Name           = "Relay EX01"   # the connector
    Role           = "FrontendTransport"
    RemoteIPRanges = "127.0.0.2", "127.0.0.3"
    Enabled        = $false
}
New-Thing @p -MaxSize 1MB
$pos = @("Relay EX02")
Set-Thing @pos -Enabled $true`)
	if err != nil {
		t.Fatal(err, errOut)
	}
	n := s.things[3]
	if n.Name != "Relay EX01" || n.Role != "FrontendTransport" || n.Enabled || n.MaxSize != 1<<20 ||
		!reflect.DeepEqual(n.Ranges, []string{"127.0.0.2", "127.0.0.3"}) || !s.things[2].Enabled {
		t.Errorf("%+v %+v", n, s.things[2])
	}
}
