// Package smtpsend is exlab's SMTP send side, Exchange's SmtpSend, built on go-smtp's client:
// the frontend's proxy hop to a hub (inbound proxy, spec §6.1) now, send connectors later. It
// keeps a pool of authenticated hub sessions, replays the client's envelope with the original
// client's identity (XPROXYFROM), streams the body, and hands back the hub's own final reply.
// It renders no replies to clients: failures come back as typed errors that name Exchange's
// PRX code, and the receiving side turns them into replies. It imports only config and go-smtp.
package smtpsend

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
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

// Envelope is what the frontend replays to the hub.
type Envelope struct {
	ProxyFrom  string // the XPROXYFROM argument describing the original client
	From       string
	Mail       smtp.MailOptions
	Recipients []Recipient
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
	// HeloName is the frontend's FQDN, sent in EHLO.
	HeloName string
	// AuthKey is the organization's ExchangeServer key: the frontend answers the hub's X-EXPS
	// challenge with HMAC-SHA256(key, challenge).
	AuthKey        []byte
	Respond        func(key, challenge []byte) []byte
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	PoolSize       int
	// IdleTimeout closes pooled sessions unused this long (the hub drops them after its
	// ConnectionInactivityTimeout anyway).
	IdleTimeout time.Duration

	mu   sync.Mutex
	idle []*hubConn
}

type hubConn struct {
	conn     net.Conn
	c        *smtp.Client
	lastUsed time.Time
}

// Close closes every pooled session.
func (p *Proxy) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, h := range idle {
		_ = h.c.Quit()
		_ = h.conn.Close()
	}
}

func (p *Proxy) get() *hubConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		h := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if p.IdleTimeout > 0 && time.Since(h.lastUsed) > p.IdleTimeout {
			go h.conn.Close()
			continue
		}
		return h
	}
	return nil
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
		_ = h.c.Quit()
		_ = h.conn.Close()
	}
}

func (p *Proxy) dial(ctx context.Context) (*hubConn, error) {
	addr := ""
	if p.Addr != nil {
		addr = p.Addr()
	}
	if addr == "" {
		return nil, &Error{PRX: PRXNoDestination, Step: "connect", Err: errors.New("no hub destination")}
	}
	d := net.Dialer{Timeout: p.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return nil, &Error{PRX: PRXDNS, Step: "connect", Err: err}
		}
		return nil, &Error{PRX: PRXConnect, Step: "connect", Err: err}
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = p.CommandTimeout
	c.SubmissionTimeout = p.CommandTimeout
	h := &hubConn{conn: conn, c: c}
	if err := c.Hello(p.HeloName); err != nil {
		conn.Close()
		return nil, protocolError("hello", err)
	}
	if err := h.exps(p); err != nil {
		conn.Close()
		return nil, err
	}
	return h, nil
}

// exps proves to the hub that this frontend is an Exchange server (X-EXPS, spec §6.1).
func (h *hubConn) exps(p *Proxy) error {
	code, msg, err := h.raw(p.CommandTimeout, "X-EXPS GSSAPI")
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
	resp := base64.StdEncoding.EncodeToString(p.Respond(p.AuthKey, challenge))
	code, msg, err = h.raw(p.CommandTimeout, resp)
	if err != nil || code != 235 {
		return &Error{PRX: PRXSessionSetup, Step: "auth", Err: fmt.Errorf("hub refused X-EXPS: %d %s %v", code, msg, err)}
	}
	return nil
}

// raw sends one command go-smtp has no method for (X-EXPS, XPROXYFROM) and reads its reply.
// It is only called between go-smtp commands, when go-smtp has read every reply and the hub
// has nothing more to say, so nothing is left buffered on either side.
func (h *hubConn) raw(timeout time.Duration, line string) (int, string, error) {
	_ = h.conn.SetDeadline(time.Now().Add(timeout))
	defer h.conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(h.conn, line+"\r\n"); err != nil {
		return 0, "", err
	}
	tr := textproto.NewReader(bufio.NewReaderSize(h.conn, 512))
	code, msg, err := tr.ReadResponse(0)
	if err != nil {
		var pe *textproto.Error
		if errors.As(err, &pe) {
			return pe.Code, pe.Msg, nil
		}
		return 0, "", err
	}
	return code, msg, nil
}

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

// Transaction is one message being proxied: the envelope is replayed, the body streams through
// Write, and End returns the hub's final reply.
type Transaction struct {
	p       *Proxy
	h       *hubConn
	w       *smtp.DataCommand
	timeout time.Duration
	failed  error
}

// Begin takes a pooled hub session (or opens one), describes the original client, and replays
// the envelope up to DATA. A refusal by the hub at MAIL is returned as an *Error with Hub set, to
// be passed through (e.g. back pressure, R34); any other failure carries a PRX code.
func (p *Proxy) Begin(ctx context.Context, env *Envelope) (*Transaction, error) {
	for attempt := 0; ; attempt++ {
		h := p.get()
		pooled := h != nil
		if h == nil {
			var err error
			if h, err = p.dial(ctx); err != nil {
				return nil, err
			}
		}
		t, err, retry := p.begin(h, env)
		if err == nil {
			return t, nil
		}
		_ = h.conn.Close()
		// A pooled session the hub has since closed fails at once: try a fresh one.
		if pooled && retry && attempt == 0 {
			continue
		}
		return nil, err
	}
}

func (p *Proxy) begin(h *hubConn, env *Envelope) (t *Transaction, err error, retry bool) {
	code, msg, err := h.raw(p.CommandTimeout, "XPROXYFROM "+env.ProxyFrom)
	if err != nil {
		return nil, &Error{PRX: PRXProtocol, Step: "xproxyfrom", Err: err}, true
	}
	if code != 250 {
		return nil, &Error{PRX: PRXSessionSetup, Step: "xproxyfrom", Err: fmt.Errorf("%d %s", code, msg)}, false
	}
	if err := h.c.Mail(env.From, &env.Mail); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			p.reset(h)
			return nil, &Error{Step: "mail", Hub: hubReply(se), Err: err}, false
		}
		return nil, protocolError("mail", err), false
	}
	for _, r := range env.Recipients {
		if err := h.c.Rcpt(r.Address, r.Options); err != nil {
			// The frontend already said 250 to this recipient; Exchange's behaviour here is not
			// public (spec §6.1, gap 7): exlab fails the whole message with a PRX reply.
			return nil, protocolError("rcpt", err), false
		}
	}
	w, err := h.c.Data()
	if err != nil {
		return nil, protocolError("data", err), false
	}
	return &Transaction{p: p, h: h, w: w, timeout: p.CommandTimeout}, nil, false
}

func (p *Proxy) reset(h *hubConn) {
	if err := h.c.Reset(); err != nil {
		_ = h.conn.Close()
		return
	}
	p.put(h)
}

// Write streams body bytes to the hub (go-smtp dot-stuffs them).
func (t *Transaction) Write(b []byte) (int, error) {
	if t.failed != nil {
		return 0, t.failed
	}
	_ = t.h.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	n, err := t.w.Write(b)
	if err != nil {
		t.failed = &Error{PRX: PRXProtocol, Step: "data", Err: err}
	}
	return n, t.failed
}

// End finishes the body and returns the hub's final reply: a 250 on success, or the hub's
// refusal as an *Error with Hub set. Only the hub's own 250 is ever returned as success.
func (t *Transaction) End() (*HubReply, error) {
	if t.failed != nil {
		_ = t.h.conn.Close()
		return nil, t.failed
	}
	_ = t.h.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	resp, err := t.w.CloseWithResponse()
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			t.p.put(t.h)
			return nil, &Error{Step: "end-of-data", Hub: hubReply(se), Err: err}
		}
		_ = t.h.conn.Close()
		return nil, &Error{PRX: PRXProtocol, Step: "end-of-data", Err: err}
	}
	t.p.put(t.h)
	return &HubReply{Code: 250, Text: resp.StatusText}, nil
}

// Abort drops the transaction: the hub session is closed without the final dot, so the hub
// discards the partial message.
func (t *Transaction) Abort() {
	_ = t.h.conn.Close()
}
