//go:generate go run gen_replies.go

package smtpwire

import (
	"errors"
	"strconv"
	"strings"
)

// ReplyID names a row of the reply table: R01… for the spec's replies.tsv (constants generated
// into replies_table.go), X01… for exlab's own rows.
type ReplyID string

// Row is one reply exlab can send: a row of ../shared/spec/replies.tsv (R01…), or one of
// exlab's own rows (X01…) for situations the spec does not cover. Text is a template whose
// <name> placeholders Render fills; a literal \r\n separates the lines of a multi-line reply.
type Row struct {
	ID         ReplyID
	Code       int
	Enhanced   string
	Text       string
	Confidence string
}

// exlabRows are replies for situations replies.tsv does not cover. Each is marked with why it
// reads as it does; none claims to be Exchange's text unless the note says where it was seen.
var exlabRows = []Row{
	// Storage failure before the 250 (RELIABILITY.md §1: a temporary reply, never 250 or 5xx);
	// 4.3.0 per RELIABILITY §4.3 with Exchange's generic temporary-error phrase (R62-R68).
	{ID: "X01", Code: 451, Enhanced: "4.3.0", Text: "451 4.3.0 Temporary server error. Please try again later", Confidence: "exlab"},
	// XPROXYFROM accepted: the verb's syntax and reply are not public (spec §6.1, gap 1); this is
	// the spec's proposal.
	{ID: "X02", Code: 250, Text: "250 XProxyFrom accepted", Confidence: "exlab (spec §6.1 proposal)"},
	// A SASL challenge (X-EXPS, AUTH): 334 and the base64 challenge.
	{ID: "X03", Code: 334, Text: "334 <challenge>", Confidence: "RFC 4954"},
	// DATA while a BDAT transfer is open, and other sequence errors without an Exchange text.
	{ID: "X04", Code: 503, Enhanced: "5.5.1", Text: "503 5.5.1 Bad sequence of commands", Confidence: "exlab (RFC 3030 §3)"},
	// RCPT TO with an address that does not parse. Seen from Exchange in client logs, but not
	// captured in the spec: [O].
	{ID: "X05", Code: 501, Enhanced: "5.1.3", Text: "501 5.1.3 Invalid address", Confidence: "observed (not in spec)"},
	// AUTH exchange cancelled with "*" or answered with bad base64 (RFC 4954 §4).
	{ID: "X06", Code: 501, Enhanced: "5.5.2", Text: "501 5.5.2 Cannot decode response", Confidence: "RFC 4954"},
	// XPROXYTO accepted (hub -> Outbound Proxy Frontend): exlab's verb, inferred from the
	// XProxyToTransientInvalidArgumentsMonitor health monitor (spec §6.4 [I]).
	{ID: "X08", Code: 250, Text: "250 XProxyTo accepted", Confidence: "exlab (spec §6.4 [I])"},
	// A second AUTH after a successful one (RFC 4954 §4).
	{ID: "X07", Code: 503, Enhanced: "5.5.2", Text: "503 5.5.2 Already authenticated", Confidence: "exlab"},
	// A header block larger than MaxHeaderSize, at the end of the data. The on-premises text is
	// not public (spec §12 gap 2); this is the text Exchange Online NDRs quote for it [O].
	{ID: "X09", Code: 552, Enhanced: "5.3.4", Text: "552 5.3.4 Message header size exceeds limit", Confidence: "observed (Exchange Online; not in spec)"},
	// The NDR status of a message larger than its send connector's MaxMessageSize (spec §9.3
	// NDRs; send connectors arrive with issue 5): Exchange's routing text as NDRs of 2010-2019
	// show it [O].
	{ID: "X10", Code: 550, Enhanced: "5.3.4", Text: "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route", Confidence: "observed (not in spec)"},
	// Remove-Message -WithNDR (spec §11, Remove-Message): the administrative removal status as
	// Exchange NDRs show it [O].
	{ID: "X11", Code: 550, Enhanced: "4.3.2", Text: "550 4.3.2 QUEUE.Admin; message deleted by administrative action", Confidence: "observed (not in spec)"},
	// The hub could not talk to its Outbound Proxy Frontend at all (spec §6.4): Exchange's
	// SmtpSend wording for a broken session (R70/R71 family) naming the endpoint, without the
	// error detail, which goes to the log; R69 wraps it in the LastError.
	{ID: "X12", Code: 451, Enhanced: "4.4.0", Text: "451 4.4.0 Error encountered while communicating with primary target IP address. The last endpoint attempted was <endpoint>", Confidence: "exlab (spec §6.4, R70/R71 wording)"},
	// SmtpSend rows (X20…): what a send connector records as LastError and NDR status.
	// R71 with the Winsock code the failure had: 10061 for a refused connection, 10060 for a
	// timeout (spec §8.3 quotes the 10060 form; the refused one is Windows' WSAECONNREFUSED).
	{ID: "X20", Code: 441, Enhanced: "4.4.1", Text: "441 4.4.1 Error encountered while communicating with primary target IP address: \"Failed to connect. Winsock error code: <winsock>, Win32 error code: <winsock>.\" Attempted failover to alternate host, but that did not succeed. Either there are no alternate hosts, or delivery failed to all alternate hosts. The last endpoint attempted was <ip>:<port>", Confidence: "observed (R71's form)"},
	// A session to the next hop that broke after it was set up (reset, timeout, closed): Exchange
	// records the connection drop with its SocketError/TimedOut reason inside the 4.4.0 text, as
	// Get-Queue LastError captures show ("421 4.4.2 Connection dropped due to SocketError.").
	{ID: "X21", Code: 451, Enhanced: "4.4.0", Text: "451 4.4.0 Error encountered while communicating with primary target IP address: \"421 4.4.2 Connection dropped due to <reason>.\" Attempted failover to alternate host, but that did not succeed. Either there are no alternate hosts, or delivery failed to all alternate hosts. The last endpoint attempted was <ip>:<port>", Confidence: "observed (Get-Queue LastError captures; not in spec)"},
	// A DNS failure of a DNSRoutingEnabled send connector (Get-Queue LastError as widely quoted).
	{ID: "X22", Code: 451, Enhanced: "4.4.0", Text: "451 4.4.0 DNS query failed. The error was: DNS query failed with error: ErrorRetry", Confidence: "observed (not in spec)"},
	// AUTH rows (X30…). AUTH NTLM without an initial response: MS-SMTPNTLM §2.2.1.2
	// (SMTP_NTLM_Supported_Response; Microsoft's example writes it in lower case) and published
	// telnet sessions against Microsoft SMTP servers on 587 ("334 NTLM supported").
	// Shadow redundancy between hubs (spec §8.4): the verbs' arguments and replies are not
	// public. XSHADOWREQUEST <primary fqdn> <network message id> opens a shadow transaction
	// (its end-of-data reply is R50); XQDISCARD <shadow fqdn> is answered with the
	// Network-Message-Ids the shadow may discard, one per line.
	{ID: "X40", Code: 250, Text: "250 XShadowRequest accepted", Confidence: "exlab (spec §8.4: verb known, reply not public)"},
	{ID: "X41", Code: 250, Text: "250 XQDISCARD <count>", Confidence: "exlab (spec §8.4: verb known, reply not public)"},
	// No shadow copy could be made and RejectMessageOnShadowFailure is $true: R73's code, whose
	// text is not public.
	{ID: "X42", Code: 451, Enhanced: "4.4.0", Text: "451 4.4.0 Message failed to be made redundant", Confidence: "exlab (R73's code; text not public)"},
	{ID: "X30", Code: 334, Text: "334 NTLM supported", Confidence: "observed (MS-SMTPNTLM; telnet captures, not in spec)"},
}

var rows = func() map[ReplyID]Row {
	m := make(map[ReplyID]Row, len(specRows)+len(exlabRows))
	for _, r := range specRows {
		m[r.ID] = r
	}
	for _, r := range exlabRows {
		m[r.ID] = r
	}
	return m
}()

// LookupRow returns the row with the given id (a ReplyID, or a string read from a
// configuration such as a fault rule's ReplyId).
func LookupRow[S ~string](id S) (Row, bool) {
	r, ok := rows[ReplyID(id)]
	return r, ok
}

// Reply is one rendered reply, ready for the wire (without the final CRLF). A *Reply is also an
// error, so handlers can return it through error paths.
type Reply struct {
	ID   ReplyID // row id, or "" for a reply passed through from another server
	Text string  // one or more lines joined by CRLF
}

func (r *Reply) Error() string { return r.Text }

// Code is the reply's three-digit code.
func (r *Reply) Code() int {
	if len(r.Text) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(r.Text[:3])
	return n
}

// Enhanced is the reply's enhanced status code ("2.1.0"), or "".
func (r *Reply) Enhanced() string {
	if len(r.Text) < 5 {
		return ""
	}
	f := strings.Fields(r.Text[4:])
	if len(f) > 0 && len(f[0]) >= 5 && (f[0][0] >= '2' && f[0][0] <= '5') && f[0][1] == '.' {
		return f[0]
	}
	return ""
}

// Positive says whether the reply is 2xx or 3xx.
func (r *Reply) Positive() bool { c := r.Code(); return c >= 200 && c < 400 }

// Render fills row id's template. args are placeholder/value pairs without the angle brackets:
// Render("R01", "fqdn", "ex01.contoso.test", "date", d). It panics on an unknown id, as a reply
// that is not in the table is a programming error (STYLE §2).
func Render(id ReplyID, args ...string) *Reply {
	row, ok := rows[id]
	if !ok {
		panic("smtpwire: no reply row " + string(id))
	}
	return &Reply{ID: id, Text: fill(row.Text, args)}
}

// fixed holds the rendered rows without placeholders, so hot paths allocate nothing.
var fixed = func() map[ReplyID]*Reply {
	m := map[ReplyID]*Reply{}
	for id, r := range rows {
		if !strings.Contains(r.Text, "<") || id == "R46" {
			m[id] = &Reply{ID: id, Text: fill(r.Text, nil)}
		}
	}
	return m
}()

// Fixed returns the shared, pre-rendered reply of a row without placeholders. Callers must not
// modify it.
func Fixed(id ReplyID) *Reply {
	if r, ok := fixed[id]; ok {
		return r
	}
	return Render(id)
}

func fill(tmpl string, args []string) string {
	s := strings.ReplaceAll(tmpl, `\r\n`, "\r\n")
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "<"+args[i]+">", args[i+1])
	}
	return s
}

// ReplyFor turns any error into the reply to send: the *Reply it wraps, or the spec's temporary
// failure. It never sends err.Error() to a client (STYLE §2; compare maddy's wrapErr).
func ReplyFor(err error) *Reply {
	var r *Reply
	if errors.As(err, &r) {
		return r
	}
	return Fixed("X01")
}

// FromRemote builds a Reply from a code and the text another server sent, for replies passed
// through unchanged (the frontend returns the hub's own final reply, spec §6.1).
func FromRemote(code int, text string) *Reply {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var b strings.Builder
	c := strconv.Itoa(code)
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(c)
		if i < len(lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return &Reply{Text: b.String()}
}
