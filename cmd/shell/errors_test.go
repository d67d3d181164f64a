package shell

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestErrors checks each error's text as the console prints it: the engine's own errors in
// PowerShell 5's local form ("Cmd : message", "At line:L char:C", the "~" marker), the
// registered cmdlets' errors and the server-side conversion errors in the remote form with
// "+ PSComputerName", each ending with PowerShell's line holding one space.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		stop      bool // the error stops the script (terminating)
		want      string
	}{
		{"unknown command", "Get-Foo -Identity x", true,
			"Get-Foo : The term 'Get-Foo' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.\n" +
				"At line:1 char:1\n+ Get-Foo -Identity x\n+ ~~~~~~~\n" +
				"    + CategoryInfo          : ObjectNotFound: (Get-Foo:String) [], CommandNotFoundException\n" +
				"    + FullyQualifiedErrorId : CommandNotFoundException\n \n"},
		{"unknown parameter", "'x'\nSet-Thing 'Relay EX02' -Bogus 1", true,
			"Set-Thing : A parameter cannot be found that matches parameter name 'Bogus'.\n" +
				"At line:2 char:24\n+ Set-Thing 'Relay EX02' -Bogus 1\n+                        ~~~~~~\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [Set-Thing], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : NamedParameterNotFound,Set-Thing\n \n"},
		{"ambiguous prefix", "Set-Thing 'Relay EX02' -R x", true,
			"Set-Thing : Parameter cannot be processed because the parameter name 'R' is ambiguous. Possible matches include: -Role -RemoteIPRanges.\n" +
				"At line:1 char:24\n+ Set-Thing 'Relay EX02' -R x\n+                        ~~\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [Set-Thing], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : AmbiguousParameter,Set-Thing\n \n"},
		{"missing mandatory parameter", "New-Thing -Role HubTransport", true,
			"New-Thing : Cannot process command because of one or more missing mandatory parameters: Name.\n" +
				"At line:1 char:1\n+ New-Thing -Role HubTransport\n+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [New-Thing], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : MissingMandatoryParameter,New-Thing\n \n"},
		{"missing argument", "Set-Thing 'Relay EX02' -Enabled", true,
			"Set-Thing : Missing an argument for parameter 'Enabled'. Specify a parameter of type 'System.Boolean' and try again.\n" +
				"At line:1 char:24\n+ Set-Thing 'Relay EX02' -Enabled\n+                        ~~~~~~~~\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [Set-Thing], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : MissingArgument,Set-Thing\n \n"},
		{"extra positional argument", "Get-Thing a b", true,
			"Get-Thing : A positional parameter cannot be found that accepts argument 'b'.\n" +
				"At line:1 char:13\n+ Get-Thing a b\n+             ~\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [Get-Thing], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : PositionalParameterNotFound,Get-Thing\n \n"},
		{"parameter set conflict", "Get-Thing -Identity x -Server EX01", true,
			"Get-Thing : Parameter set cannot be resolved using the specified named parameters.\n" +
				"At line:1 char:1\n+ Get-Thing -Identity x -Server EX01\n+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [Get-Thing], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : AmbiguousParameterSet,Get-Thing\n \n"},
		{"bad bool value (server side)", "Set-Thing 'Relay EX02' -Enabled yes", true,
			"Cannot process argument transformation on parameter 'Enabled'. Cannot convert value \"System.String\" to type \"System.Boolean\". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.\n" +
				"    + CategoryInfo          : InvalidData: (:) [Set-Thing], ParameterBindin...mationException\n" +
				"    + FullyQualifiedErrorId : ParameterArgumentTransformationError,Exlab.Test.SetThing\n" +
				"    + PSComputerName        : ex01.contoso.test\n \n"},
		{"bad int value", "Set-Thing 'Relay EX02' -MaxSize lots", true,
			"Cannot process argument transformation on parameter 'MaxSize'. Cannot convert value \"lots\" to type \"ByteQuantifiedSize\". Error: \"Input string was not in a correct format.\"\n" +
				"    + CategoryInfo          : InvalidData: (:) [Set-Thing], ParameterBindin...mationException\n" +
				"    + FullyQualifiedErrorId : ParameterArgumentTransformationError,Exlab.Test.SetThing\n" +
				"    + PSComputerName        : ex01.contoso.test\n \n"},
		{"bad enum value", "Set-Thing 'Relay EX02' -Role Edge", true,
			"Cannot bind parameter 'Role'. Cannot convert value \"Edge\" to type \"Exlab.Test.Role\". Error: \"Unable to match the identifier name Edge to a valid enumerator name. Specify one of the following enumerator names and try again:\nFrontendTransport, HubTransport\"\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [Set-Thing], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : CannotConvertArgumentNoMessage,Exlab.Test.SetThing\n" +
				"    + PSComputerName        : ex01.contoso.test\n \n"},
		{"plain string for a SecureString", "New-Thing X -Password 'P@ssw0rd'", true,
			"Cannot process argument transformation on parameter 'Password'. Cannot convert the \"P@ssw0rd\" value of type \"System.String\" to type \"System.Security.SecureString\".\n" +
				"    + CategoryInfo          : InvalidData: (:) [New-Thing], ParameterBindin...mationException\n" +
				"    + FullyQualifiedErrorId : ParameterArgumentTransformationError,Exlab.Test.NewThing\n" +
				"    + PSComputerName        : ex01.contoso.test\n \n"},
		{"unknown identity is non-terminating", "Get-Thing Foo", false,
			"The operation couldn't be performed because object 'Foo' couldn't be found on 'dc01.contoso.test'.\n" +
				"    + CategoryInfo          : NotSpecified: (:) [Get-Thing], ManagementObjectNotFoundException\n" +
				"    + FullyQualifiedErrorId : [Server=EX01,RequestId=00000000-0000-0000-0000-000000000000,TimeStamp=1/1/2026 12:00:00 AM] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] 6A5B3A1E,Exlab.Test.GetThing\n" +
				"    + PSComputerName        : ex01.contoso.test\n \n"},
		{"-ErrorAction Stop makes it terminating", "Get-Thing Foo -ErrorAction Stop", true,
			"The operation couldn't be performed because object 'Foo' couldn't be found on 'dc01.contoso.test'.\n" +
				"    + CategoryInfo          : NotSpecified: (:) [Get-Thing], ManagementObjectNotFoundException\n" +
				"    + FullyQualifiedErrorId : [Server=EX01,RequestId=00000000-0000-0000-0000-000000000000,TimeStamp=1/1/2026 12:00:00 AM] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] 6A5B3A1E,Exlab.Test.GetThing\n" +
				"    + PSComputerName        : ex01.contoso.test\n \n"},
		{"a cmdlet's returned error is terminating", "New-Thing 'Default EX01' -Role HubTransport", true,
			"A thing with the name \"Default EX01\" already exists.\n" +
				"    + CategoryInfo          : InvalidOperation: (:) [New-Thing], ThingExistsException\n" +
				"    + FullyQualifiedErrorId : [Server=EX01] 1A2B3C4D,Exlab.Test.NewThing\n" +
				"    + PSComputerName        : ex01.contoso.test\n \n"},
		{"input not bound", "1 | Get-ByName", false,
			"Get-ByName : The input object cannot be bound to any parameters for the command either because the command does not take pipeline input or the input and its properties do not match any of the parameters that take pipeline input.\n" +
				"At line:1 char:5\n+ 1 | Get-ByName\n+     ~~~~~~~~~~\n" +
				"    + CategoryInfo          : InvalidArgument: (1:Int32) [Get-ByName], ParameterBindingException\n" +
				"    + FullyQualifiedErrorId : InputObjectNotBound,Get-ByName\n \n"},
		{"throw", "throw \"boom\"", true,
			"boom\nAt line:1 char:1\n+ throw \"boom\"\n+ ~~~~~~~~~~~~\n" +
				"    + CategoryInfo          : OperationStopped: (boom:String) [], RuntimeException\n" +
				"    + FullyQualifiedErrorId : boom\n \n"},
		{"method not found", "$s = 'x'; $s.Frobnicate()", true,
			"Method invocation failed because [System.String] does not contain a method named 'Frobnicate'.\n" +
				"At line:1 char:11\n+ $s = 'x'; $s.Frobnicate()\n+           ~~~~~~~~~~~~~~~\n" +
				"    + CategoryInfo          : InvalidOperation: (:) [], RuntimeException\n" +
				"    + FullyQualifiedErrorId : MethodNotFound\n \n"},
		{"ConvertTo-SecureString without -Force", "ConvertTo-SecureString 'x' -AsPlainText", true,
			"ConvertTo-SecureString : The system cannot protect plain text input. To suppress this warning and convert the plain text to a SecureString, reissue the command specifying the Force parameter. For more information ,type: get-help ConvertTo-SecureString.\n" +
				"At line:1 char:1\n+ ConvertTo-SecureString 'x' -AsPlainText\n+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n" +
				"    + CategoryInfo          : InvalidArgument: (:) [ConvertTo-SecureString], ArgumentException\n" +
				"    + FullyQualifiedErrorId : ImportSecureString_InvalidArgument,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand\n \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, _, err := run(t, tc.src+"\n'after'")
			if errOut != tc.want {
				t.Errorf("stderr:\n%s\n%q\nwant:\n%q", errOut, errOut, tc.want)
			}
			var rec *ErrorRecord
			if tc.stop {
				if !errors.As(err, &rec) || !rec.Terminating {
					t.Errorf("Run returned %v, want a terminating *ErrorRecord", err)
				}
			} else if err != nil {
				t.Errorf("Run returned %v, want nil (non-terminating)", err)
			}
		})
	}
}

// TestErrorsStopOrContinue: a non-terminating error lets the script go on, a terminating one
// stops it before the next statement.
func TestErrorsStopOrContinue(t *testing.T) {
	out, _, _, err := run(t, "Get-Thing Foo\n'after'")
	if err != nil || out != "after\n" {
		t.Errorf("non-terminating: out %q err %v", out, err)
	}
	out, _, _, err = run(t, "Get-Thing Foo -ErrorAction Stop\n'after'")
	if err == nil || out != "" {
		t.Errorf("terminating: out %q err %v", out, err)
	}
	out, _, _, err = run(t, "'before'\nSet-Thing 'Relay EX02' -Nope 1\n'after'")
	if err == nil || out != "before\n" {
		t.Errorf("binding error: out %q err %v", out, err)
	}
	_, _, _, err = run(t, "exit 3")
	var x *ExitError
	if !errors.As(err, &x) || x.Code != 3 {
		t.Errorf("exit 3: %v", err)
	}
	out, _, _, _ = run(t, "Get-Thing Foo; Get-Thing Bar; $Error.Count; $Error[0].Exception.Message")
	if !strings.HasPrefix(out, "2\nThe operation couldn't be performed because object 'Bar'") {
		t.Errorf("$Error: %q", out)
	}
}

// TestParseErrors checks the parser's messages, ids and position markers; nothing runs when
// the script does not parse.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		src, id, want string
	}{
		{"'first'\nif ($true) {\n  'x'\n", "MissingEndCurlyBrace",
			"At line:2 char:12\n+ if ($true) {\n+            ~\nMissing closing '}' in statement block or type definition.\n" +
				"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
				"    + FullyQualifiedErrorId : MissingEndCurlyBrace\n \n"},
		{"'first'; \"abc", "TerminatorExpectedAtEndOfString",
			"At line:1 char:10\n+ 'first'; \"abc\n+          ~~~~\nThe string is missing the terminator: \".\n" +
				"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
				"    + FullyQualifiedErrorId : TerminatorExpectedAtEndOfString\n \n"},
		{"$x = (1 + 2", "MissingEndParenthesisInExpression",
			"At line:1 char:12\n+ $x = (1 + 2\n+            ~\nMissing closing ')' in expression.\n" +
				"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
				"    + FullyQualifiedErrorId : MissingEndParenthesisInExpression\n \n"},
		{"Get-Thing | | Get-Input", "EmptyPipeElement",
			"At line:1 char:13\n+ Get-Thing | | Get-Input\n+             ~\nAn empty pipe element is not allowed.\n" +
				"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
				"    + FullyQualifiedErrorId : EmptyPipeElement\n \n"},
		{"1 -eq", "ExpectedValueExpression",
			"At line:1 char:6\n+ 1 -eq\n+      ~\nYou must provide a value expression following the '-eq' operator.\n" +
				"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
				"    + FullyQualifiedErrorId : ExpectedValueExpression\n \n"},
		{"'a' 'b'", "UnexpectedToken",
			"At line:1 char:5\n+ 'a' 'b'\n+     ~~~\nUnexpected token ''b'' in expression or statement.\n" +
				"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
				"    + FullyQualifiedErrorId : UnexpectedToken\n \n"},
		{"Get-Thing | 'x'", "ExpressionsMustBeFirstInPipeline",
			"At line:1 char:13\n+ Get-Thing | 'x'\n+             ~~~\nExpressions are only allowed as the first element of a pipeline.\n" +
				"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
				"    + FullyQualifiedErrorId : ExpressionsMustBeFirstInPipeline\n \n"},
	}
	for _, tc := range tests {
		out, errOut, _, err := run(t, tc.src)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.ID != tc.id {
			t.Errorf("%q: err %v, want ParseError %s", tc.src, err, tc.id)
			continue
		}
		if out != "" {
			t.Errorf("%q: ran before parsing: %q", tc.src, out)
		}
		if errOut != tc.want {
			t.Errorf("%q:\n%s\n%q\nwant:\n%q", tc.src, errOut, errOut, tc.want)
		}
	}
}

func TestRemoteErrorID(t *testing.T) {
	got := RemoteErrorID("EX01", "1de8b7c3-d60f-4f02-8b83-2ca96b52491c", time.Date(2015, 12, 17, 9, 17, 9, 0, time.UTC),
		"ManagementObjectNotFoundException", "4B953CE")
	want := "[Server=EX01,RequestId=1de8b7c3-d60f-4f02-8b83-2ca96b52491c,TimeStamp=12/17/2015 9:17:09 AM] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] 4B953CE"
	if got != want {
		t.Errorf("got %q want %q", got, want)
	}
}
