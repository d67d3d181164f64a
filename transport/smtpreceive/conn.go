package smtpreceive

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
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
)

// conn is one client connection.
type conn struct {
	srv           *Server
	raw           net.Conn
	nc            net.Conn // raw, or the TLS connection after STARTTLS
	br            *bufio.Reader
	bw            *bufio.Writer
	info          ConnInfo
	sess          Session
	rc            *config.ReceiveConnector
	st            state
	rcpts         int
	errors        int64
	authed        bool
	logonFailures int
	body          string // BODY= of the transaction
	closed        bool

	release      func()      // frees the connection's place under the connection limits
	tlsConf      *tls.Config // nil: no STARTTLS on this connection
	inBody       atomic.Bool // reading a message body: shutdown lets it finish
	idle         time.Duration
	deadline     time.Time // ConnectionTimeout
	lastDeadline time.Time
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

	// The transaction's sender and recipients (fault rules match them).
	from     string
	rcptList []string
	// limiter is a Bandwidth fault's limit on what the session reads and writes (nil: none).
	limiter *rate.Limiter
}

// connWriter writes to the connection (the TLS one after STARTTLS), at most as fast as a
// Bandwidth fault allows.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	if c.limiter == nil {
		return c.nc.Write(p)
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), c.limiter.Burst())
		_ = c.limiter.WaitN(c.ctx, k)
		m, err := c.nc.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// deadlineReader applies ConnectionInactivityTimeout and ConnectionTimeout to every read, and
// turns a shutdown into errShutdown for sessions waiting for a command.
type deadlineReader struct{ c *conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	c := d.c
	for {
		if c.srv.shutting.Load() && !c.inBody.Load() {
			return 0, errShutdown
		}
		now := time.Now()
		if now.Sub(c.lastDeadline) > min(time.Second, c.idle/10) {
			dl := now.Add(c.idle)
			if c.deadline.Before(dl) {
				dl = c.deadline
			}
			_ = c.nc.SetReadDeadline(dl)
			c.lastDeadline = now
		}
		if c.limiter != nil && len(p) > c.limiter.Burst() {
			p = p[:c.limiter.Burst()]
		}
		n, err := c.nc.Read(p)
		if c.limiter != nil && n > 0 {
			_ = c.limiter.WaitN(c.ctx, n)
		}
		if err == nil {
			return n, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		switch {
		case c.srv.shutting.Load() && !c.inBody.Load():
			return n, errShutdown
		case c.srv.shutting.Load() && c.inBody.Load() && n == 0 && time.Now().Before(c.deadline) &&
			time.Since(c.lastDeadline) < c.idle:
			// Shutdown poked this session just as it started receiving a message: that poke
			// was for idle sessions, so restore the deadline and go on reading the message.
			c.lastDeadline = time.Time{}
			continue
		case !time.Now().Before(c.deadline):
			return n, errSessionTimout
		default:
			return n, errIdleTimeout
		}
	}
}

func (c *conn) serve() {
	defer func() {
		if p := recover(); p != nil {
			// A panic in a handler ends only this session: 421, log with stack, close
			// (STYLE §3; emersion/go-smtp conn.go handle).
			c.srv.logger().Error("panic in SMTP session", "connector", c.rc.Identity(), "session", c.info.SessionID,
				"panic", p, "stack", string(debug.Stack()))
			c.reply(smtpwire.Fixed("R05"))
			c.flush()
		}
		c.sess.Close()
		_ = c.nc.Close()
		c.endMessage(0)
		if c.sessSpan != nil {
			c.sessSpan.SetAttributes(attribute.Int("smtp.transactions", c.transactions))
			c.sessSpan.End()
		}
	}()
	c.logLine('+', "", "")
	if r := c.fault(config.StepConnect, "", ""); r != nil && c.apply(r) {
		// An injected reply takes the banner's place; unless it is a 2xx greeting the
		// session ends with it.
		if c.closed || r.reply.Code()/100 != 2 {
			c.closed = true
			_ = c.flush()
			c.disconnected(nil)
			return
		}
	} else {
		c.reply(Banner(c.rc, time.Now()))
	}
	if m := c.srv.Metrics; m != nil {
		_ = c.flush()
		m.Phase(c.rc, "banner", time.Since(c.info.Started))
	}
	for !c.closed {
		line, err := c.readLine()
		if err != nil {
			c.readFailed(err)
			c.disconnected(err)
			return
		}
		c.logCommand(line)
		c.handle(line)
	}
	c.disconnected(nil)
	// The session is over (QUIT, or an error that closes it): free its place under
	// MaxInboundConnectionPerSource before the last reply reaches the client, so a client that
	// reconnects at once is not refused for a connection it has already ended.
	c.release()
	c.flush()
}

// readFailed answers a failed command read: the timeout replies R60/R61, the shutdown reply R05,
// a too-long line R58; a client that went away gets nothing.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errIdleTimeout):
		c.reply(smtpwire.Fixed("R60"))
	case errors.Is(err, errSessionTimout):
		c.reply(smtpwire.Fixed("R61"))
	case errors.Is(err, errShutdown):
		c.reply(smtpwire.Fixed("R05"))
	default:
		return
	}
	c.flush()
}

// readLine reads one command line without its line ending. Replies waiting in the writer are
// flushed first unless more pipelined input is already buffered (RFC 2920 §3.2).
func (c *conn) readLine() (string, error) {
	for {
		if c.br.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return "", err
			}
		}
		b, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Too long: discard to the end of the line, answer once (RELIABILITY §6 row 8).
			for err == bufio.ErrBufferFull {
				_, err = c.br.ReadSlice('\n')
			}
			if err != nil {
				return "", err
			}
			if c.protocolError() {
				return "", io.EOF
			}
			c.reply(smtpwire.Fixed("R58"))
			continue
		}
		if err != nil {
			return "", err
		}
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
		return string(b), nil
	}
}

func (c *conn) reply(r *smtpwire.Reply) {
	_, _ = c.bw.WriteString(r.Text)
	_, _ = c.bw.WriteString("\r\n")
	if m := c.srv.Metrics; m != nil {
		m.reply(c.rc, r.Text)
	}
	if c.plogOn {
		c.logLine('>', smtpwire.LogReply(r.Text), "")
	}
}

func (c *conn) flush() error {
	// Protocol-log lines go to the writer in batches: every 64 lines, or when the oldest has
	// waited a second, and at the end of the session (a hand-over per reply cost more than the
	// writing itself).
	if n := len(c.plog); n >= 64 || (n > 0 && time.Since(c.plog[0].Time) > time.Second) {
		c.srv.ProtocolLog.Write(c.plog)
		c.plog = nil
	}
	if c.bw.Buffered() == 0 {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
	return c.bw.Flush()
}

// tarpit delays a session's 5xx refusal of MAIL or RCPT by the connector's TarpitInterval when
// the client has not authenticated (spec §5.3: authenticated sessions are never tarpitted),
// with the protocol log's "Tarpit for '0.00:00:05'" line before the reply.
func (c *conn) tarpit(r *smtpwire.Reply) {
	d := c.rc.TarpitInterval.Duration()
	if d <= 0 || c.authed || r.Code()/100 != 5 {
		return
	}
	if c.plogOn {
		secs := int64(d / time.Second)
		c.logLine('*', fmt.Sprintf("Tarpit for '%d.%02d:%02d:%02d'", secs/86400, secs/3600%24, secs/60%60, secs%60), "")
	}
	_ = c.flush()
	sleepCtx(c.ctx, d)
}

// protocolError counts an error toward MaxProtocolErrors; past the limit it sends R26 and marks
// the connection for closing, and the caller sends nothing else.
func (c *conn) protocolError() bool {
	c.errors++
	if c.rc.MaxProtocolErrors.Allows(c.errors) {
		return false
	}
	c.reply(smtpwire.Fixed("R26"))
	c.closed = true
	return true
}

// fail answers a refused command; errors in syntax and order count toward MaxProtocolErrors.
func (c *conn) fail(id smtpwire.ReplyID) {
	if c.protocolError() {
		return
	}
	c.reply(smtpwire.Fixed(id))
}

func (c *conn) ehloParams() EhloParams {
	return EhloParams{Version: c.srv.Version, TLS: c.info.TLS != nil, HasCert: c.tlsConf != nil, Shadow: c.srv.Shadow}
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

// check is the one place where command order is decided. It returns the row to refuse with, or
// "" when the command may run in the current state.
func (c *conn) check(verb string) smtpwire.ReplyID {
	switch verb {
	case "MAIL":
		switch {
		case c.st == stateConnected:
			return "R17"
		case c.st >= stateMail:
			return "R36"
		}
	case "RCPT":
		switch c.st {
		case stateConnected:
			return "R17"
		case stateReady:
			return "R45"
		}
	case "DATA", "BDAT":
		switch c.st {
		case stateConnected:
			return "R17"
		case stateReady:
			return "R45"
		case stateMail:
			return "R47"
		}
	case "STARTTLS", "X-ANONYMOUSTLS", "AUTH", "X-EXPS":
		switch {
		case c.st == stateConnected:
			return "R17"
		case c.st >= stateMail:
			return "X04"
		}
	}
	return ""
}

func (c *conn) handle(line string) {
	cmd := parseCommand(line)
	if m := c.srv.Metrics; m != nil {
		verb, ok := metricVerbs[cmd.Verb]
		if !ok {
			verb = "other"
		}
		m.command(c.rc, verb)
		switch verb {
		case "ehlo", "starttls", "auth", "mail", "rcpt", "data":
			start := time.Now()
			defer func() { m.Phase(c.rc, verb, time.Since(start)) }()
		}
	}
	if refuse := c.check(cmd.Verb); refuse != "" {
		if cmd.Verb == "BDAT" {
			// The chunk follows the command whatever the answer: consume it (RFC 3030 §3;
			// go-smtp issue 315).
			size, _, ok := parseBdatArg(cmd.Arg)
			if !ok {
				c.reply(smtpwire.Fixed("R59"))
				c.closed = true
				return
			}
			if _, err := c.br.Discard(int(min(size, 1<<62))); err != nil {
				c.closed = true
				return
			}
		}
		c.fail(refuse)
		return
	}
	ctx := c.ctx
	switch cmd.Verb {
	case "EHLO", "HELO":
		if c.inject(config.StepEhlo, "", "") {
			return
		}
		c.hello(ctx, cmd)
	case "MAIL":
		c.mail(ctx, cmd.Arg)
	case "RCPT":
		c.rcpt(c.txCtx(), cmd.Arg)
	case "DATA":
		if c.inject(config.StepData, c.from, "") {
			return
		}
		c.data(c.txCtx(), cmd.Arg)
	case "BDAT":
		c.bdat(c.txCtx(), cmd.Arg)
	case "RSET":
		c.resetTransaction()
		c.reply(smtpwire.Fixed("R54"))
	case "NOOP":
		c.reply(smtpwire.Fixed("R55"))
	case "VRFY":
		c.reply(smtpwire.Fixed("R56"))
	case "QUIT":
		c.reply(smtpwire.Fixed("R57"))
		c.closed = true
	case "STARTTLS", "X-ANONYMOUSTLS":
		if c.inject(config.StepStartTls, "", "") {
			return
		}
		if cmd.Verb == "STARTTLS" {
			c.startTLS(cmd, advertised(c.rc, c.ehloParams()).starttls)
		} else {
			c.startTLS(cmd, advertised(c.rc, c.ehloParams()).anonTLS)
		}
	case "AUTH", "X-EXPS":
		if c.inject(config.StepAuth, "", "") {
			return
		}
		c.auth(ctx, cmd)
	case "HELP":
		// No Exchange capture of HELP exists; exlab treats it as unrecognized (spec §5.3).
		c.fail("R58")
	default:
		r, handled := c.sess.Extension(ctx, cmd.Verb, cmd.Arg)
		if !handled {
			c.fail("R58")
			return
		}
		c.reply(r)
	}
}

func (c *conn) hello(ctx context.Context, cmd Command) {
	if !validHelo(cmd.Arg) {
		c.fail("R16")
		return
	}
	c.resetTransaction()
	c.st = stateReady
	c.info.Helo = strings.TrimSpace(cmd.Arg)
	c.info.Ehlo = cmd.Verb == "EHLO"
	c.sess.Hello(ctx)
	ip := c.info.Remote.Addr().Unmap().String()
	if cmd.Verb == "HELO" {
		c.reply(smtpwire.Render("R15", "fqdn", c.rc.Fqdn, "ip", ip))
		return
	}
	c.reply(EhloReply(c.rc, c.ehloParams(), ip))
}

func (c *conn) mail(ctx context.Context, arg string) {
	if c.rc.RequireTLS && c.info.TLS == nil {
		c.reply(smtpwire.Fixed("R19"))
		return
	}
	from, params, err := parsePath(arg, "FROM:", true)
	if errors.Is(err, errSyntax) {
		c.fail("R59")
		return
	}
	if err != nil {
		c.reply(smtpwire.Fixed("R28"))
		return
	}
	ext := advertised(c.rc, c.ehloParams())
	opts, err := parseMailParams(params, ext)
	if err != nil {
		c.fail("R59")
		return
	}
	if !opts.SMTPUTF8 && !isASCII(from) {
		c.reply(smtpwire.Fixed("R28"))
		return
	}
	if c.srv.Faults.Maintenance() {
		// HubTransport Inactive: banner and EHLO as usual, then R32 (spec §5.3, KB2866822).
		c.reply(smtpwire.Fixed("R32"))
		return
	}
	if c.inject(config.StepMail, from, "") {
		return
	}
	if lim := c.sess.SizeLimit(); lim > 0 && opts.Size > lim {
		c.reply(smtpwire.Fixed("R35"))
		return
	}
	// MessageRateLimit: over the limit, R33 and the session is closed (spec §5.3). The
	// message is counted when its MAIL is accepted.
	var taken []*rate.Reservation
	if keys := rateKeys(c.rc, &c.info); len(keys) > 0 {
		var ok bool
		if taken, ok = c.srv.rates.take(c.rc, keys, time.Now()); !ok {
			c.reply(smtpwire.Fixed("R33"))
			c.closed = true
			return
		}
	}
	if r := c.sess.Mail(ctx, from, &opts); r != nil {
		refund(taken, time.Now())
		c.tarpit(r)
		c.reply(r)
		return
	}
	c.st = stateMail
	c.body = opts.Body
	c.from = from
	c.transactions++
	c.startMessage(from)
	if c.plogOn {
		c.logLine('*', c.info.SessionID+";"+time.Now().UTC().Format("2006-01-02T15:04:05.000Z")+";"+strconv.Itoa(c.transactions), "receiving message")
	}
	c.reply(smtpwire.Fixed("R27"))
}

func (c *conn) rcpt(ctx context.Context, arg string) {
	to, params, err := parsePath(arg, "TO:", true)
	if errors.Is(err, errSyntax) {
		c.fail("R59")
		return
	}
	if err != nil || to == "" {
		c.reply(smtpwire.Fixed("X05"))
		return
	}
	opts, err := parseRcptParams(params, advertised(c.rc, c.ehloParams()))
	if err != nil {
		c.fail("R59")
		return
	}
	if c.inject(config.StepRcpt, c.from, to) {
		return
	}
	if c.rcpts >= c.rc.MaxRecipientsPerMessage {
		// The extra recipients are refused; the message is not (spec §5.3, R41).
		c.reply(smtpwire.Fixed("R41"))
		return
	}
	if r := c.sess.Rcpt(ctx, to, &opts); r != nil {
		c.tarpit(r)
		c.reply(r)
		return
	}
	c.rcpts++
	if c.srv.Faults != nil {
		c.rcptList = append(c.rcptList, to)
	}
	c.st = stateRcpt
	c.reply(smtpwire.Fixed("R37"))
}

func (c *conn) data(ctx context.Context, arg string) {
	if strings.TrimSpace(arg) != "" {
		c.fail("R59")
		return
	}
	if c.body == "BINARYMIME" {
		// BINARYMIME bodies can only travel in BDAT (RFC 3030 §3).
		c.fail("X04")
		return
	}
	c.reply(smtpwire.Fixed("R46"))
	if err := c.flush(); err != nil {
		c.closed = true
		return
	}
	c.inBody.Store(true)
	dr := newDotReader(c.br, c.sess.SizeLimit())
	body := newBodyReader(dr, c.rc)
	start := time.Now()
	r, eod := c.handOver(ctx, body)
	c.transferred(body, start)
	err := dr.drain()
	c.inBody.Store(false)
	if err != nil {
		// The client went away or timed out inside DATA: nothing was acknowledged.
		c.readFailed(err)
		c.closed = true
		c.resetTransaction()
		return
	}
	c.finishMessage(r, dr.limit > 0 && dr.n > dr.limit, body, eod, dr.n)
}

// finishMessage sends a message's final reply: the engine's own for a message too large
// (R51), a header too large (X09) or too many hops (R52), else the session's; an EndOfData
// fault has the last word.
func (c *conn) finishMessage(r *smtpwire.Reply, tooLarge bool, body *bodyReader, eod *faultRule, size int64) {
	switch {
	case tooLarge:
		r = smtpwire.Fixed("R51")
	case body.hdrTooLarge:
		r = smtpwire.Fixed("X09")
	case body.hopExceeded:
		r = smtpwire.Fixed("R52")
	}
	if c.finishFault(eod, &r) {
		return
	}
	r = ReplyOrFail(r)
	c.endMessage(r.Code())
	c.resetTransaction()
	c.accepted(r, size)
}

// handOver gives the message to the Session, unless an EndOfData fault answers for it: then
// the message is read to its end and dropped, never handed on (a fault reply must not be
// followed by a delivery). A Bandwidth fault slows the rest of the transfer.
func (c *conn) handOver(ctx context.Context, body io.Reader) (*smtpwire.Reply, *faultRule) {
	var eod *faultRule
	if c.srv.Faults != nil {
		eod = c.fault(config.StepEndOfData, c.from, "")
	}
	if eod != nil && (eod.Action == config.FaultReply || eod.Action == config.FaultDisconnect) {
		_, _ = io.Copy(io.Discard, body)
		return nil, eod
	}
	if eod != nil && eod.Action == config.FaultBandwidth {
		c.apply(eod)
		eod = nil
	}
	return c.sess.Data(ctx, body), eod
}

// finishFault carries out an EndOfData fault once the data is in: the injected reply replaces
// the final reply, a delay holds it back, a disconnect ends the session without one (true:
// the caller does nothing more).
func (c *conn) finishFault(eod *faultRule, r **smtpwire.Reply) bool {
	if eod == nil {
		return false
	}
	switch eod.Action {
	case config.FaultReply:
		*r = eod.reply
		if eod.reply.Code() == 421 {
			c.closed = true
		}
	case config.FaultDisconnect:
		c.endMessage(0)
		c.resetTransaction()
		c.apply(eod)
		return true
	default:
		c.apply(eod)
	}
	return false
}

// accepted sends the final reply of a message and counts it when it is a 250.
func (c *conn) accepted(r *smtpwire.Reply, size int64) {
	c.reply(r)
	if m := c.srv.Metrics; m != nil && strings.HasPrefix(r.Text, "250") {
		m.accepted(c.rc, size)
	}
}

// bodyReader gives the session the message reader and nothing else of it, notes when the
// session read its end (the transfer phase's end), and applies MaxHeaderSize: it follows the
// header block to its blank line (CRLF CRLF, or CRLF at the very start) and fails the read
// with ErrHeaderTooLarge when more than hdrLimit bytes come before it.
type bodyReader struct {
	r   io.Reader
	eof time.Time

	hdrLimit    int64  // MaxHeaderSize (0: none)
	hdrN        int64  // header bytes seen so far
	tail        uint32 // the last four bytes seen, for the blank line
	hdrDone     bool
	hdrTooLarge bool

	// MaxHopCount: Received: fields are counted as the header block goes by; one too many
	// fails the read, so the message is never handed on (the frontend's hop to the hub is
	// aborted) and the engine answers R52.
	hopLimit    int
	received    int
	match       int // bytes of "received:" matched at the start of the current line; -1: no match
	hopExceeded bool
}

func newBodyReader(r io.Reader, rc *config.ReceiveConnector) *bodyReader {
	return &bodyReader{r: r, hdrLimit: int64(rc.MaxHeaderSize), hopLimit: rc.MaxHopCount}
}

const receivedName = "received:"

func (d *bodyReader) Read(p []byte) (int, error) {
	switch {
	case d.hdrTooLarge:
		return 0, ErrHeaderTooLarge
	case d.hopExceeded:
		return 0, ErrHopCount
	}
	n, err := d.r.Read(p)
	if !d.hdrDone && n > 0 {
		for i, b := range p[:n] {
			d.tail = d.tail<<8 | uint32(b)
			d.hdrN++
			if d.tail == 0x0d0a0d0a || (d.hdrN == 2 && d.tail&0xffff == 0x0d0a) {
				d.hdrDone = true
				break
			}
			if d.hdrLimit > 0 && d.hdrN > d.hdrLimit {
				d.hdrTooLarge = true
				return i, ErrHeaderTooLarge
			}
			switch {
			case b == '\n':
				d.match = 0
			case d.match >= 0 && d.match < len(receivedName) && b|0x20 == receivedName[d.match]:
				if d.match++; d.match == len(receivedName) {
					d.match = -1
					if d.received++; d.hopLimit > 0 && d.received > d.hopLimit {
						d.hopExceeded = true
						return i, ErrHopCount
					}
				}
			default:
				d.match = -1
			}
		}
	}
	if err == io.EOF && d.eof.IsZero() {
		d.eof = time.Now()
	}
	return n, err
}

// transferred records the transfer phase: from the start of the data to its last byte.
func (c *conn) transferred(b *bodyReader, start time.Time) {
	if m := c.srv.Metrics; m != nil && !b.eof.IsZero() {
		m.Phase(c.rc, "transfer", b.eof.Sub(start))
	}
}

// ReplyOrFail guards against a nil final reply from a Session.
func ReplyOrFail(r *smtpwire.Reply) *smtpwire.Reply {
	if r == nil {
		return smtpwire.Fixed("X01")
	}
	return r
}

func (c *conn) bdat(ctx context.Context, arg string) {
	size, last, ok := parseBdatArg(arg)
	if !ok {
		// The chunk's end is unknown, so the stream cannot be resynchronised: answer, close.
		c.reply(smtpwire.Fixed("R59"))
		c.closed = true
		return
	}
	if c.srv.Faults != nil {
		if f := c.fault(config.StepData, c.from, ""); f != nil {
			if f.Action == config.FaultReply {
				// The chunk follows the command whatever the answer (RFC 3030 §3).
				if _, err := c.br.Discard(int(min(size, 1<<62))); err != nil {
					c.closed = true
					return
				}
			}
			if c.apply(f) {
				return
			}
		}
	}
	s := &bdatStream{c: c, chunk: size, remaining: size, last: last, binary: c.body == "BINARYMIME",
		limit: c.sess.SizeLimit(), raw: make([]byte, 0, 4096)}
	c.inBody.Store(true)
	body := newBodyReader(s, c.rc)
	start := time.Now()
	r, eod := c.handOver(ctx, body)
	c.transferred(body, start)
	c.inBody.Store(false)
	switch {
	case s.interrupt != "":
		c.resetTransaction()
		next := parseCommand(s.interrupt)
		if next.Verb == "DATA" {
			c.fail("X04")
			return
		}
		c.handle(s.interrupt)
		return
	case s.err != nil && !s.tooLarge:
		c.readFailed(s.err)
		c.closed = true
		c.resetTransaction()
		return
	}
	if err := s.discardChunk(); err != nil {
		c.closed = true
		c.resetTransaction()
		return
	}
	c.finishMessage(r, s.tooLarge, body, eod, s.n)
}

func (c *conn) startTLS(cmd Command, offered bool) {
	if !offered {
		c.fail("R58")
		return
	}
	if strings.TrimSpace(cmd.Arg) != "" {
		c.fail("R59")
		return
	}
	c.reply(smtpwire.Fixed("R18"))
	if err := c.flush(); err != nil {
		c.closed = true
		return
	}
	// Plaintext pipelined behind STARTTLS is dropped with the old reader (CVE-2011-0411,
	// RFC 3207 §4.2): the new reader reads only from the TLS connection.
	tc := tls.Server(c.raw, c.tlsConf)
	_ = tc.SetDeadline(time.Now().Add(c.idle))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.srv.logger().Info("TLS negotiation failed", "connector", c.rc.Identity(), "session", c.info.SessionID, "err", err)
		c.closed = true
		return
	}
	_ = tc.SetDeadline(time.Time{})
	c.lastDeadline = time.Time{}
	st := tc.ConnectionState()
	c.nc = tc
	c.info.TLS = &st
	if c.plogOn {
		if len(c.tlsConf.Certificates) > 0 && c.tlsConf.Certificates[0].Leaf != nil {
			l := c.tlsConf.Certificates[0].Leaf
			c.logLine('*', fmt.Sprintf(" %s %s %X %X %s %s %s", l.Subject, l.Issuer, l.SerialNumber, sha1.Sum(l.Raw),
				l.NotBefore.UTC().Format("2006-01-02T15:04:05.000Z"), l.NotAfter.UTC().Format("2006-01-02T15:04:05.000Z"), strings.Join(l.DNSNames, ";")),
				"Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after Subject alternate names")
		}
		c.logLine('*', "", tlsLogText(st))
	}
	c.br = bufio.NewReaderSize(deadlineReader{c}, maxLineLength)
	c.bw.Reset(connWriter{c})
	// The client must say EHLO again (RFC 3207 §4.2).
	c.resetTransaction()
	c.st = stateConnected
}

func (c *conn) auth(ctx context.Context, cmd Command) {
	mech, initial, _ := strings.Cut(strings.TrimSpace(cmd.Arg), " ")
	if cmd.Verb == "X-EXPS" && !c.rc.HasAuth(config.AuthExchangeServer) {
		c.fail("R84")
		return
	}
	if c.authed {
		c.fail("X07")
		return
	}
	sasl, refuse := c.sess.Auth(ctx, cmd.Verb, strings.ToUpper(mech))
	if refuse != nil {
		c.reply(refuse)
		return
	}
	var resp []byte
	first := true
	if initial != "" {
		if initial != "=" {
			b, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				c.reply(smtpwire.Fixed("X06"))
				return
			}
			resp = b
		} else {
			resp = []byte{}
		}
	}
	for {
		challenge, final := sasl.Next(resp, first)
		first = false
		if final != nil {
			switch final.Code() {
			case 235:
				c.authed = true
			case 535:
				c.logLine('*', "", "Inbound AUTH "+strings.ToUpper(mech)+" failed because of LogonDenied")
				// The MaxLogonFailures-th failure (0: never) closes the session, answered with
				// R26 instead of 535 so the command still gets one reply (Event 1012's
				// situation; R26 is exlab's text, the real one is not public).
				c.logonFailures++
				if n := c.rc.MaxLogonFailures; n > 0 && c.logonFailures >= n {
					c.reply(smtpwire.Fixed("R26"))
					c.closed = true
					return
				}
			}
			c.reply(final)
			return
		}
		c.reply(smtpwire.Render("X03", "challenge", base64.StdEncoding.EncodeToString(challenge)))
		line, err := c.readLine()
		if err != nil {
			c.closed = true
			return
		}
		c.logLine('<', "<authentication response>", "")
		if line == "*" {
			c.reply(smtpwire.Fixed("X06"))
			return
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			c.reply(smtpwire.Fixed("X06"))
			return
		}
		resp = b
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// logger returns the server's logger or a discarding one.
func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Protocol log hooks (spec §7.1).

// logLine adds one line to the session's protocol log.
func (c *conn) logLine(event byte, data, context string) {
	if !c.plogOn {
		return
	}
	if c.plogLocal == "" {
		c.plogLocal, c.plogRemote, c.plogID = smtpwire.LogEndpoint(c.info.Local), smtpwire.LogEndpoint(c.info.Remote), c.rc.Identity()
	}
	if c.plog == nil {
		c.plog = make([]smtpwire.LogLine, 0, 8)
	}
	c.plog = append(c.plog, smtpwire.LogLine{Time: time.Now(), Connector: c.plogID, Session: c.info.SessionID, Seq: c.plogSeq,
		Local: c.plogLocal, Remote: c.plogRemote, Event: event, Data: data, Context: context})
	c.plogSeq++
}

// logCommand logs a command line; AUTH's initial response is not written.
func (c *conn) logCommand(line string) {
	if !c.plogOn {
		return
	}
	if v := strings.ToUpper(line[:min(len(line), 6)]); v == "AUTH P" || v == "AUTH L" || strings.HasPrefix(v, "AUTH ") || strings.HasPrefix(v, "X-EXPS") {
		if f := strings.Fields(line); len(f) > 2 {
			line = f[0] + " " + f[1] + " <authentication response>"
		}
	}
	c.logLine('<', line, "")
}

// disconnected writes the '-' line: Local when exlab ended the session, Remote when the client
// did, Remote(SocketError) when the connection broke.
func (c *conn) disconnected(err error) {
	if !c.plogOn {
		return
	}
	ctx := "Local"
	switch {
	case err == nil, errors.Is(err, errIdleTimeout), errors.Is(err, errSessionTimout), errors.Is(err, errShutdown):
	case errors.Is(err, io.EOF):
		ctx = "Remote"
	default:
		ctx = "Remote(SocketError)"
	}
	c.logLine('-', "", ctx)
	c.srv.ProtocolLog.Write(c.plog)
	c.plog = nil
}

// Logging says whether the session writes a protocol log.
func (ci *ConnInfo) Logging() bool { return ci.logf != nil }

// Info writes a '*' line to the session's protocol log (policy sessions use it for the proxy
// destination line and the like).
func (ci *ConnInfo) Info(data, context string) {
	if ci.logf != nil {
		ci.logf(data, context)
	}
}

// tlsLogText is the protocol log's TLS line in Exchange's SChannel words (spec §7.1), mapped
// from what Go negotiated.
func tlsLogText(st tls.ConnectionState) string {
	proto := map[uint16]string{tls.VersionTLS12: "SP_PROT_TLS1_2_SERVER", tls.VersionTLS13: "SP_PROT_TLS1_3_SERVER"}[st.Version]
	if proto == "" {
		proto = "SP_PROT_TLS1_0_SERVER"
	}
	name := tls.CipherSuiteName(st.CipherSuite)
	bulk, strength := "CALG_AES_128", 128
	switch {
	case strings.Contains(name, "AES_256"):
		bulk, strength = "CALG_AES_256", 256
	case strings.Contains(name, "CHACHA20"):
		bulk, strength = "CALG_CHACHA20", 256
	}
	mac := "CALG_SHA_256"
	if strings.HasSuffix(name, "SHA384") {
		mac = "CALG_SHA_384"
	}
	return fmt.Sprintf("TLS protocol %s negotiation succeeded using bulk encryption algorithm %s with strength %d bits, "+
		"MAC hash algorithm %s with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits", proto, bulk, strength, mac)
}
