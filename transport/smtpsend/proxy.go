// Package smtpsend is exlab's SMTP send side, Exchange's SmtpSend, built on go-smtp's client:
// the frontend's proxy hop to a hub (inbound proxy, spec §6.1: a pool of X-EXPS-authenticated
// hub sessions, the client's envelope replayed with the original client's identity in
// XPROXYFROM, the body streamed as BDAT, the hub's own final reply handed back), the hub's hop
// through the Outbound Proxy Frontend (XPROXYTO, spec §6.4), and send connectors' next hops
// (smart hosts or MX, STARTTLS, basic authentication, failover; deliver.go, mx.go) with the
// SmtpSend protocol log (protolog.go). It renders no replies to clients: proxy failures come
// back as typed errors naming Exchange's PRX code, next-hop results as RcptResult lines in
// Exchange's SmtpSend texts from the reply table. It imports config and transport/smtpwire.
package smtpsend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/exlab/exlab/transport/smtpwire"
)

// PRX codes (spec §6.1): why the frontend could not proxy a message.
const (
	PRXNoDestination = 1 // no hub could be chosen
	PRXDNS           = 2 // the hub's name did not resolve
	PRXConnect       = 3 // TCP connection to every candidate hub failed
	PRXSessionSetup  = 4 // the proxy session could not be set up (X-EXPS refused)
	PRXTLS           = 5 // TLS to the hub failed
	PRXProtocol      = 7 // the hub answered the proxied session with a protocol error
)

// ErrNoHub is what a Dial function returns when there is no hub to proxy to (PRX1).
var ErrNoHub = errors.New("no hub destination")

// Error is a failed proxy hop: either a PRX code, or the hub's own refusal to pass through.
type Error struct {
	PRX  int       // 0 when Hub is set
	Hub  *HubReply // the hub's reply, to hand back unchanged
	Step string    // connect, hello, auth, xproxyfrom, mail, rcpt, data, end-of-data
	Err  error
}

func (e *Error) Error() string {
	if e.Hub != nil {
		return fmt.Sprintf("hub refused at %s: %d %s", e.Step, e.Hub.Code, e.Hub.Text)
	}
	return fmt.Sprintf("PRX%d at %s: %v", e.PRX, e.Step, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// HubReply is a reply from the hub: its code and the text after the code (enhanced code
// included), multi-line replies joined by "\n".
type HubReply struct {
	Code int
	Text string
}

// Envelope is what the frontend replays to the hub, what the hub hands to a frontend's Outbound
// Proxy connector, or what the hub hands to Mailbox Delivery (475), which takes no XPROXY
// command: with neither ProxyFrom nor ProxyTo the transaction starts with MAIL.
type Envelope struct {
	ProxyFrom string // the XPROXYFROM argument describing the original client
	ProxyTo   string // instead: the XPROXYTO argument naming the next hops (hub -> 717)
	// Shadow instead: the XSHADOWREQUEST argument of a shadow copy (hub -> another hub's
	// Default <SERVER>, spec §8.4), whose reply comes first like XPROXYFROM's.
	Shadow string
	// PerRecipient makes a refused recipient that recipient's result (RcptReplies) instead of
	// the message's failure; XPROXYTO transactions always work so.
	PerRecipient bool
	From         string
	Mail         smtp.MailOptions
	Recipients   []Recipient
}

// Recipient is one RCPT with its DSN options.
type Recipient struct {
	Address string
	Options *smtp.RcptOptions
}

// Proxy opens and pools sessions to the hub's Default <SERVER> connector.
type Proxy struct {
	// Addr returns the hub address ("host:port"), or "" when none is known (PRX1).
	Addr func() string
	// Dial, when set, opens the connection to the hub instead of a TCP dial to Addr (an
	// in-process pipe when frontend and hub run in one process).
	Dial func(ctx context.Context) (net.Conn, error)
	// LocalIP, when set, is the address a TCP dial to Addr is made from (DialFrom).
	LocalIP func() netip.Addr
	// HeloName is the frontend's FQDN, sent in EHLO.
	HeloName string
	// AuthKey is the organization's ExchangeServer key: the frontend answers the hub's X-EXPS
	// challenge with smtpwire.ExchangeAuthResponse (HMAC-SHA256(key, challenge)).
	AuthKey        []byte
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	PoolSize       int
	// IdleTimeout closes pooled sessions unused this long (the hub drops them after its
	// ConnectionInactivityTimeout anyway); MaxAge (0: none) closes sessions opened longer ago,
	// before the receiving connector's ConnectionTimeout ends one in the middle of a message.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// ProtocolLog, when set, receives each session's SmtpSend protocol-log lines (connector
	// "Intra-Organization SMTP Send Connector", the implicit intra-org send connector), at the
	// end of a transaction once 64 lines or a second's worth have gathered, and at the
	// session's end; message bodies are not logged, X-EXPS data is redacted.
	ProtocolLog func([]smtpwire.LogLine)

	mu   sync.Mutex
	idle []*hubConn
}

// hubConn is one authenticated session to a hub. go-smtp's client opens it (greeting, EHLO,
// extension list); after that exlab drives it itself with a reader and writer of its own,
// because go-smtp's client neither pipelines nor speaks BDAT, and both matter here: the whole
// envelope and a small body travel in one write, and the hub answers in one (spec §6.1 lets
// the body travel as BDAT when the hub offers CHUNKING).
type hubConn struct {
	conn       net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	chunking   bool
	pipelining bool
	lastUsed   time.Time
	opened     time.Time
}

// DialFrom dials addr over TCP from local, when local is valid and as loopback as addr's host
// (an IP; a host name is dialled from wherever the system picks): the source address of a
// server of the organization dialling another, so that the peer sees the server's own
// address, as it does when each runs on a machine of its own.
func DialFrom(ctx context.Context, local netip.Addr, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if local.IsValid() && !local.IsUnspecified() {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if dst, err := netip.ParseAddr(host); err == nil && dst.IsLoopback() == local.IsLoopback() && dst.Is4() == local.Is4() {
				d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
			}
		}
	}
	return d.DialContext(ctx, "tcp", addr)
}

// IntraOrgConnector is the name the SmtpSend log gives the implicit send connector between
// Exchange servers (spec §7.1).
const IntraOrgConnector = "Intra-Organization SMTP Send Connector"

// Close closes every pooled session.
func (p *Proxy) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, h := range idle {
		h.quit()
	}
}

func (h *hubConn) quit() {
	_ = h.conn.SetDeadline(time.Now().Add(time.Second))
	_, _ = h.bw.WriteString("QUIT\r\n")
	_ = h.bw.Flush()
	_ = h.conn.Close()
}

// staleCheckAfter is how long a pooled TCP session must have been idle before get peeks at its
// socket to check that the hub still holds it.
const staleCheckAfter = 100 * time.Millisecond

// pipePeer is an in-process pipe's end (smtpreceive.Pipe), which can say without waiting
// whether its peer closed or spoke.
type pipePeer interface{ PeerClosed() bool }

// peerGone says, without waiting, whether a pooled session's peer has ended it or said
// something unasked: an in-process pipe answers for itself, a socket is peeked at
// (peerClosed, per platform); known is false when neither can tell.
func peerGone(c net.Conn, assumeOpen bool) (closed, known bool) {
	if lc, ok := c.(*logConn); ok {
		c = lc.Conn
	}
	if pc, ok := c.(pipePeer); ok {
		return pc.PeerClosed(), true
	}
	return peerClosed(c, assumeOpen)
}

// get takes an idle session from the pool. One the hub has closed in the meantime is found by
// asking its pipe or peeking at its socket (peerGone; an idle hub says nothing unless it is
// closing), else by a read that must time out at once.
func (p *Proxy) get() *hubConn {
	for {
		p.mu.Lock()
		if len(p.idle) == 0 {
			p.mu.Unlock()
			return nil
		}
		h := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		p.mu.Unlock()
		now := time.Now()
		idle := now.Sub(h.lastUsed)
		if (p.IdleTimeout > 0 && idle > p.IdleTimeout) || (p.MaxAge > 0 && now.Sub(h.opened) > p.MaxAge) {
			go h.quit()
			continue
		}
		if h.br.Buffered() == 0 {
			// A socket used a moment ago (under load, every get) is taken without the system
			// call: a hub that went in between is a failure the caller may retry, nothing
			// having been read.
			if closed, known := peerGone(h.conn, idle < staleCheckAfter); known {
				if !closed {
					return h
				}
				_ = h.conn.Close()
				continue
			}
		}
		_ = h.conn.SetReadDeadline(time.Now())
		_, err := h.br.Peek(1)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			_ = h.conn.SetReadDeadline(time.Time{})
			return h
		}
		_ = h.conn.Close()
	}
}

func (p *Proxy) put(h *hubConn) {
	h.lastUsed = time.Now()
	p.mu.Lock()
	if len(p.idle) < p.PoolSize {
		p.idle = append(p.idle, h)
		h = nil
	}
	p.mu.Unlock()
	if h != nil {
		h.quit()
	}
}

func (p *Proxy) dial(ctx context.Context) (*hubConn, error) {
	var conn net.Conn
	var err error
	if p.Dial != nil {
		if conn, err = p.Dial(ctx); errors.Is(err, ErrNoHub) {
			return nil, &Error{PRX: PRXNoDestination, Step: "connect", Err: err}
		}
	} else {
		addr := ""
		if p.Addr != nil {
			addr = p.Addr()
		}
		if addr == "" {
			return nil, &Error{PRX: PRXNoDestination, Step: "connect", Err: ErrNoHub}
		}
		var local netip.Addr
		if p.LocalIP != nil {
			local = p.LocalIP()
		}
		conn, err = DialFrom(ctx, local, addr, p.ConnectTimeout)
	}
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return nil, &Error{PRX: PRXDNS, Step: "connect", Err: err}
		}
		return nil, &Error{PRX: PRXConnect, Step: "connect", Err: err}
	}
	if p.ProtocolLog != nil {
		plog := newSendLog(SendOptions{Connector: IntraOrgConnector, ProtocolLog: p.ProtocolLog}, conn)
		plog.add('+', "", "")
		conn = &logConn{Conn: conn, l: plog}
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = p.CommandTimeout
	if err := c.Hello(p.HeloName); err != nil {
		conn.Close()
		return nil, protocolError("hello", err)
	}
	h := &hubConn{conn: conn, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 32<<10), opened: time.Now()}
	h.chunking, _ = c.Extension("CHUNKING")
	h.pipelining, _ = c.Extension("PIPELINING")
	if err := h.exps(p); err != nil {
		conn.Close()
		return nil, err
	}
	return h, nil
}

// exps proves to the hub that this frontend is an Exchange server (X-EXPS, spec §6.1).
func (h *hubConn) exps(p *Proxy) error {
	code, msg, err := h.cmd(p.CommandTimeout, "X-EXPS GSSAPI")
	if err != nil {
		return &Error{PRX: PRXSessionSetup, Step: "auth", Err: err}
	}
	if code != 334 {
		return &Error{PRX: PRXSessionSetup, Step: "auth", Err: fmt.Errorf("hub answered X-EXPS with %d %s", code, msg)}
	}
	challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(msg))
	if err != nil {
		return &Error{PRX: PRXSessionSetup, Step: "auth", Err: err}
	}
	code, msg, err = h.cmd(p.CommandTimeout, base64.StdEncoding.EncodeToString(smtpwire.ExchangeAuthResponse(p.AuthKey, challenge)))
	if err != nil || code != 235 {
		return &Error{PRX: PRXSessionSetup, Step: "auth", Err: fmt.Errorf("hub refused X-EXPS: %d %s %v", code, msg, err)}
	}
	return nil
}

// cmd sends one command and reads its reply.
func (h *hubConn) cmd(timeout time.Duration, line string) (int, string, error) {
	_ = h.conn.SetDeadline(time.Now().Add(timeout))
	defer h.conn.SetDeadline(time.Time{})
	_, _ = h.bw.WriteString(line)
	_, _ = h.bw.WriteString("\r\n")
	if err := h.bw.Flush(); err != nil {
		return 0, "", err
	}
	r, err := h.readReply()
	if err != nil {
		return 0, "", err
	}
	return r.Code, r.Text, nil
}

// readReply reads one (possibly multi-line) reply; Text keeps everything after the code, lines
// joined by "\n", so the reply can be handed on exactly. A one-line reply, the usual one, costs
// one string and the HubReply.
func (h *hubConn) readReply() (*HubReply, error) {
	var text []byte
	code := 0
	for n := 0; ; n++ {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				err = fmt.Errorf("reply line longer than %d bytes", h.br.Size())
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
			return nil, fmt.Errorf("malformed reply %q", line)
		}
		c := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		if code != 0 && c != code {
			return nil, fmt.Errorf("malformed reply %q", line)
		}
		code = c
		last := len(line) == 3 || line[3] == ' '
		if !last && line[3] != '-' {
			return nil, fmt.Errorf("malformed reply %q", line)
		}
		var rest []byte
		if len(line) > 4 {
			rest = line[4:]
		}
		if last && n == 0 {
			return &HubReply{Code: code, Text: string(rest)}, nil
		}
		if n > 0 {
			text = append(text, '\n')
		}
		text = append(text, rest...)
		if last {
			return &HubReply{Code: code, Text: string(text)}, nil
		}
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func protocolError(step string, err error) *Error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &Error{PRX: PRXProtocol, Step: step, Err: err, Hub: hubReply(se)}
	}
	return &Error{PRX: PRXProtocol, Step: step, Err: err}
}

func hubReply(se *smtp.SMTPError) *HubReply {
	text := se.Message
	if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
		e := se.EnhancedCode
		prefix := fmt.Sprintf("%d.%d.%d ", e[0], e[1], e[2])
		text = prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
	}
	return &HubReply{Code: se.Code, Text: text}
}

// Transaction is one message being proxied. The envelope is written at Begin but sent with the
// first part of the body; the body is sent as BDAT chunks, one chunk behind what was read, so
// that the last one carries LAST and a small message goes out in a single write. Replies are
// read at End, in order.
type Transaction struct {
	p       *Proxy
	h       *hubConn
	timeout time.Duration
	pending []byte // the chunk read but not yet sent
	chunks  int    // non-LAST BDAT chunks sent
	rcpts   int
	// perRcpt (XPROXYTO, PerRecipient): a refused recipient is that recipient's result, not the
	// message's.
	perRcpt bool
	// proxyCmd: the transaction began with XPROXYFROM or XPROXYTO, whose reply comes first.
	proxyCmd bool
	// closing: a reply was 421, after which the receiving end closes the session.
	closing     bool
	rcptReplies []*HubReply
	dot         dotStuffer // DATA mode (a hub without CHUNKING)
	failed      error
}

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// Begin takes a pooled hub session (or opens one) and queues the envelope: XPROXYFROM, MAIL and
// RCPT (and DATA for a hub without CHUNKING, which then has to be answered first).
func (p *Proxy) Begin(ctx context.Context, env *Envelope) (*Transaction, error) {
	h := p.get()
	if h == nil {
		var err error
		if h, err = p.dial(ctx); err != nil {
			return nil, err
		}
	}
	t := &Transaction{p: p, h: h, timeout: p.CommandTimeout, rcpts: len(env.Recipients),
		perRcpt: env.ProxyTo != "" || env.PerRecipient, proxyCmd: env.ProxyTo != "" || env.ProxyFrom != "" || env.Shadow != ""}
	_ = h.conn.SetDeadline(time.Now().Add(t.timeout))
	w := h.bw
	switch {
	case env.ProxyTo != "":
		w.WriteString("XPROXYTO ")
		w.WriteString(env.ProxyTo)
		w.WriteString("\r\n")
	case env.ProxyFrom != "":
		w.WriteString("XPROXYFROM ")
		w.WriteString(env.ProxyFrom)
		w.WriteString("\r\n")
	case env.Shadow != "":
		w.WriteString("XSHADOWREQUEST ")
		w.WriteString(env.Shadow)
		w.WriteString("\r\n")
	}
	writeMail(w, env)
	for _, r := range env.Recipients {
		writeRcpt(w, r)
	}
	if !h.chunking || !h.pipelining {
		return t, t.beginData()
	}
	bp := chunkBufs.Get().(*[]byte)
	t.pending = (*bp)[:0]
	return t, nil
}

// Command sends one command line outside a transaction on a pooled session (or a new one) and
// returns the reply, its lines joined by "\n" (a shadow server's XQDISCARD to its primary).
func (p *Proxy) Command(ctx context.Context, line string) (*HubReply, error) {
	h := p.get()
	if h == nil {
		var err error
		if h, err = p.dial(ctx); err != nil {
			return nil, err
		}
	}
	timeout := p.CommandTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	_ = h.conn.SetDeadline(time.Now().Add(timeout))
	_, _ = h.bw.WriteString(line)
	_, _ = h.bw.WriteString("\r\n")
	if err := h.bw.Flush(); err != nil {
		h.conn.Close()
		return nil, &Error{PRX: PRXProtocol, Step: "command", Err: err}
	}
	r, err := h.readReply()
	if err != nil {
		h.conn.Close()
		return nil, &Error{PRX: PRXProtocol, Step: "command", Err: err}
	}
	_ = h.conn.SetDeadline(time.Time{})
	if lc, ok := h.conn.(*logConn); ok {
		lc.l.transactionEnded()
	}
	if r.Code == 421 {
		h.conn.Close()
	} else {
		p.put(h)
	}
	return r, nil
}

func writeMail(w *bufio.Writer, env *Envelope) {
	w.WriteString("MAIL FROM:<")
	w.WriteString(env.From)
	w.WriteString(">")
	o := env.Mail
	if o.Body != "" {
		w.WriteString(" BODY=" + string(o.Body))
	}
	if o.Size > 0 {
		w.WriteString(" SIZE=" + strconv.FormatInt(o.Size, 10))
	}
	if o.UTF8 {
		w.WriteString(" SMTPUTF8")
	}
	if o.Return != "" {
		w.WriteString(" RET=" + string(o.Return))
	}
	if o.EnvelopeID != "" {
		w.WriteString(" ENVID=" + smtpwire.EncodeXtext(o.EnvelopeID))
	}
	w.WriteString("\r\n")
}

func writeRcpt(w *bufio.Writer, r Recipient) {
	w.WriteString("RCPT TO:<")
	w.WriteString(r.Address)
	w.WriteString(">")
	if o := r.Options; o != nil {
		if len(o.Notify) > 0 {
			w.WriteString(" NOTIFY=")
			for i, n := range o.Notify {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(string(n))
			}
		}
		if o.OriginalRecipient != "" {
			w.WriteString(" ORCPT=" + string(o.OriginalRecipientType) + ";" + smtpwire.EncodeXtext(o.OriginalRecipient))
		}
	}
	w.WriteString("\r\n")
}

// beginData is the DATA path for a hub without CHUNKING: the envelope is answered before the
// body may be sent.
func (t *Transaction) beginData() error {
	h := t.h
	h.bw.WriteString("DATA\r\n")
	if err := h.bw.Flush(); err != nil {
		h.conn.Close()
		return &Error{PRX: PRXProtocol, Step: "mail", Err: err}
	}
	if err := t.envelopeReplies(); err != nil {
		if !isBroken(err) {
			h.conn.Close() // the DATA reply is still to come; this fallback path does not reuse it
		}
		return err
	}
	r, err := h.readReply()
	if err != nil {
		h.conn.Close()
		return &Error{PRX: PRXProtocol, Step: "data", Err: err}
	}
	if r.Code != 354 {
		h.conn.Close()
		return &Error{PRX: PRXProtocol, Step: "data", Hub: r, Err: fmt.Errorf("DATA answered %d", r.Code)}
	}
	t.dot = dotStuffer{bol: true}
	return nil
}

// envelopeReplies reads the replies to XPROXYFROM, MAIL and each RCPT. A refused MAIL is the
// hub's answer to pass on (back pressure, R34); a refused recipient fails the message with a
// PRX reply, since the client was already told 250 (spec §6.1, gap 7).
func (t *Transaction) envelopeReplies() error {
	h := t.h
	var first error
	note := func(err error) {
		if first == nil {
			first = err
		}
	}
	if t.proxyCmd {
		r, err := h.readReply()
		if err != nil {
			h.conn.Close()
			return &Error{PRX: PRXProtocol, Step: "xproxyfrom", Err: err}
		}
		if r.Code != 250 {
			note(&Error{PRX: PRXSessionSetup, Step: "xproxyfrom", Err: fmt.Errorf("%d %s", r.Code, r.Text)})
		}
	}
	r, err := h.readReply()
	if err != nil {
		h.conn.Close()
		if first != nil {
			return first // XPROXYFROM refused (a 421 before the hub closed)
		}
		return &Error{PRX: PRXProtocol, Step: "mail", Err: err}
	}
	t.closing = t.closing || r.Code == 421
	if r.Code/100 != 2 {
		note(&Error{Step: "mail", Hub: r, Err: fmt.Errorf("MAIL answered %d", r.Code)})
	}
	for i := 0; i < t.rcpts; i++ {
		if r, err = h.readReply(); err != nil {
			h.conn.Close()
			if first != nil {
				return first
			}
			return &Error{PRX: PRXProtocol, Step: "rcpt", Err: err}
		}
		t.closing = t.closing || r.Code == 421
		switch {
		case t.perRcpt:
			t.rcptReplies = append(t.rcptReplies, r)
		case r.Code/100 != 2:
			note(&Error{PRX: PRXProtocol, Step: "rcpt", Hub: r, Err: fmt.Errorf("RCPT answered %d", r.Code)})
		}
	}
	return first
}

// ReadFrom streams the body from r to the hub: in BDAT mode straight into the chunk buffer, so
// the body is copied once on its way through the frontend. An error that is not an *Error
// came from r (the client's side).
func (t *Transaction) ReadFrom(r io.Reader) (int64, error) {
	if t.pending == nil {
		bp := chunkBufs.Get().(*[]byte)
		defer chunkBufs.Put(bp)
		return io.CopyBuffer(struct{ io.Writer }{t}, r, (*bp)[:cap(*bp)])
	}
	var total int64
	for {
		if t.failed != nil {
			return total, t.failed
		}
		if len(t.pending) == cap(t.pending) {
			_ = t.h.conn.SetWriteDeadline(time.Now().Add(t.timeout))
			if err := t.sendChunk(false); err != nil {
				t.failed = err
				return total, err
			}
		}
		n, err := r.Read(t.pending[len(t.pending):cap(t.pending)])
		t.pending = t.pending[:len(t.pending)+n]
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// WriteString streams body text to the hub, without the copy a []byte conversion makes.
func (t *Transaction) WriteString(b string) (int, error) {
	if t.failed != nil || t.pending == nil || (len(t.pending)+len(b) > cap(t.pending) && len(t.pending) > 0) {
		return t.Write([]byte(b))
	}
	t.pending = append(t.pending, b...)
	return len(b), nil
}

// Write streams body bytes to the hub.
func (t *Transaction) Write(b []byte) (int, error) {
	if t.failed != nil {
		return 0, t.failed
	}
	_ = t.h.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	if t.pending == nil {
		t.dot.write(t.h.bw, b)
		return len(b), nil
	}
	if len(t.pending)+len(b) > cap(t.pending) && len(t.pending) > 0 {
		if err := t.sendChunk(false); err != nil {
			t.failed = err
			return 0, err
		}
	}
	t.pending = append(t.pending, b...)
	return len(b), nil
}

func (t *Transaction) sendChunk(last bool) error {
	w := t.h.bw
	w.WriteString("BDAT ")
	w.WriteString(strconv.Itoa(len(t.pending)))
	if last {
		w.WriteString(" LAST")
	} else {
		t.chunks++
	}
	w.WriteString("\r\n")
	w.Write(t.pending)
	t.pending = t.pending[:0]
	if err := w.Flush(); err != nil {
		return &Error{PRX: PRXProtocol, Step: "data", Err: err}
	}
	return nil
}

// End finishes the body and returns the hub's final reply: its 250 on success, or its
// refusal as an *Error with Hub set. Only the hub's own 250 is ever returned as success.
func (t *Transaction) End() (*HubReply, error) {
	defer t.release()
	h := t.h
	if t.failed != nil {
		h.conn.Close()
		return nil, t.failed
	}
	_ = h.conn.SetDeadline(time.Now().Add(t.timeout))
	var envErr error
	if t.pending != nil {
		if err := t.sendChunk(true); err != nil {
			h.conn.Close()
			return nil, err
		}
		if envErr = t.envelopeReplies(); isBroken(envErr) {
			return nil, envErr
		}
	} else {
		t.dot.end(h.bw)
		if err := h.bw.Flush(); err != nil {
			h.conn.Close()
			return nil, &Error{PRX: PRXProtocol, Step: "data", Err: err}
		}
	}
	// One reply per non-LAST chunk, then the final one.
	var refused, final *HubReply
	for i := 0; i <= t.chunks; i++ {
		r, err := h.readReply()
		if err != nil {
			h.conn.Close()
			return nil, &Error{PRX: PRXProtocol, Step: "end-of-data", Err: err}
		}
		if r.Code/100 != 2 && refused == nil {
			refused = r
		}
		t.closing = t.closing || r.Code == 421
		final = r
	}
	_ = h.conn.SetDeadline(time.Time{})
	if lc, ok := h.conn.(*logConn); ok {
		lc.l.transactionEnded() // before another transaction may take the session
	}
	if t.closing {
		h.conn.Close() // the receiving end has ended the session (a 421)
	} else {
		t.p.put(h)
	}
	switch {
	case envErr != nil:
		return nil, envErr
	case refused != nil:
		return nil, &Error{Step: "end-of-data", Hub: refused, Err: fmt.Errorf("hub refused the message: %d", refused.Code)}
	}
	return final, nil
}

// RcptReplies are the replies to each RCPT of an XPROXYTO transaction, once End returned
// (fewer when the session broke before they were read).
func (t *Transaction) RcptReplies() []*HubReply { return t.rcptReplies }

// isBroken says whether err means the hub session is unusable (no reply could be read).
func isBroken(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Hub == nil && pe.PRX == PRXProtocol
}

func (t *Transaction) release() {
	if t.pending != nil {
		b := t.pending[:0]
		chunkBufs.Put(&b)
		t.pending = nil
	}
}

// Abort drops the transaction: the hub session is closed before the last chunk, so the hub
// discards the partial message.
func (t *Transaction) Abort() {
	t.release()
	_ = t.h.conn.Close()
}

// dotStuffer writes a CRLF body for DATA: a dot at the start of a line is doubled, and End
// adds the terminating <CRLF>.<CRLF>.
type dotStuffer struct{ bol, cr bool }

func (d *dotStuffer) write(w *bufio.Writer, b []byte) {
	for len(b) > 0 {
		if d.bol && b[0] == '.' {
			w.WriteByte('.')
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.Write(b)
			d.bol = false
			d.cr = b[len(b)-1] == '\r'
			return
		}
		w.Write(b[:i+1])
		b = b[i+1:]
		d.bol = true
	}
}

func (d *dotStuffer) end(w *bufio.Writer) {
	if !d.bol {
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
}
