// Package shell is the PowerShell-subset engine of `exlab shell`: the lexer, parser and
// evaluator of the statements an Exchange admin types into the Exchange Management Shell, the
// parameter binder, Out-Default's table and list formatting as Windows PowerShell 5.1 prints
// it, PowerShell's error records, and the interactive prompt. It knows nothing of Exchange:
// the transport cmdlets (Get-ReceiveConnector …) are registered by the caller, and Identity
// matching is theirs. Its counterpart is the console host plus the System.Management.Automation
// runtime of a remote Exchange session.
//
// Grammar (about_Parsing, about_Operators): statements separated by newlines and ";"; "#" and
// "<# … #>" comments; backtick line continuation; commands with named (-Name value,
// -Name:value), switch (-Force, -Confirm:$false) and positional arguments, unambiguous
// parameter prefixes (-Bind for -Bindings) and the common parameters (-WhatIf, -Confirm,
// -ErrorAction, -Verbose, …); arrays (a,b and @(…)), hashtables (@{Add="x"; Remove="y"}),
// '…' and "…" strings with $var, $(…) and backtick escapes, here-strings; $true $false $null,
// numbers with KB/MB/GB/TB suffixes; variables with .Property, [index], .Count and a few
// methods; $_ / $PSItem; pipelines; { script blocks }; if/elseif/else, foreach, while, break,
// continue, exit, throw; the comparison operators (-eq -ne -gt -ge -lt -le -like -notlike
// -match -notmatch -contains -notcontains -in -notin, case-insensitive, with c/i variants),
// -and -or -xor -not !, -replace -split -join, + - * / % and casts ([int], [pscustomobject]).
//
// Built-in commands: Where-Object (?, where; script block or "Property -op Value"),
// ForEach-Object (%, foreach), Select-Object, Sort-Object, Measure-Object, Format-Table (ft),
// Format-List (fl), Out-String, Out-Null, Out-Host, Write-Host, Write-Output, Write-Warning,
// Write-Verbose, Get-Help, Get-Command, Get-History, ConvertTo-SecureString, Clear-Host.
//
// Using it:
//
//	e := shell.New()
//	e.ComputerName = "ex01.contoso.test" // errors print as a remote Exchange session's
//	e.Register(&shell.Cmdlet{
//		Name: "Get-Thing", Synopsis: "Gets things.",
//		Params: []shell.Param{{Name: "Identity", Type: shell.String, Position: 1, FromPipeline: true}},
//		View:   shell.TableOf("Name", "Enabled"),
//		Process: func(c *shell.Call) error {
//			c.Write(shell.NewObject("Thing", "Name", "a", "Enabled", true))
//			return nil
//		},
//	})
//	err := e.Run(ctx, `Get-Thing | fl`, os.Stdout, os.Stderr) // err: terminating *ErrorRecord or *ParseError
//
// A cmdlet writes objects with Call.Write, warnings with Call.WriteWarning ("WARNING: …"),
// non-terminating errors with Call.WriteError, asks Call.ShouldProcess(target, action) before
// a change (under -WhatIf that prints `What if: <action> "<target>".` and returns false), and
// returns an *ErrorRecord to stop the script. A parameter marked FromPipeline or
// FromPipelineByName makes Process run once per input object (ProcessRecord); without one,
// Process runs once with every input object in Call.Input.
//
// Output at the end of a pipeline is formatted by the object's View (or its cmdlet's), else by
// PowerShell's rule: up to four properties make a table, more a list. Tables size their
// columns to the data, pad every cell, right-align numbers and cut the rightmost columns to
// Engine.Width with "..." (PowerShell 5's TableWriter and ColumnWidthManager); lists pad
// names to the longest and wrap values under the value column (ListWriter); blank lines
// around both follow OutCommandInner. Collections show as {a, b} up to EnumerationLimit.
//
// Interactive runs the prompt `[PS] C:\Windows\system32>` with history and Tab completion
// (Complete) on a terminal, or reads lines plainly from a pipe.
package shell
