package shell

import (
	"reflect"
	"testing"
)

// adminScript is written the way an Exchange admin writes a maintenance script: variables,
// a here-string, foreach and if, Where-Object in both forms, pipelines into Set-, a
// hashtable edit of a multi-valued property, -WhatIf, -ErrorAction, fl and ft.
const adminScript = `<#
  Relay connector maintenance for EX02 (runs in the Exchange Management Shell).
#>
$server   = "EX02"
$newRange = "10.0.0.7"
$old      = '10.0.0.5'
$maxSize  = 25MB

# what is there now
$connectors = Get-Thing -Server $server
Write-Host "Found $($connectors.Count) connector(s) on $server"

foreach ($c in $connectors) {
    if ($c.RemoteIPRanges -contains $old) {
        Write-Host "$($c.Name): replacing $old with $newRange"
        Set-Thing $c.Identity -RemoteIPRanges @{Add=$newRange; Remove=$old}
    }
    elseif ($c.Enabled -eq $false) {
        Write-Host "$($c.Name) is disabled"
    }
    else {
        Write-Host "$($c.Name) needs no change"
    }
}

# enable the disabled ones and raise the size limit, one pipeline
Get-Thing | Where-Object { -not $_.Enabled } |
    Set-Thing -Enabled $true -MaxSize $maxSize

# a dry run first, then the real thing
Get-Thing -Server EX01 | ? Role -eq 'HubTransport' | Set-Thing -MaxSize 50MB -WhatIf
$hub = Get-Thing | Where-Object Role -eq "HubTransport"
$hub | Set-Thing -MaxSize 50MB

# a typo does not stop the script
Get-Thing "Relay EX03" -ErrorAction SilentlyContinue
if (-not $?) { Write-Host "Relay EX03 is not there ($($Error[0].Exception.Message.Length) chars of error)" }

$report = Get-Thing | Sort-Object Name -Descending |
    Select-Object Name, Enabled, @{Name="MB"; Expression={ $_.MaxSize / 1MB }}
$report | ft -AutoSize
Get-Thing "Relay EX02" | fl Identity,RemoteIPRanges,MaxSize
"{0} connectors, {1} enabled" -f $report.Count, @($report | ? Enabled).Count
($report.Name -join ', ') -replace 'EX0(\d)', 'ex0$1'
$ok = $?; "last statement ok: $ok"
`

// TestAdminScript runs the script against the fake cmdlets and checks the console and the
// store.
func TestAdminScript(t *testing.T) {
	out, errOut, s, err := run(t, adminScript)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr: %q", errOut)
	}
	want := "Found 1 connector(s) on EX02\n" +
		"Relay EX02: replacing 10.0.0.5 with 10.0.0.7\n" +
		"What if: Configuring thing \"EX01\\Default EX01\".\n" +
		"Relay EX03 is not there (105 chars of error)\n" +
		"\nName                  Enabled MB\n" +
		"----                  ------- --\n" +
		"Relay EX02            True    25\n" +
		"Default Frontend EX01 True    35\n" +
		"Default EX01          True    50\n\n\n" +
		"\n\nIdentity       : EX02\\Relay EX02\n" +
		"RemoteIPRanges : {10.0.0.6, 10.0.0.7}\n" +
		"MaxSize        : 26214400\n\n\n\n" +
		"3 connectors, 3 enabled\n" +
		"Relay ex02, Default Frontend ex01, Default ex01\n" +
		"last statement ok: True\n"
	if out != want {
		t.Errorf("console:\n%s\n%q\nwant:\n%q", out, out, want)
	}
	if !reflect.DeepEqual(s.things[2].Ranges, []string{"10.0.0.6", "10.0.0.7"}) || !s.things[2].Enabled || s.things[2].MaxSize != 25<<20 {
		t.Errorf("relay: %+v", s.things[2])
	}
	if s.things[0].MaxSize != 50<<20 || s.things[1].MaxSize != 36700160 {
		t.Errorf("sizes: %d %d", s.things[0].MaxSize, s.things[1].MaxSize)
	}
	wantLog := []string{`set EX02\Relay EX02`, `set EX02\Relay EX02`, `set EX01\Default EX01`}
	if !reflect.DeepEqual(s.log, wantLog) {
		t.Errorf("log %v, want %v", s.log, wantLog)
	}
}
