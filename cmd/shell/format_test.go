package shell

import (
	"context"
	"strings"
	"testing"
)

// TestFormat compares Out-Default, Format-Table and Format-List output with what Windows
// PowerShell 5.1 prints for the same objects: a blank line at format start, a table header
// with "-" underlines as long as the label, every cell padded to its column (also the last,
// as TableWriter.GenerateRowField pads), numbers right-aligned in generated tables, two blank
// lines at the end (group end, format end); a list opens with two blank lines, pads names to
// the longest, ends each entry with a blank line and closes with two more.
func TestFormat(t *testing.T) {
	tests := []struct {
		name  string
		width int
		src   string
		want  string
	}{
		{"pscustomobject with few properties is a table", 0,
			`[pscustomobject]@{Name='a';Value=1}`,
			"\nName Value\n---- -----\na        1\n\n\n"},
		{"many properties make a list", 0,
			`Get-Bag 2`,
			"\n\nId   : 1\nName : bag1\nSize : 1024\nTags : {a, b}\nNote : \n\nId   : 2\nName : bag2\nSize : 2048\nTags : {a, b}\nNote : \n\n\n\n"},
		{"a hashtable shows Name (30 wide) and Value", 0,
			`@{Add='10.0.0.7'; Remove=5}`,
			"\nName                           Value   \n----                           -----   \nAdd                            10.0.0.7\nRemove                         5       \n\n\n"},
		{"the cmdlet's view: a table, view columns align left", 0,
			`Get-Thing -Server EX02`,
			"\nIdentity        Enabled RemoteIPRanges      \n--------        ------- --------------      \nEX02\\Relay EX02 False   {10.0.0.5, 10.0.0.6}\n\n\n"},
		{"fl shows every property", 0,
			`Get-Thing "Relay EX02" | fl`,
			"\n\nIdentity       : EX02\\Relay EX02\nName           : Relay EX02\nServer         : EX02\nEnabled        : False\nMaxSize        : 10485760\nRole           : FrontendTransport\nRemoteIPRanges : {10.0.0.5, 10.0.0.6}\n\n\n\n"},
		{"fl with a property list and *", 0,
			`Get-Thing "Relay EX02" | Format-List Name,Ena*`,
			"\n\nName    : Relay EX02\nEnabled : False\n\n\n\n"},
		{"ft with properties: numbers right-aligned", 0,
			`Get-Thing | ft Name,MaxSize`,
			"\nName                  MaxSize \n----                  ------- \nDefault EX01          36700160\nDefault Frontend EX01 36700160\nRelay EX02            10485760\n\n\n"},
		{"ft calculated property", 0,
			`Get-Thing -Server EX02 | ft Name,@{Label='MB';Expression={$_.MaxSize / 1MB}}`,
			"\nName       MB\n----       --\nRelay EX02 10\n\n\n"},
		{"a column too narrow for ... is cut hard", 30,
			`[pscustomobject]@{Identity='EX01\Default Frontend EX01'; Bindings='0.0.0.0:25, [::]:25'}`,
			"\nIdentity                   Bin\n--------                   ---\nEX01\\Default Frontend EX01 0.0\n\n\n"},
		{"last column shrinks before it hides", 40,
			`[pscustomobject]@{A='aaaaaaaaaaaaaaaaaaaa'; B='bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'}`,
			"\nA                    B                  \n-                    -                  \naaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbb...\n\n\n"},
		{"a column that cannot keep one cell is hidden", 21,
			`[pscustomobject]@{A='aaaaaaaaaaaaaaaaaaaa'; B='bb'}`,
			"\nA                   \n-                   \naaaaaaaaaaaaaaaaaaaa\n\n\n"},
		{"collections up to $FormatEnumerationLimit", 0,
			`$FormatEnumerationLimit = 4; [pscustomobject]@{R=1..6}`,
			"\nR              \n-              \n{1, 2, 3, 4...}\n\n\n"},
		{"Exchange's limit of 16 by default", 0,
			`[pscustomobject]@{R=1..17} | fl`,
			"\n\nR : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16...}\n\n\n\n"},
		{"list values wrap under the value column", 20,
			`[pscustomobject]@{N='x';Name='abcdefghijklmnopqrstuvwxyz'} | fl`,
			"\n\nN    : x\nName : abcdefghijklm\n       nopqrstuvwxyz\n\n\n\n"},
		{"one table across statements of one type, strings out of band", 0,
			"Get-Thing -Server EX02 | Select-Object Name\n'note'\nGet-Thing 'Default EX01' | Select-Object Name",
			"\nName        \n----        \nRelay EX02  \nnote\nDefault EX01\n\n\n"},
		{"a new type starts a new table", 0,
			"[pscustomobject]@{A=1}\nGet-Thing -Server EX02 | Select-Object Name",
			"\nA\n-\n1\n\n\n\nName      \n----      \nRelay EX02\n\n\n"},
		{"Format-Table -AutoSize ignores fixed widths", 0,
			`Get-Command Get-Thing | ft -AutoSize`,
			"\nCommandType Name      Version Source\n----------- ----      ------- ------\nFunction    Get-Thing 1.0     exlab \n\n\n"},
		{"Get-Command's view widths", 0,
			`Get-Command Get-Thing`,
			"\nCommandType     Name                                               Version    Source\n-----------     ----                                               -------    ------\nFunction        Get-Thing                                          1.0        exlab \n\n\n"},
		{"Measure-Object is a list", 0,
			`Get-Thing | Measure-Object`,
			"\n\nCount    : 3\nAverage  : \nSum      : \nMaximum  : \nMinimum  : \nProperty : \n\n\n\n"},
		{"Out-String keeps the layout", 0,
			"$s = [pscustomobject]@{A=1} | Out-String; $s.Replace(\"`n\", '|')",
			"|A|-|1|||\n"},
		{"null and booleans in cells", 0,
			`[pscustomobject]@{A=$null;B=$true}`,
			"\nA B   \n- -   \n  True\n\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New()
			e.ComputerName = "ex01.contoso.test"
			if tc.width > 0 {
				e.Width = tc.width
			}
			newFakeStore().register(e)
			var o, x strings.Builder
			if err := e.Run(context.Background(), tc.src, &o, &x); err != nil {
				t.Fatalf("Run: %v\n%s", err, x.String())
			}
			if o.String() != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", o.String(), tc.want)
			}
		})
	}
}

// TestFitColumns checks ColumnWidthManager's rules on their own.
func TestFitColumns(t *testing.T) {
	tests := []struct {
		in    []int
		total int
		want  []int
	}{
		{[]int{5, 5}, 20, []int{5, 5}},
		{[]int{10, 25}, 30, []int{10, 19}},
		{[]int{20, 20}, 21, []int{20, -1}},
		{[]int{20, 0}, 30, []int{20, 9}},
		{[]int{0, 0}, 11, []int{5, 5}},
	}
	for _, tc := range tests {
		w := append([]int(nil), tc.in...)
		fitColumns(w, tc.total)
		for i := range w {
			if w[i] != tc.want[i] {
				t.Errorf("fitColumns(%v, %d) = %v, want %v", tc.in, tc.total, w, tc.want)
				break
			}
		}
	}
}

// TestRegisterView: a type's registered view applies to its objects from any cmdlet.
func TestRegisterView(t *testing.T) {
	e := New()
	e.RegisterView("Exlab.Test.Bag", TableOf("Name", "Size"))
	newFakeStore().register(e)
	var o strings.Builder
	if err := e.Run(context.Background(), "Get-Bag 2", &o, nil); err != nil {
		t.Fatal(err)
	}
	if want := "\nName Size\n---- ----\nbag1 1024\nbag2 2048\n\n\n"; o.String() != want {
		t.Errorf("got %q want %q", o.String(), want)
	}
}
