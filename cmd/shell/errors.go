package shell

import (
	"fmt"
	"strings"
	"time"
)

// Category is PowerShell's ErrorCategory, the first word of "+ CategoryInfo".
type Category string

// The categories exlab's cmdlets and the engine use (System.Management.Automation.ErrorCategory).
const (
	NotSpecified      Category = "NotSpecified"
	ObjectNotFound    Category = "ObjectNotFound"
	InvalidArgument   Category = "InvalidArgument"
	InvalidData       Category = "InvalidData"
	InvalidOperation  Category = "InvalidOperation"
	InvalidType       Category = "InvalidType"
	ResourceExists    Category = "ResourceExists"
	ResourceUnavail   Category = "ResourceUnavailable"
	PermissionDenied  Category = "PermissionDenied"
	WriteErrorCat     Category = "WriteError"
	ReadErrorCat      Category = "ReadError"
	OperationStopped  Category = "OperationStopped"
	ParserErrorCat    Category = "ParserError"
	ConnectionError   Category = "ConnectionError"
	OperationTimeout  Category = "OperationTimeout"
	DeviceError       Category = "DeviceError"
	NotImplementedCat Category = "NotImplemented"
)

// ErrorRecord is PowerShell's ErrorRecord as a remote Exchange session prints it:
//
//	The operation couldn't be performed because object 'Foo' couldn't be found on 'ex01.contoso.test'.
//	    + CategoryInfo          : NotSpecified: (:) [Get-ReceiveConnector], ManagementObjectNotFoundException
//	    + FullyQualifiedErrorId : [Server=EX01,RequestId=…,TimeStamp=…] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] 6A5B3A1E,Microsoft.Exchange.Management.SystemConfigurationTasks.GetReceiveConnector
//	    + PSComputerName        : ex01.contoso.test
//
// (layout from a published EMS transcript: "The operation couldn't be performed because object
// '\Default Offline Address Book' couldn't be found on …" with the same three "+" lines,
// https://dating.chatafrika.com/jdownloads/test_igbina_.zip:PowerShell_transcript.20151217091222.txt),
// or, for an error raised in the local session (parser, binder, unknown command), as
// Windows PowerShell 5.1 prints it: "Cmd : message", "At line:L char:C", the source line with
// "~" under the culprit, then the CategoryInfo and FullyQualifiedErrorId lines (compare the
// New-ReceiveConnector errors quoted in github.com/Apoc70/Copy-ReceiveConnector issue 4).
//
// A cmdlet returns one from Process to stop the script (terminating), or hands it to
// Call.WriteError to report and go on (non-terminating).
type ErrorRecord struct {
	// Message is the exception's message, the first line.
	Message string
	// Category is CategoryInfo's category.
	Category Category
	// Reason is the exception's type name, e.g. ManagementObjectNotFoundException.
	Reason string
	// Activity is the command shown in [ ]; the engine fills the cmdlet's name when empty.
	Activity string
	// TargetName and TargetType fill "(name:type)" of CategoryInfo.
	TargetName, TargetType string
	// ErrorID is the FullyQualifiedErrorId before its comma (Exchange's "[Server=…] […] HASH"
	// or PowerShell's NamedParameterNotFound).
	ErrorID string
	// Source is the FullyQualifiedErrorId after its comma: the command's class or name. The
	// engine fills it for a cmdlet's errors (Cmdlet.ClassName, else its name) when empty.
	Source string
	// ComputerName, when set, prints the record as a remote session does (no position, a
	// PSComputerName line). The engine sets it from Engine.ComputerName for registered cmdlets.
	ComputerName string
	// Terminating is set by the engine when the record stopped the script.
	Terminating bool

	cmdName string // "Get-Foo : " prefix of a local record
	ext     *extent
}

// RemoteErrorID is the head of the FullyQualifiedErrorId an Exchange server puts on its
// cmdlets' errors: "[Server=EX01,RequestId=<guid>,TimeStamp=<time>] [FailureCategory=Cmdlet-
// <Reason>] <hash>" (as in the published EMS transcript cited on ErrorRecord). The time is
// written as an en-US server writes it (M/d/yyyy h:mm:ss tt); hash is Exchange's eight
// hexadecimal digits identifying the failure.
func RemoteErrorID(server, requestID string, ts time.Time, reason, hash string) string {
	return fmt.Sprintf("[Server=%s,RequestId=%s,TimeStamp=%s] [FailureCategory=Cmdlet-%s] %s",
		server, requestID, ts.Format("1/2/2006 3:04:05 PM"), reason, hash)
}

// NewError is a shorthand for a record with a message, category, reason and error id.
func NewError(cat Category, reason, errorID, format string, args ...any) *ErrorRecord {
	return &ErrorRecord{Message: fmt.Sprintf(format, args...), Category: cat, Reason: reason, ErrorID: errorID}
}

func (e *ErrorRecord) Error() string { return e.Message }

// FullyQualifiedErrorID is ErrorID[,Source].
func (e *ErrorRecord) FullyQualifiedErrorID() string {
	if e.Source == "" {
		return e.ErrorID
	}
	return e.ErrorID + "," + e.Source
}

// ellipsize is ErrorCategoryInfo's shortening of a field longer than 40 characters: the
// first 15, "...", the last 15 ("ParameterBindin...mationException" in real captures).
func ellipsize(s string) string {
	r := []rune(s)
	if len(r) <= 40 {
		return s
	}
	return string(r[:15]) + "..." + string(r[len(r)-15:])
}

// CategoryInfo is the text after "+ CategoryInfo          : ".
func (e *ErrorRecord) CategoryInfo() string {
	cat := e.Category
	if cat == "" {
		cat = NotSpecified
	}
	return fmt.Sprintf("%s: (%s:%s) [%s], %s", cat, ellipsize(e.TargetName), ellipsize(e.TargetType),
		ellipsize(e.Activity), ellipsize(e.Reason))
}

// Format renders the record as the console shows it, ending with PowerShell's line holding one
// space.
func (e *ErrorRecord) Format() string {
	var b strings.Builder
	if e.ComputerName == "" && e.cmdName != "" {
		b.WriteString(e.cmdName + " : ")
	}
	b.WriteString(e.Message + "\n")
	if e.ComputerName == "" && e.ext != nil {
		b.WriteString(e.ext.marker())
	}
	b.WriteString("    + CategoryInfo          : " + e.CategoryInfo() + "\n")
	b.WriteString("    + FullyQualifiedErrorId : " + e.FullyQualifiedErrorID() + "\n")
	if e.ComputerName != "" {
		b.WriteString("    + PSComputerName        : " + e.ComputerName + "\n")
	}
	b.WriteString(" \n")
	return b.String()
}

// extent is a span of the script, for "At line:… char:…" and the "~" marker.
type extent struct {
	src        []rune
	start, end int // rune offsets, end exclusive
}

func (x *extent) lineCol() (line, col int, text string, width int) {
	line, ls := 1, 0
	for i := 0; i < x.start && i < len(x.src); i++ {
		if x.src[i] == '\n' {
			line++
			ls = i + 1
		}
	}
	le := ls
	for le < len(x.src) && x.src[le] != '\n' && x.src[le] != '\r' {
		le++
	}
	col = x.start - ls + 1
	end := x.end
	if end > le {
		end = le
	}
	width = end - x.start
	if width < 1 {
		width = 1
	}
	return line, col, string(x.src[ls:le]), width
}

// marker is PowerShell 5's position message: "At line:1 char:5", "+ <line>", "+ <pad>~~~".
func (x *extent) marker() string {
	line, col, text, width := x.lineCol()
	return fmt.Sprintf("At line:%d char:%d\n+ %s\n+ %s%s\n", line, col, text,
		strings.Repeat(" ", col-1), strings.Repeat("~", width))
}

// ParseError is a script that does not parse; Run returns it before running anything, as
// PowerShell parses a whole script first.
type ParseError struct {
	// Message is the parser's text, e.g. "Missing closing '}' in statement block or type definition."
	Message string
	// ID is the FullyQualifiedErrorId, e.g. MissingEndCurlyBrace.
	ID string
	// Line and Column are 1-based.
	Line, Column int
	ext          *extent
}

func (e *ParseError) Error() string { return e.Message }

// Format is the text PowerShell 5 prints for a parse error.
func (e *ParseError) Format() string {
	return e.ext.marker() + e.Message + "\n" +
		"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n" +
		"    + FullyQualifiedErrorId : " + e.ID + "\n \n"
}

// FormatError renders any error the engine returns, as the console would print it.
func FormatError(err error) string {
	switch e := err.(type) {
	case *ErrorRecord:
		return e.Format()
	case *ParseError:
		return e.Format()
	}
	return err.Error() + "\n"
}

// Engine's own error texts, in PowerShell's words (System.Management.Automation resources).
func errCommandNotFound(name string) *ErrorRecord {
	return &ErrorRecord{
		Message: fmt.Sprintf("The term '%s' is not recognized as the name of a cmdlet, function, script file, or operable program. "+
			"Check the spelling of the name, or if a path was included, verify that the path is correct and try again.", name),
		Category: ObjectNotFound, TargetName: name, TargetType: "String", Reason: "CommandNotFoundException",
		ErrorID: "CommandNotFoundException", cmdName: name,
	}
}

func bindError(cmd, id string, cat Category, msg string) *ErrorRecord {
	return &ErrorRecord{Message: msg, Category: cat, Activity: cmd, Reason: "ParameterBindingException",
		ErrorID: id, Source: cmd, cmdName: cmd}
}

func errParamNotFound(cmd, name string) *ErrorRecord {
	return bindError(cmd, "NamedParameterNotFound", InvalidArgument,
		fmt.Sprintf("A parameter cannot be found that matches parameter name '%s'.", name))
}

func errParamAmbiguous(cmd, name string, matches []string) *ErrorRecord {
	return bindError(cmd, "AmbiguousParameter", InvalidArgument,
		fmt.Sprintf("Parameter cannot be processed because the parameter name '%s' is ambiguous. Possible matches include: -%s.",
			name, strings.Join(matches, " -")))
}

func errPositional(cmd, arg string) *ErrorRecord {
	return bindError(cmd, "PositionalParameterNotFound", InvalidArgument,
		fmt.Sprintf("A positional parameter cannot be found that accepts argument '%s'.", arg))
}

func errMissingArgument(cmd, name, typ string) *ErrorRecord {
	return bindError(cmd, "MissingArgument", InvalidArgument,
		fmt.Sprintf("Missing an argument for parameter '%s'. Specify a parameter of type '%s' and try again.", name, typ))
}

func errMissingMandatory(cmd string, names []string) *ErrorRecord {
	return bindError(cmd, "MissingMandatoryParameter", InvalidArgument,
		"Cannot process command because of one or more missing mandatory parameters: "+strings.Join(names, " ")+".")
}

func errParameterSet(cmd string) *ErrorRecord {
	return bindError(cmd, "AmbiguousParameterSet", InvalidArgument,
		"Parameter set cannot be resolved using the specified named parameters.")
}

func errAlreadyBound(cmd, name string) *ErrorRecord {
	return bindError(cmd, "ParameterAlreadyBound", InvalidArgument,
		fmt.Sprintf("Cannot bind parameter because parameter '%s' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax. For example, \"-parameter value1,value2,value3\".", name))
}

func errInputNotBound(cmd string, obj any) *ErrorRecord {
	r := bindError(cmd, "InputObjectNotBound", InvalidArgument,
		"The input object cannot be bound to any parameters for the command either because the command does not take pipeline input or the input and its properties do not match any of the parameters that take pipeline input.")
	r.TargetName = toString(obj)
	r.TargetType = typeNameOf(obj)
	return r
}

// errTransform is the binder's conversion failure: "Cannot process argument transformation on
// parameter 'X'. …", category InvalidData.
func errTransform(cmd, param, detail string) *ErrorRecord {
	return &ErrorRecord{
		Message:  fmt.Sprintf("Cannot process argument transformation on parameter '%s'. %s", param, detail),
		Category: InvalidData, Activity: cmd, Reason: "ParameterBindingArgumentTransformationException",
		ErrorID: "ParameterArgumentTransformationError", Source: cmd, cmdName: cmd,
	}
}

// errCannotBind is the binder's "Cannot bind parameter 'X'. …", category InvalidArgument.
func errCannotBind(cmd, param, detail string) *ErrorRecord {
	r := bindError(cmd, "CannotConvertArgumentNoMessage", InvalidArgument,
		fmt.Sprintf("Cannot bind parameter '%s'. %s", param, detail))
	return r
}

func errRuntime(msg, id string, cat Category) *ErrorRecord {
	return &ErrorRecord{Message: msg, Category: cat, Reason: "RuntimeException", ErrorID: id}
}

// typeNameOf is the .NET type name PowerShell would report for a value.
func typeNameOf(v any) string {
	switch x := normalize(v).(type) {
	case nil:
		return ""
	case string:
		return "String"
	case int64:
		return "Int32"
	case float64:
		return "Double"
	case bool:
		return "Boolean"
	case []any:
		return "Object[]"
	case *Hashtable:
		return "Hashtable"
	case *ScriptBlock:
		return "ScriptBlock"
	case *SecureString:
		return "SecureString"
	case *Object:
		t := x.TypeName
		if i := strings.LastIndex(t, "."); i >= 0 {
			t = t[i+1:]
		}
		if t == "" {
			t = "PSCustomObject"
		}
		return t
	}
	return fmt.Sprintf("%T", v)
}

func fullTypeNameOf(v any) string {
	switch x := normalize(v).(type) {
	case string:
		return "System.String"
	case int64:
		return "System.Int32"
	case float64:
		return "System.Double"
	case bool:
		return "System.Boolean"
	case []any:
		return "System.Object[]"
	case *Hashtable:
		return "System.Collections.Hashtable"
	case *ScriptBlock:
		return "System.Management.Automation.ScriptBlock"
	case *SecureString:
		return "System.Security.SecureString"
	case *Object:
		if x.TypeName != "" {
			return x.TypeName
		}
		return "System.Management.Automation.PSCustomObject"
	}
	return typeNameOf(v)
}
