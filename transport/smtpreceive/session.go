// Package smtpreceive is exlab's SMTP receive engine, the part both the Front End Transport and
// the Transport (hub) service share, and its counterpart of Exchange's SmtpReceive. It owns every
// byte exlab sends to a client: the listener and connection limits, the command parser, the
// session state machine (one state value, checked in one place before dispatch), the
// DATA/BDAT readers with strict end-of-data framing, pipelining, timeouts, STARTTLS, the
// EHLO keyword list and the reply table built from ../shared/spec/replies.tsv. It owns no
// policy: who may send what is decided by the Session a role gives it (frontend or
// transport), and it imports only config and transport/smtpwire (the reply table, the
// protocol-log line, XPROXYFROM). It writes nothing durable.
//
// The engine's files, one job each: server.go and bind*.go listen and admit connections
// (limits.go: the connection and message-rate limits); conn.go holds a connection's state;
// io.go the I/O adapters (timeouts, shutdown, a Bandwidth fault's limit, replies and flushes);
// loop.go the command loop and the state table (check); verbs.go one handler per verb;
// message.go the one end-of-message path DATA and BDAT share; data.go the DATA and BDAT
// readers; headerscan.go the MaxHeaderSize/MaxHopCount scan; fault.go the fault rules and
// their one hook (atStep, with the table of when each step fires); logging.go the protocol-log
// hooks; trace.go and metrics.go the spans and metrics. A Session reaches back into the engine
// only through ConnInfo.Engine.
package smtpreceive

import (
	"context"
	"crypto/tls"
	"io"
	"net/netip"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// ConnInfo describes one client connection. The engine owns it and updates Helo and TLS as the
// session goes on; a Session may read it at any time from the session's goroutine.
type ConnInfo struct {
	Connector *config.ReceiveConnector
	SessionID string // 16 upper-case hex digits, as Exchange's protocol log writes it (spec §7.1)
	Local     netip.AddrPort
	Remote    netip.AddrPort
	Helo      string // the EHLO/HELO argument
	Ehlo      bool   // whether the client said EHLO
	TLS       *tls.ConnectionState
	Started   time.Time
	// User is the authenticated user (a mailbox's address), set by the Session when a client
	// authenticates or a proxied session names one; MessageRateSource User counts it.
	User string

	// Engine is the engine running the session, for what a Session asks of it beyond these
	// fields; the engine sets it before it calls NewSession.
	Engine Engine
}

// Engine is what a Session may ask of the engine that runs it: the fault hook of a step the
// Session carries out itself, the session's protocol log and its trace. The frontend's proxy
// hop uses InjectFault, Logging and Info; the hub's session SetTraceParent. Like the Session's
// own methods, these are called from the session's goroutine only.
type Engine interface {
	// InjectFault applies the fault-injection rule for a step the Session carries out itself
	// (config.StepProxy: the frontend's hop to a hub). It returns the reply to give instead
	// of the step's own, or handled with a nil reply when the connection was closed; handled
	// false means go on (after a Delay has been waited, or with a Bandwidth limit set).
	InjectFault(step config.FaultStep) (r *smtpwire.Reply, handled bool)
	// Logging says whether the session writes a protocol log (ProtocolLoggingLevel Verbose).
	Logging() bool
	// Info writes a '*' line to the session's protocol log (the proxy destination line and
	// the like); nothing when the log is off.
	Info(data, context string)
	// SetTraceParent makes the session's next message span a child of the span a W3C
	// traceparent names (the frontend's proxy hop, carried in XPROXYFROM).
	SetTraceParent(traceparent string)
}

// Session is the policy side of one SMTP session, shaped like go-smtp's backend Session.
// frontend and transport implement it. The engine calls it from the connection's goroutine
// only, after it has checked syntax and command order, and it renders whatever reply a method
// returns. A nil *Reply means "accepted" with the spec's positive reply for that command.
type Session interface {
	// Hello is called after a valid EHLO or HELO; any transaction was already reset.
	Hello(ctx context.Context)
	// Mail starts a transaction. from is "" for the null sender.
	Mail(ctx context.Context, from string, opts *MailOptions) *smtpwire.Reply
	// Rcpt adds a recipient to the transaction.
	Rcpt(ctx context.Context, to string, opts *RcptOptions) *smtpwire.Reply
	// Data receives the message after DATA (the engine has sent 354) or the first BDAT chunk.
	// r yields the body with dot-stuffing removed and line endings normalised to CRLF
	// (BINARYMIME BDAT bodies are passed unchanged), then io.EOF. Any other error (ErrTooLarge,
	// a broken connection) means the message is incomplete: Data must not keep or forward it.
	// Data must not use r after it returns; the engine consumes whatever is left. The reply
	// is the final reply for the message; the engine overrides it when the message was too
	// large or the client went away.
	Data(ctx context.Context, r io.Reader) *smtpwire.Reply
	// Reset ends the transaction (RSET, EHLO, after DATA).
	Reset()
	// SizeLimit is the message size limit in bytes for this session, 0 for none (spec §2.2:
	// ms-Exch-Bypass-Message-Size-Limit lifts the connector's MaxMessageSize).
	SizeLimit() int64
	// Auth starts an authentication exchange: verb is "AUTH" or "X-EXPS", mech the mechanism
	// named on the command line. It returns the exchange, or a reply that refuses it.
	Auth(ctx context.Context, verb, mech string) (SASL, *smtpwire.Reply)
	// Extension handles a verb the engine does not know (XPROXYFROM…). handled=false makes
	// the engine answer 500 5.3.3 Unrecognized command.
	Extension(ctx context.Context, verb, arg string) (reply *smtpwire.Reply, handled bool)
	// Close is called once when the connection ends.
	Close()
}

// SASL is one authentication exchange (RFC 4954 shape, also used for X-EXPS).
type SASL interface {
	// Next takes the client's response (initial is true for the response given on the command
	// line, which may be nil) and returns either a challenge to send as 334 or the final reply.
	Next(resp []byte, initial bool) (challenge []byte, final *smtpwire.Reply)
}

// NewSessionFunc makes the policy session for a new connection.
type NewSessionFunc func(ci *ConnInfo) Session
