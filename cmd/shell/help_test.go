package shell

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestGetHelp checks Get-Help's layout and the syntax lines built from the parameter table:
// [-Name] <T> for a mandatory positional parameter, [[-Name] <T>] for an optional one,
// [-Name <T>] named, {A | B} for an enum, [-Switch], one line per parameter set.
func TestGetHelp(t *testing.T) {
	tests := []struct{ src, want string }{
		{"Get-Help Get-Thing",
			"\nNAME\n    Get-Thing\n\nSYNOPSIS\n    Gets things.\n\n\nSYNTAX\n" +
				"    Get-Thing [[-Identity] <ThingIdParameter>] [<CommonParameters>]\n\n" +
				"    Get-Thing [-Server <ServerIdParameter>] [<CommonParameters>]\n\n\n" +
				"DESCRIPTION\n    The Get-Thing cmdlet gets the things of the fake store.\n\n\n" +
				"RELATED LINKS\n\nREMARKS\n" +
				"    To see the examples, type: \"get-help Get-Thing -examples\".\n" +
				"    For more information, type: \"get-help Get-Thing -detailed\".\n" +
				"    For technical information, type: \"get-help Get-Thing -full\".\n\n\n"},
		{"help New-Thing",
			"\nNAME\n    New-Thing\n\nSYNOPSIS\n    Creates a thing.\n\n\nSYNTAX\n" +
				"    New-Thing [-Name] <String> [-Server <ServerIdParameter>] [-Enabled <Boolean>] [-MaxSize <ByteQuantifiedSize>] [-Role\n" +
				"    {FrontendTransport | HubTransport}] [-RemoteIPRanges <MultiValuedProperty>] [-Password <SecureString>] [-WhatIf]\n" +
				"    [-Confirm] [<CommonParameters>]\n\n\n" +
				"DESCRIPTION\n    Creates a thing.\n\n\n" +
				"RELATED LINKS\n\nREMARKS\n" +
				"    To see the examples, type: \"get-help New-Thing -examples\".\n" +
				"    For more information, type: \"get-help New-Thing -detailed\".\n" +
				"    For technical information, type: \"get-help New-Thing -full\".\n\n\n"},
		{"Get-Help Get-Thing -Examples",
			"\nNAME\n    Get-Thing\n\nSYNOPSIS\n    Gets things.\n\n" +
				"    -------------------------- Example 1 --------------------------\n\n" +
				"    Get-Thing -Server EX01\n\n    This example lists the things of EX01.\n\n\n"},
		{"Get-Help Set-Thing -Parameter Ident",
			"\n    -Identity <ThingIdParameter>\n\n" +
				"        Required?                    true\n        Position?                    1\n        Default value\n" +
				"        Accept pipeline input?       True (ByValue)\n        Accept wildcard characters?  false\n\n"},
	}
	for _, tc := range tests {
		out, errOut, _, err := run(t, tc.src)
		if err != nil {
			t.Fatalf("%s: %v %s", tc.src, err, errOut)
		}
		if out != tc.want {
			t.Errorf("%s:\n%s\n%q\nwant:\n%q", tc.src, out, out, tc.want)
		}
	}
	out, _, _, _ := run(t, "Get-Help Get-Thing -Full")
	if !strings.Contains(out, "PARAMETERS\n    -Identity <ThingIdParameter>\n") || !strings.Contains(out, "    <CommonParameters>\n") {
		t.Errorf("-Full:\n%s", out)
	}
	_, errOut, _, err := run(t, "Get-Help Nope-Nothing")
	if err == nil || !strings.HasPrefix(errOut, "Get-Help : Get-Help could not find Nope-Nothing in a help file in this session.") {
		t.Errorf("unknown topic: %v %q", err, errOut)
	}
}

// TestGetCommand lists commands by name with wildcards, as a table of PowerShell's widths.
func TestGetCommand(t *testing.T) {
	out, _, _, err := run(t, "(Get-Command *-Thing).Name; (Get-Command -Verb Get -Noun Th*).Name; (Get-Command).Count -gt 20")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Get-Thing\nNew-Thing\nRemove-Thing\nSet-Thing\nGet-Thing\nTrue\n"; out != want {
		t.Errorf("got %q want %q", out, want)
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return "<" + s.s + ">" }

// TestValues: a Go value with a String method shows by it; dates print as PowerShell prints
// them (long form alone, the invariant form in strings, en-US in cells).
func TestValues(t *testing.T) {
	e := New()
	e.Now = func() time.Time { return time.Date(2026, 12, 2, 19, 51, 37, 0, time.UTC) }
	e.Register(&Cmdlet{Name: "Get-Go", Process: func(c *Call) error {
		c.Write(stringer{"x"}, NewObject("T", "V", stringer{"y"}, "When", e.now()))
		return nil
	}})
	e.Register(&Cmdlet{Name: "Test-Date", Params: []Param{{Name: "Start", Type: DateTime, Position: 1}},
		Process: func(c *Call) error { c.Write(c.Time("Start").Format(time.RFC3339)); return nil }})
	var o, x strings.Builder
	err := e.Run(context.Background(), "Get-Go\nGet-Date\n\"$(Get-Date)\"\n(Get-Date).AddHours(-2).Hour\n"+
		"Test-Date (Get-Date).AddDays(-1)\nTest-Date '2026-11-30 08:00'\n(Get-Date) -gt '2026-01-01'\nGet-Date -Format yyyyMMdd", &o, &x)
	if err != nil {
		t.Fatal(err, x.String())
	}
	want := "<x>\n\nV   When                \n-   ----                \n<y> 12/2/2026 7:51:37 PM\n\n\n" +
		"\nWednesday, December 2, 2026 7:51:37 PM\n\n\n" +
		"12/02/2026 19:51:37\n17\n2026-12-01T19:51:37Z\n2026-11-30T08:00:00Z\nTrue\n20261202\n"
	if o.String() != want {
		t.Errorf("got:\n%s\n%q\nwant:\n%q", o.String(), o.String(), want)
	}
	x.Reset()
	if err := e.Run(context.Background(), "Test-Date tomorrow", nil, &x); err == nil ||
		!strings.HasPrefix(x.String(), "Test-Date : Cannot process argument transformation on parameter 'Start'. Cannot convert value \"tomorrow\" to type \"System.DateTime\".") {
		t.Errorf("bad date: %v %q", err, x.String())
	}
}

// TestHelpSwitch: "<cmdlet> -?" shows the cmdlet's help, as PowerShell does.
func TestHelpSwitch(t *testing.T) {
	a, _, _, err1 := run(t, "Get-Thing -?")
	b, _, _, err2 := run(t, "Get-Help Get-Thing")
	if err1 != nil || err2 != nil || a != b || !strings.Contains(a, "SYNTAX") {
		t.Errorf("%v %v\n%s", err1, err2, a)
	}
}
