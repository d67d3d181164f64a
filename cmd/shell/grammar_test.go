package shell

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestGrammar runs each construct of the grammar through parse → evaluate → Out-Default and
// compares the console text byte for byte.
func TestGrammar(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"statements on lines and with ;", "'a'\n'b'; 'c'", "a\nb\nc\n"},
		{"line comment", "'a' # not 'b'\n'c'", "a\nc\n"},
		{"@ inside a bare word", "Write-Output admin@contoso.test; Write-Output @(1,2).Count", "admin@contoso.test\n2\n"},
		{"block comment", "<# 'x'\n 'y' #> 'a'", "a\n"},
		{"backtick continuation", "Write-Output `\n  'a'", "a\n"},
		{"single quotes are literal", `$x = 1; '$x ''q'''`, "$x 'q'\n"},
		{"double quotes expand", `$name = "EX01"; "Server $name, ${name}!"`, "Server EX01, EX01!\n"},
		{"subexpression", `$c = Get-Thing "Relay EX02"; "$($c.Name) has $($c.RemoteIPRanges.Count) ranges"`, "Relay EX02 has 2 ranges\n"},
		{"member not expanded without $()", `$c = Get-Thing "Relay EX02"; "$c.Name"`, "EX02\\Relay EX02.Name\n"},
		{"backtick escapes", "\"a`tb`n`\"c`\"`$x\"", "a\tb\n\"c\"$x\n"},
		{"doubled double quote", `"say ""hi"""`, "say \"hi\"\n"},
		{"here-string", "$v = 'x'\n@\"\nline $v\n  two\n\"@\n@'\nraw $v\n'@", "line x\n  two\nraw $v\n"},
		{"booleans and null", `$true; $false; $null; "[$null]"`, "True\nFalse\n[]\n"},
		{"numbers and suffixes", `10MB; 1GB; 0x10; 1.5; 2KB + 1`, "10485760\n1073741824\n16\n1.5\n2049\n"},
		{"arithmetic", `1 + 2 * 3; (1 + 2) * 3; 7 / 2; 8 / 2; 7 % 3; -5 + 1`, "7\n9\n3.5\n4\n1\n-4\n"},
		{"string and array +", `"a" + 1; $a = 1,2; $a += 3; $a.Count; (@(1) + @(2,3)).Count`, "a1\n3\n3\n"},
		{"array literal and index", `$a = 'x','y','z'; $a[0]; $a[-1]; $a.Count; $a[5]`, "x\nz\n3\n"},
		{"@() makes an array", `@(Get-Thing "Relay EX02").Count; @().Count; @(1,2).Count`, "1\n0\n2\n"},
		{"hashtable literal", `$h = @{Add="10.0.0.7"; Remove="10.0.0.5"}; $h.Add; $h['Remove']; $h.Count`, "10.0.0.7\n10.0.0.5\n2\n"},
		{"variables from a command", `$c = Get-Thing -Server EX01; $c.Count; $c[1].Name; $c.Name`,
			"2\nDefault Frontend EX01\nDefault EX01\nDefault Frontend EX01\n"},
		{"$_ and $PSItem", `1,2 | ForEach-Object { $_ + 10 }; 3 | % { $PSItem * 2 }`, "11\n12\n6\n"},
		{"pipeline of three", `Get-Thing | Where-Object { $_.Enabled } | ForEach-Object { $_.Name }`, "Default EX01\nDefault Frontend EX01\n"},
		{"if elseif else", "$n = 5\nif ($n -gt 10) { 'big' } elseif ($n -gt 3) { 'medium' } else { 'small' }", "medium\n"},
		{"if false without else", "if ($false) { 'x' }\n'after'", "after\n"},
		{"foreach statement", "foreach ($t in Get-Thing) {\n  if ($t.Enabled -eq $false) { continue }\n  $t.Server\n}", "EX01\nEX01\n"},
		{"foreach break", "foreach ($i in 1..10) { if ($i -eq 3) { break }; $i }", "1\n2\n"},
		{"while", "$i = 0; while ($i -lt 3) { $i; $i = $i + 1 }", "0\n1\n2\n"},
		{"Where-Object simplified", `Get-Thing | Where-Object Enabled -eq $false | % Name`, "Relay EX02\n"},
		{"where alias and ?", `(Get-Thing | where Role -like 'front*').Count; (Get-Thing | ? { $_.Name -match 'ex0[12]$' }).Count`, "2\n3\n"},
		{"comparison operators", `1 -eq 1; 'A' -eq 'a'; 'A' -ceq 'a'; 2 -ne 3; 3 -ge 3; 2 -lt 10; '10' -gt 9; 'abc' -like 'A*'; 'abc' -notlike 'b*'`,
			"True\nTrue\nFalse\nTrue\nTrue\nTrue\nTrue\nTrue\nTrue\n"},
		{"match and Matches", `'EX01\Relay' -match '^(\w+)\\'; $Matches[1]; 'x' -notmatch 'y'`, "True\nEX01\nTrue\n"},
		{"contains and in", `$r = '10.0.0.5','10.0.0.6'; $r -contains '10.0.0.6'; $r -notcontains '1.1.1.1'; '10.0.0.5' -in $r; 'x' -notin $r`,
			"True\nTrue\nTrue\nTrue\n"},
		{"comparison filters arrays", `(1,2,3,2 -eq 2).Count; 1,5,9 -gt 4`, "2\n5\n9\n"},
		{"logical operators", `$true -and $false; $true -or $false; -not $true; !$false; (1 -lt 2) -and ('a' -eq 'A')`, "False\nTrue\nFalse\nTrue\nTrue\n"},
		{"replace split join", `'EX01\Relay' -replace '^EX01', 'EX02'; ('a,b,c' -split ',').Count; (1,2,3) -join '+'`, "EX02\\Relay\n3\n1+2+3\n"},
		{"script block value", `$sb = { $_.Name -eq 'Relay EX02' }; (Get-Thing | Where-Object $sb).Server`, "EX02\n"},
		{"methods", `'Relay'.ToUpper(); ' x '.Trim(); 'a.b'.Split('.')[1]; 'abc'.StartsWith('a'); 'abc'.Length`, "RELAY\nx\nb\nTrue\n3\n"},
		{"cast", `[int]'42' + 1; [string]5 + 5; ([pscustomobject]@{A=1}).A`, "43\n55\n1\n"},
		{"member assignment", `$c = Get-Thing "Relay EX02"; $c.Name = 'X'; $c.Name`, "X\n"},
		{"Select-Object property list", `Get-Thing | Select-Object Name, Enabled -First 2 | % { "$($_.Name)=$($_.Enabled)" }`,
			"Default EX01=True\nDefault Frontend EX01=True\n"},
		{"Select-Object -Last and -ExpandProperty", `Get-Thing | Select-Object -Last 1 -ExpandProperty RemoteIPRanges`, "10.0.0.5\n10.0.0.6\n"},
		{"Select-Object calculated", `(Get-Thing "Relay EX02" | Select-Object @{Name='Size';Expression={$_.MaxSize / 1MB}}).Size`, "10\n"},
		{"Sort-Object", `Get-Thing | Sort-Object MaxSize, Name | % Name; 3,1,2 | sort -Descending`,
			"Relay EX02\nDefault EX01\nDefault Frontend EX01\n3\n2\n1\n"},
		{"Measure-Object Count", `(Get-Thing | Measure-Object).Count; (Get-Thing | measure MaxSize -Sum).Sum`, "3\n83886080\n"},
		{"Out-String", `$s = Get-Thing "Relay EX02" | Select-Object Name | Out-String; $s.Length`, "36\n"},
		{"Write-Output and Write-Host", `Write-Output 'a' 'b'; Write-Host 'x' 'y'; Write-Host -NoNewline 'n'; Write-Host ''`, "a\nb\nx y\nn\n"},
		{"exit stops", "'a'\nexit\n'b'", "a\n"},
		{"ConvertTo-SecureString prints its type", `ConvertTo-SecureString -String 'P@ssw0rd' -AsPlainText -Force`, "System.Security.SecureString\n"},
		{"range", `(1..5).Count; 3..1`, "5\n3\n2\n1\n"},
		{"+= on a string", `$s = 'a'; $s += 'b'; $s`, "ab\n"},
		{"parenthesized assignment outputs", `($x = 3) + 1`, "4\n"},
		{"ErrorActionPreference variable", `$ErrorActionPreference = 'SilentlyContinue'; Get-Thing Nope; 'went on'`, "went on\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, _, err := run(t, tc.src)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, errOut)
			}
			if out != tc.want {
				t.Errorf("stdout:\n%q\nwant:\n%q\nstderr: %s", out, tc.want, errOut)
			}
		})
	}
}

// TestGrammarNoStatementOutput checks that assignments print nothing and that a statement's
// output is its value enumerated.
func TestGrammarNoStatementOutput(t *testing.T) {
	out, _, _, err := run(t, `$a = Get-Thing; $b = 1,2; $h = @{}`)
	if err != nil || out != "" {
		t.Fatalf("out %q err %v", out, err)
	}
	out, _, _, _ = run(t, `$b = 'x','y'; $b`)
	if out != "x\ny\n" {
		t.Fatalf("out %q", out)
	}
	if !strings.Contains(Prompt, `[PS] C:\Windows\system32>`) {
		t.Fatal(Prompt)
	}
}

// TestArgumentModeWords: in argument mode "[" starts a word, colons and slashes belong to it.
func TestArgumentModeWords(t *testing.T) {
	e := New()
	var got []string
	e.Register(&Cmdlet{Name: "Test-Words", Params: []Param{{Name: "W", Type: Strings, Position: 1}},
		Process: func(c *Call) error { got = c.Strings("W"); return nil }})
	if err := e.Run(context.Background(), `Test-Words [::]:25,0.0.0.0:587,10.0.0.0/24,EX01\Relay`, nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"[::]:25", "0.0.0.0:587", "10.0.0.0/24", `EX01\Relay`}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
	var out strings.Builder
	if err := e.Run(context.Background(), `[void](1 + 1); $null = 5; 'only'`, &out, nil); err != nil || out.String() != "only\n" {
		t.Errorf("void: %v %q", err, out.String())
	}
}

// TestStaticAndGroup covers [string]::, [math]:: and Group-Object.
func TestStaticAndGroup(t *testing.T) {
	out, errOut, _, err := run(t, `[string]::IsNullOrEmpty($null); [string]::Join(',', @('a','b')); [math]::Round(2.567, 1); [math]::Max(3, 7)
(Get-Thing | Group-Object Server | Sort-Object Count -Descending)[0].Name
Get-Thing | group Server`)
	if err != nil {
		t.Fatal(err, errOut)
	}
	want := "True\na,b\n2.6\n7\nEX01\n" +
		"\nCount Name                      Group                                          \n" +
		"----- ----                      -----                                          \n" +
		"    2 EX01                      {EX01\\Default EX01, EX01\\Default Frontend EX01}\n" +
		"    1 EX02                      {EX02\\Relay EX02}                              \n\n\n"
	if out != want {
		t.Errorf("got:\n%s\n%q\nwant:\n%q", out, out, want)
	}
}

// TestTryCatchAndFunctions: try/catch/finally around -ErrorAction Stop, and script functions
// with typed, defaulted and switch parameters, called with positional and named arguments.
func TestTryCatchAndFunctions(t *testing.T) {
	src := `
try {
    Get-Thing "Nope" -ErrorAction Stop
    'not reached'
}
catch [ManagementObjectNotFoundException] {
    Write-Host "caught: $($_.Exception.Message)"
}
finally { 'finally' }
try { throw "boom" } catch { "second: $_" }
try { 'fine' } finally { 'done' }

function Set-Size([string]$Name, [int]$MB = 5, [switch]$Preview) {
    if ($Preview) { return "would set $Name to $MB MB" }
    Set-Thing $Name -MaxSize ($MB * 1MB)
    "set $Name to $MB MB"
}
function Get-Names {
    [CmdletBinding()]
    param([Parameter(Mandatory=$true)][string]$Server)
    (Get-Thing -Server $Server).Name
}
Set-Size "Relay EX02" 7
Set-Size -Name "Default EX01" -Preview
Get-Names -Server EX01
Get-Names EX02 | ForEach-Object { $_.ToUpper() }
`
	out, errOut, s, err := run(t, src)
	if err != nil {
		t.Fatal(err, errOut)
	}
	want := "caught: The operation couldn't be performed because object 'Nope' couldn't be found on 'dc01.contoso.test'.\n" +
		"finally\nsecond: boom\nfine\ndone\n" +
		"set Relay EX02 to 7 MB\nwould set Default EX01 to 5 MB\nDefault EX01\nDefault Frontend EX01\nRELAY EX02\n"
	if out != want || errOut != "" {
		t.Errorf("got:\n%s\n%q\nwant:\n%q\nstderr: %s", out, out, want, errOut)
	}
	if s.things[2].MaxSize != 7<<20 || s.things[0].MaxSize != 36700160 {
		t.Errorf("sizes %d %d", s.things[2].MaxSize, s.things[0].MaxSize)
	}
	_, errOut, _, err = run(t, "try { Get-Thing x -ErrorAction Stop } catch [System.IO.IOException] { 'wrong' }")
	if err == nil || !strings.Contains(errOut, "ManagementObjectNotFoundException") {
		t.Errorf("an unmatched catch lets the error through: %v %q", err, errOut)
	}
}
