package adminapi

import (
	"time"

	"github.com/exlab/exlab/transport/smtpreceive"

	"github.com/exlab/exlab/transport"
)

// The test-automation API, /api/v1 (issue 15): the delivered messages with server-side
// filters and cursor paging, parsed or raw, their attachments and tracking events, waiting for
// a delivery without polling, a server-sent-events stream of deliveries, and deletion. Its
// OpenAPI 3.1 document is openapi.json beside this file, served at PathV1OpenAPI; a test checks
// every answer the tests get against it. The request and response types below are the
// server's and the Client's.

// Paths of /api/v1.
const (
	PathV1          = "/api/v1"
	PathV1OpenAPI   = PathV1 + "/openapi.json"
	PathV1Messages  = PathV1 + "/messages"
	PathV1Wait      = PathV1 + "/messages/wait"
	PathV1Events    = PathV1 + "/events"
	PathV1Mailboxes = PathV1 + "/mailboxes"
	PathV1Tracking  = PathV1 + "/tracking"
	PathV1Org       = PathV1 + "/organization"
	PathV1Shell     = PathV1 + "/shell"
	PathV1EventLog  = PathV1 + "/eventlog"
	PathV1Certs     = PathV1 + "/certificates"
	PathV1Login     = PathV1 + "/login"  // the web console's sign-in (sets ConsoleCookie)
	PathV1Logout    = PathV1 + "/logout" // clears it
	PathV1Health    = PathV1 + "/health"
)

// ConsoleCookie carries the admin token for the web console after POST /api/v1/login; a change
// made with it must also carry ConsoleHeader (any value).
const (
	ConsoleCookie = "exlab_admin"
	ConsoleHeader = "X-Exlab-Console"
)

// Health answers GET /api/v1/health: every binding of the server's services, listening or not,
// with the owner of a port a binding cannot take (Event 1020), and the readiness /readyz reports.
type Health struct {
	Server   string
	Ready    bool
	Bindings []HealthBinding
}

// HealthBinding is one binding of one service (FrontEnd, Hub or Mailbox).
type HealthBinding struct {
	Service string
	smtpreceive.BindingState
}

// PartCSP is the Content-Security-Policy of a message part (GET /api/v1/messages/{id}/parts/…):
// no script, nothing from the network, inline styles and data: images only.
const PartCSP = "sandbox; default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:"

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	Token string
}

// More error codes of /api/v1.
const (
	CodeTimeout = "timeout" // GET /messages/wait: nothing matched before the timeout (408)
	// CodeConflict: PUT /organization with an ETag that is no longer the file's (409): someone
	// else changed the organization since it was read.
	CodeConflict = "conflict"
	// CodeForbidden: a change made with the console's cookie but without ConsoleHeader (403).
	CodeForbidden = "forbidden"
)

// Limits of a message list page.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
	// DefaultWait and MaxWait bound GET /messages/wait's timeout parameter.
	DefaultWait = 30 * time.Second
	MaxWait     = 10 * time.Minute
)

// MessageSummary is one delivered message (one mailbox item) as lists show it.
type MessageSummary struct {
	Mailbox   string    // the mailbox's primary SMTP address
	ID        uint64    // InternalMessageId of the Mailbox Transport Delivery service's store
	MessageID string    // the Message-ID header, with angle brackets
	From      string    // the envelope sender (MAIL FROM)
	To        []string  // the envelope recipients that reached this mailbox
	Subject   string    // decoded (RFC 2047), as Outlook shows it
	Received  time.Time // when Mailbox Delivery stored it
	Size      int64     // bytes as stored
}

// MessageList answers GET /api/v1/messages: a page, newest first, and the cursor of the next
// page ("" on the last page).
type MessageList struct {
	Messages   []MessageSummary
	NextCursor string `json:",omitempty"`
}

// Header is one header field, its value decoded (RFC 2047) and unfolded.
type Header struct {
	Name  string
	Value string
}

// Part is one MIME part. Path is the part's IMAP section number (RFC 3501 §6.4.5: "1" for the
// body of a single-part message, "2.1" for the first part of the second part; "" for a
// multipart message's top level), the name of GET /messages/{id}/parts/{path}.
type Part struct {
	Path        string
	ContentType string            // media type, lower case
	Charset     string            `json:",omitempty"` // as declared
	Disposition string            `json:",omitempty"` // inline, attachment
	Filename    string            `json:",omitempty"`
	ContentID   string            `json:",omitempty"`
	Encoding    string            `json:",omitempty"` // Content-Transfer-Encoding
	Size        int64             // decoded bytes
	Text        *string           `json:",omitempty"` // a text/* part's decoded text (UTF-8)
	Parts       []Part            `json:",omitempty"` // a multipart's parts
	Params      map[string]string `json:",omitempty"` // the other Content-Type parameters
}

// Attachment is a part with a file name or an attachment disposition.
type Attachment struct {
	Path        string
	Filename    string
	ContentType string
	Size        int64
}

// Message answers GET /api/v1/messages/{id}: the summary, every header decoded, the MIME tree
// and the attachments.
type Message struct {
	MessageSummary
	Headers     []Header
	Root        Part
	Attachments []Attachment
	// ParseError says why the MIME structure could not be read completely ("" when it could).
	ParseError string `json:",omitempty"`
}

// DeleteResult answers the DELETEs: how many mailbox items were removed.
type DeleteResult struct{ Deleted int }

// TrackingEvents answers GET /api/v1/messages/{id}/tracking: the message tracking log entries
// (Get-MessageTrackingLog -MessageId) of the message, field by field.
type TrackingEvents struct {
	Events []transport.TrackingEntry
}

// ProtocolLogDir is one of the server's protocol logs: its service (FrontEnd, Hub, Mailbox),
// its log (SmtpReceive, SmtpSend) and the directory of its files.
type ProtocolLogDir struct {
	Service, Log, Path string
}

// ProtocolLogSessions answers GET /api/v1/messages/{id}/protocollog: the protocol-log sessions
// that carried the message on every hop (the frontend's, the hub's, the Mailbox Transport
// Delivery service's, and the send logs'), oldest first.
type ProtocolLogSessions struct {
	Sessions []ProtocolLogSession
}

// ProtocolLogSession is one SMTP session of a protocol log, every line of it.
type ProtocolLogSession struct {
	Service   string // FrontEnd, Hub, Mailbox
	Log       string // SmtpReceive, SmtpSend
	Connector string // connector-id
	Session   string // session-id
	Lines     []ProtocolLogLine
}

// ProtocolLogLine is one line, by the log's own field names (spec §7.1).
type ProtocolLogLine struct {
	DateTime string `json:"date-time"`
	Sequence int    `json:"sequence-number"`
	Local    string `json:"local-endpoint"`
	Remote   string `json:"remote-endpoint"`
	Event    string `json:"event"`
	Data     string `json:"data"`
	Context  string `json:"context"`
}

// TrackingQuery is GET /api/v1/tracking's filters (Get-MessageTrackingLog's parameters); the
// empty value does not filter.
type TrackingQuery struct {
	Sender, Recipient, EventID, MessageID string
	Start, End                            time.Time
}

// Organization is GET /api/v1/organization's answer and PUT's body: the organization file the
// server runs on, its YAML and an ETag of it. A PUT names the ETag it read (an edit of another
// version is refused with 409) and gets the new ETag back.
type Organization struct {
	File   string `json:",omitempty"` // "" for the embedded default (a PUT then writes organization.yaml in the data directory)
	Source string
	ETag   string
	// Server is the server this exlab runs as, and PortOffset what --port-offset adds to every
	// binding's port (Test-SmtpConnectivity dials the ports that really listen).
	Server     string `json:",omitempty"`
	PortOffset int    `json:",omitempty"`
}

// ShellRequest is POST /api/v1/shell's body: a script (one command line or many) and the
// session to run it in, whose variables ($c = Get-ReceiveConnector …) persist between requests.
type ShellRequest struct {
	Script  string
	Session string `json:",omitempty"`
}

// ShellResult is what the script printed, as the shell prints it: Output the objects formatted
// (tables, lists), Errors the error and warning records; Failed says a terminating error
// stopped it (exlab shell -c exits 1 then).
type ShellResult struct {
	Session string
	Output  string
	Errors  string
	Failed  bool
}

// EventLog answers GET /api/v1/eventlog: the server's recent Exchange events, oldest first,
// each as the event stream sends it (TimeCreated, EventID, Source, Level, Message, …).
type EventLog struct {
	Events []map[string]any
}

// CertificateInfo is one certificate of the server as Get-ExchangeCertificate shows it.
type CertificateInfo struct {
	Thumbprint   string   // SHA-1 of the DER, upper-case hex
	Subject      string   // CN=ex01.contoso.test
	Issuer       string   // the same for a self-signed one
	FriendlyName string   `json:",omitempty"`
	Services     []string // IMAP, POP, IIS, SMTP …
	NotBefore    time.Time
	NotAfter     time.Time
	IsSelfSigned bool
	Status       string // Valid, or DateInvalid once expired (Exchange's CertificateStatus)
	// DnsNameList are the certificate's DNS names (CertificateDomains).
	DnsNameList []string
	// File is the organization's CertificateFile for it (absent for the self-signed one the
	// server makes in its data directory).
	File string `json:",omitempty"`
}

// NewCertificateRequest is POST /api/v1/certificates's body: New-ExchangeCertificate's
// parameters for a self-signed certificate. Empty: Exchange's defaults (CN=<server>, the
// server's name and FQDN, IMAP, POP and SMTP, five years).
type NewCertificateRequest struct {
	SubjectName  string   `json:",omitempty"` // CN=name, or the name
	DomainName   []string `json:",omitempty"`
	FriendlyName string   `json:",omitempty"`
	Services     []string `json:",omitempty"`
}

// Certificates answers GET /api/v1/certificates.
type Certificates struct {
	Certificates []CertificateInfo
}

// MailboxInfo is one mailbox holding messages (GET /api/v1/mailboxes).
type MailboxInfo struct {
	Mailbox string
	Count   int
}

// Filter selects messages: every field that is set must match. Sender, Recipient, Subject and
// Text match case-insensitively as substrings (Text anywhere in the message as stored, or its
// decoded subject); MessageID exactly, with or without angle brackets; Mailbox is a mailbox's
// primary address or any of its addresses; Since and Before bound Received ([Since, Before)).
type Filter struct {
	Mailbox, Sender, Recipient, Subject, Text, MessageID string
	Since, Before                                        time.Time
}
