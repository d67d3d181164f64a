// conn.go holds one client connection's state: the session state value, the connection
// struct and the transaction reset.

package smtpreceive

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// state is the one explicit session state (STYLE §3): every command is checked against it in
// check() before it is dispatched.
type state int

const (
	stateConnected state = iota // banner sent, no EHLO/HELO yet
	stateReady                  // EHLO/HELO done, no transaction
	stateMail                   // MAIL accepted
	stateRcpt                   // at least one RCPT accepted
)

const maxLineLength = 4096 // command lines; RFC 5321 asks for at least 512

var (
	errIdleTimeout   = errors.New("ConnectionInactivityTimeout")
	errSessionTimout = errors.New("ConnectionTimeout")
	errShutdown      = errors.New("shutting down")
	// errProtocolErrors ends a command read after MaxProtocolErrors was passed (R26 was sent).
	errProtocolErrors = errors.New("MaxProtocolErrors")
)

// conn is one client connection.
type conn struct {
	srv           *Server
	raw           net.Conn
	nc            net.Conn // raw, or the TLS connection after STARTTLS
	br            *bufio.Reader
	cmdBR         *bufio.Reader // the session's own 4 KiB reader while a DATA body has br (bodyReader)
	pre           prefixReader  // what a body's reader read past the body, for cmdBR
	cleanPeer     bool          // a Pipe: its peer is exlab's own SmtpSend, BDAT chunks are not rescanned (Pipe)
	bw            *bufio.Writer
	info          ConnInfo
	sess          Session
	rc            *config.ReceiveConnector
	st            state
	rcpts         int
	errors        int64
	authed        bool
	noTarpit      bool // the AUTH exchange is answering: its replies wait AuthTarpitInterval, not TarpitInterval
	skipLine      bool // binary input was answered: discard up to the next line end
	logonFailures int
	body          string // BODY= of the transaction
	closed        bool

	release      func()      // frees the connection's place under the connection limits
	tlsConf      *tls.Config // nil: no STARTTLS on this connection
	inBody       atomic.Bool // reading a message body: shutdown lets it finish
	idle         time.Duration
	deadline     time.Time // ConnectionTimeout
	lastDeadline time.Time
	readDL       time.Time // the read deadline last set
	plogDL       bool      // readDL is the protocol log's hand-over time, not a timeout
	ctx          context.Context

	// Protocol log (ProtocolLoggingLevel Verbose): lines wait in plog until the next flush.
	plogOn     bool
	plog       []smtpwire.LogLine
	plogSeq    int
	plogLocal  string
	plogRemote string
	plogID     string // the connector identity

	// Traces: the session's span is in ctx; the transaction's span and context.
	sessSpan     trace.Span
	msgSpan      trace.Span
	msgCtx       context.Context
	transactions int
	traceParent  trace.SpanContext // the next message span's remote parent (SetTraceParent)

	// The transaction's sender and recipients (fault rules match them).
	from     string
	rcptList []string
	// limiter is a Bandwidth fault's limit on what the session reads and writes (nil: none).
	limiter *rate.Limiter
}

func (c *conn) ehloParams() EhloParams {
	return EhloParams{Version: c.srv.Version, TLS: c.info.TLS != nil, HasCert: c.tlsConf != nil}
}

func (c *conn) resetTransaction() {
	if c.st >= stateMail {
		c.st = stateReady
	}
	if c.msgSpan != nil && c.st < stateMail {
		// A transaction that ends without its final reply (RSET, EHLO, a broken DATA).
		c.endMessage(0)
	}
	c.rcpts = 0
	c.body = ""
	c.from = ""
	c.rcptList = c.rcptList[:0]
	c.sess.Reset()
}
