package shell

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestInteractivePipe drives the prompt through a pipe: output after each line, a statement
// over several lines with the ">> " prompt, Get-History, the confirmation of a HighImpact
// cmdlet answered from the input, exit, and the history file.
func TestInteractivePipe(t *testing.T) {
	e := New()
	e.ComputerName = "ex01.contoso.test"
	s := newFakeStore()
	s.register(e)
	hist := filepath.Join(t.TempDir(), "history.txt")
	if err := os.WriteFile(hist, []byte("Get-Thing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := strings.NewReader("Get-Thing -Server EX02 | Select-Object Name\n" +
		"$x = 5\n" +
		"\n" +
		"if ($x -gt 1) {\n" +
		"  'big'\n" +
		"}\n" +
		"Get-Foo\n" +
		"Get-History\n" +
		"Remove-Thing 'Relay EX02'\n" +
		"y\n" +
		"exit\n" +
		"'never'\n")
	var out strings.Builder
	if err := e.Interactive(context.Background(), in, &out, hist); err != nil {
		t.Fatal(err)
	}
	p := Prompt
	want := p + "\nName      \n----      \nRelay EX02\n\n\n" +
		p + // $x = 5
		p + // empty line
		p + ">> " + ">> " + "big\n" +
		p + "Get-Foo : The term 'Get-Foo' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.\n" +
		"At line:1 char:1\n+ Get-Foo\n+ ~~~~~~~\n" +
		"    + CategoryInfo          : ObjectNotFound: (Get-Foo:String) [], CommandNotFoundException\n" +
		"    + FullyQualifiedErrorId : CommandNotFoundException\n \n" +
		p + "\n  Id CommandLine                                \n  -- -----------                                \n" +
		"   1 Get-Thing -Server EX02 | Select-Object Name\n" +
		"   2 $x = 5                                     \n" +
		"   3 if ($x -gt 1) {...                         \n" +
		"   4 Get-Foo                                    \n\n\n" +
		p + "\nConfirm\nAre you sure you want to perform this action?\nRemoving thing \"EX02\\Relay EX02\".\n" +
		"[Y] Yes  [A] Yes to All  [N] No  [L] No to All  [?] Help (default is \"Y\"): " +
		p
	if out.String() != want {
		t.Errorf("console:\n%s\n%q\nwant:\n%q", out.String(), out.String(), want)
	}
	if len(s.things) != 2 {
		t.Errorf("Remove-Thing confirmed with y did not remove: %d things", len(s.things))
	}
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	wantHist := "Get-Thing\nGet-Thing -Server EX02 | Select-Object Name\n$x = 5\nif ($x -gt 1) {   'big' }\nGet-Foo\nGet-History\nRemove-Thing 'Relay EX02'\nexit\n"
	if string(b) != wantHist {
		t.Errorf("history file:\n%q\nwant:\n%q", b, wantHist)
	}
	if h := e.History(); len(h) != 7 || h[6] != "exit" {
		t.Errorf("History() = %q", h)
	}
}

// TestInteractiveConfirmNo: answering N leaves the object alone; EOF ends the loop.
func TestInteractiveConfirmNo(t *testing.T) {
	e := New()
	s := newFakeStore()
	s.register(e)
	var out strings.Builder
	if err := e.Interactive(context.Background(), strings.NewReader("Remove-Thing 'Relay EX02'\nn\n"), &out, ""); err != nil {
		t.Fatal(err)
	}
	if len(s.things) != 3 {
		t.Errorf("removed after N")
	}
	if !strings.HasSuffix(out.String(), "(default is \"Y\"): "+Prompt) {
		t.Errorf("%q", out.String())
	}
}

// TestComplete checks Tab completion of cmdlet, parameter and variable names.
func TestComplete(t *testing.T) {
	e := New()
	newFakeStore().register(e)
	e.SetVariable("conn", 1)
	tests := []struct {
		line string
		want []string
	}{
		{"Get-Th", []string{"Get-Thing"}},
		{"get-th", []string{"Get-Thing"}},
		{"Get-Thing | Set-", []string{"Set-Thing"}},
		{"Get-Thing | Set-Thing -Ena", []string{"-Enabled"}},
		{"Set-Thing x -R", []string{"-Role", "-RemoteIPRanges"}},
		{"Set-Thing x -Wh", []string{"-WhatIf"}},
		{"Get-Thing -Err", []string{"-ErrorAction", "-ErrorVariable"}},
		{"$co", []string{"$conn"}},
		{"Get-Thing $c", []string{"$conn"}},
		{"Get-Thing Def", nil},
		{"Nope-Thing -X", nil},
		{"(Get-Com", []string{"Get-Command"}},
	}
	for _, tc := range tests {
		if got := e.Complete(tc.line, len(tc.line)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Complete(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	cands, n := completer{e}.Do([]rune("Get-Thing | Set-Thing -Ena"), len("Get-Thing | Set-Thing -Ena"))
	if n != 4 || len(cands) != 1 || string(cands[0]) != "bled" {
		t.Errorf("readline adapter: %q %d", cands, n)
	}
}

// TestInteractiveConfirmToAll: "A" answers every object of the pipeline, "L" refuses them all.
func TestInteractiveConfirmToAll(t *testing.T) {
	for _, tc := range []struct {
		answer string
		left   int
	}{{"a", 0}, {"l", 3}, {"y\nn\ny", 1}} {
		e := New()
		s := newFakeStore()
		s.register(e)
		var out strings.Builder
		in := "Get-Thing | Remove-Thing\n" + tc.answer + "\n"
		if err := e.Interactive(context.Background(), strings.NewReader(in), &out, ""); err != nil {
			t.Fatal(err)
		}
		if len(s.things) != tc.left {
			t.Errorf("answer %q: %d things left, want %d", tc.answer, len(s.things), tc.left)
		}
	}
}

// TestInteractiveMandatoryPrompt: in the interactive shell a missing mandatory parameter is
// asked for, as the console host does; an empty answer is PowerShell's binding error.
func TestInteractiveMandatoryPrompt(t *testing.T) {
	e := New()
	e.ComputerName = "ex01.contoso.test"
	s := newFakeStore()
	s.register(e)
	var out strings.Builder
	in := "New-Thing -Role HubTransport\nLab\nSet-Thing -Enabled $false\n\n"
	if err := e.Interactive(context.Background(), strings.NewReader(in), &out, ""); err != nil {
		t.Fatal(err)
	}
	if len(s.things) != 4 || s.things[3].Name != "Lab" {
		t.Fatalf("New-Thing with prompted Name: %d things", len(s.things))
	}
	want := Prompt + "cmdlet New-Thing at command pipeline position 1\nSupply values for the following parameters:\nName: " +
		"\n\nIdentity       : EX01\\Lab\nName           : Lab\nServer         : EX01\nEnabled        : True\nMaxSize        : 0\nRole           : HubTransport\nRemoteIPRanges : {}\n\n\n\n" +
		Prompt + "cmdlet Set-Thing at command pipeline position 1\nSupply values for the following parameters:\nIdentity: " +
		"Cannot bind argument to parameter 'Identity' because it is an empty string.\n" +
		"    + CategoryInfo          : InvalidData: (:) [Set-Thing], ParameterBindingValidationException\n" +
		"    + FullyQualifiedErrorId : ParameterArgumentValidationErrorEmptyStringNotAllowed,Exlab.Test.SetThing\n" +
		"    + PSComputerName        : ex01.contoso.test\n \n" + Prompt
	if out.String() != want {
		t.Errorf("console:\n%s\n%q\nwant:\n%q", out.String(), out.String(), want)
	}
}
