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
// methods; $_ / $PSItem, $?, $Error, $Matches; pipelines; { script blocks }; splatting
// (@params); if/elseif/else, foreach, while, break, continue, exit, throw, try/catch/finally;
// script functions (function Name($a) { … }, param() blocks, [Parameter(Mandatory)]);
// the comparison operators (-eq -ne -gt -ge -lt -le -like -notlike
// -match -notmatch -contains -notcontains -in -notin, case-insensitive, with c/i variants),
// -and -or -xor -not !, -replace -split -join -f, + - * / %, .. and casts ([int], [string],
// [datetime], [pscustomobject], [void]).
//
// Built-in commands: Where-Object (?, where; script block or "Property -op Value"),
// ForEach-Object (%, foreach), Select-Object, Sort-Object, Group-Object, Measure-Object,
// Format-Table (ft, table), Format-List (fl, list), Out-String, Out-Null, Out-Host, Write-Host,
// Write-Output, Write-Warning, Write-Verbose, Get-Help (and "<cmdlet> -?"), Get-Command,
// Get-History, Get-Date, ConvertTo-SecureString, Clear-Host; the static members [string]::,
// [math]:: and [datetime]:: that scripts use.
//
// Parameters (Param.Type): String, Int (10MB too), Bool ($true/$false), Switch, Strings,
// MultiValued (a list, or @{Add=…; Remove=…}: Call.Multi, MultiValue.Apply), SecureValue
// (ConvertTo-SecureString … -AsPlainText -Force: Call.Secure), ObjectValue (an Identity object
// or string from the pipeline), Enum (Param.Values), Script, DateTime, Any. Position is 1-based
// (Named = 0); Set groups parameters into parameter sets; a missing Mandatory parameter is
// asked for in Interactive mode ("Supply values for the following parameters:") and is
// PowerShell's MissingMandatoryParameter error in Run.
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
// Views: Cmdlet.View for what one cmdlet writes, Engine.RegisterView for a type, Object.View
// for one object; TableOf and ListOf build them.
//
// Errors: Run prints every error and returns the one that stopped the script (nil when the
// script ran to its end): a *ParseError, a terminating *ErrorRecord, or *ExitError for exit N.
// With Engine.ComputerName set, the errors of registered cmdlets print as a remote Exchange
// session prints them (no position, "+ PSComputerName"); the engine's own errors print in
// PowerShell 5's local form with "At line:L char:C" and the "~" marker.
//
// Confirmation: -Confirm, or a HighImpact cmdlet without -Confirm:$false, asks
// "Are you sure you want to perform this action?" in Interactive mode; Run has no one to ask
// and goes ahead, as scripts written for Exchange pass -Confirm:$false anyway.
//
// Interactive runs the prompt `[PS] C:\Windows\system32>` with history and Tab completion
// (Complete) on a terminal (github.com/chzyer/readline), or reads lines plainly from a pipe.
package shell
