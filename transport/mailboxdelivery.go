package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The hub's mailbox deliveries, as Exchange 2013+ makes them: the categorizer routes a
// recipient with a local mailbox to the delivery queue of its mailbox database
// (DeliveryType SmtpDeliveryToMailbox, NextHopDomain the database's name, spec §8.1), and
// SmtpSend hands the message over SMTP to the Mailbox Transport Delivery service on 475
// (package mailboxtransport), which writes it into the mailbox store before its 250; only then
// are the recipients delivered (SEND/SMTP in the hub's tracking log, DELIVER/STOREDRIVER in
// the MSGTRKMD log, spec §7.2). A refused or unreachable Mailbox Delivery leaves the recipients
// queued with its reply as LastError, retried on the queue's schedule (spec §8.3).
//
// When: at submission, before the hub's own commit and its 250 (session.go), and from the
// scheduler for what is left. The mailbox write is then the message's one synced commit, and
// the hub writes a record only when something is left (an outbound recipient, a deferral, an
// NDR): a message to local mailboxes costs one fsync, as before the hop, and its 250 still
// means it is on disk. Exchange itself commits to mail.que first and delivers over 475
// afterwards; exlab keeps the order it can afford, and the bytes on the wire and in the logs
// are the same. The price is at-least-once delivery: a crash after the mailbox write and
// before the client's 250 makes the client send again and the mailbox gets the message twice,
// which Exchange's DUPLICATEDELIVER check would drop and exlab does not.

// mailboxHopPrefix marks a recipient's NextHop as its mailbox database's delivery queue: the
// rest is the database's name. Send connectors cannot be named so (the colon).
const mailboxHopPrefix = "SmtpDeliveryToMailbox:"

func mailboxHop(database string) string { return mailboxHopPrefix + database }

// mailboxDatabaseOf returns the database of a mailbox hop, or ok false for a send connector.
func mailboxDatabaseOf(hop string) (database string, ok bool) {
	if !strings.HasPrefix(hop, mailboxHopPrefix) {
		return "", false
	}
	return hop[len(mailboxHopPrefix):], true
}

// MailboxDelivery tells the hub how to reach this server's Mailbox Transport Delivery service
// (Default Mailbox Delivery <SERVER>). Without one the hub writes the mailbox items itself in
// the submission's commit (a hub running without the service, as the package's own tests do).
type MailboxDelivery struct {
	// Dial opens a session to the connector: an in-process pipe (Memory) or TCP (Tcp).
	Dial func(ctx context.Context) (net.Conn, error)
	// Addr is the connector's endpoint ("127.0.0.1:475"), for LastError and tracking.
	Addr func() string
	// PoolSize is how many idle authenticated sessions the hub keeps.
	PoolSize int
}

// mbxClient is the hub's SmtpSend to Mailbox Delivery: pooled sessions authenticated with
// X-EXPS, each message pipelined as MAIL, RCPT… and one BDAT LAST carrying the whole message,
// so a message costs one write and one read on a pooled session.
type mbxClient struct {
	MailboxDelivery
	helo    string
	key     []byte
	timeout time.Duration

	mu   sync.Mutex
	idle []*mbxConn
	addr string // Addr as of the last session opened: where the pooled sessions go
}

// endpoint is the connector's endpoint for LastError and tracking: Addr as of the last session
// opened (Addr looks through the service's listeners: 1.5% of a message's CPU under load when
// asked for every message).
func (c *mbxClient) endpoint() string {
	c.mu.Lock()
	a := c.addr
	c.mu.Unlock()
	if a == "" {
		a = c.Addr()
	}
	return a
}

type mbxConn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
	opened   time.Time
	text     []byte    // readReply's buffer
	deadline time.Time // the deadline set last (extend); zero after open and a probe
}

// extend sets the session's deadline to timeout from now, at most once a second (or a quarter
// of a shorter timeout): a deadline change costs a timer, and two per message showed in the
// profile. A pooled session keeps its last deadline while idle; the first message after more
// than a second sets a new one.
func (mc *mbxConn) extend(timeout time.Duration) {
	if now := time.Now(); mc.deadline.IsZero() || now.Sub(mc.deadline.Add(-timeout)) > min(time.Second, timeout/4) {
		mc.deadline = now.Add(timeout)
		_ = mc.c.SetDeadline(mc.deadline)
	}
}

// mbxReply is one reply of Mailbox Delivery: its code and its text as sent (lines joined by a
// space), which becomes the recipient's LastError or tracking status.
type mbxReply struct {
	code int
	text string
}

// errDial marks a session that could not be opened (a connection failure, X20), as opposed to
// one that broke (X21).
var errDial = errors.New("mailbox delivery: connect failed")

func (c *mbxClient) get() *mbxConn {
	for {
		c.mu.Lock()
		if len(c.idle) == 0 {
			c.mu.Unlock()
			return nil
		}
		mc := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		c.mu.Unlock()
		if idle := time.Since(mc.lastUsed); idle > time.Minute || time.Since(mc.opened) > mbxMaxAge {
			go mc.quit()
			continue
		} else if idle < mbxFreshIdle {
			// Used a moment ago: Mailbox Delivery ends a session only after minutes (its
			// timeouts) or at shutdown, so it is taken without the probe below; should it have
			// broken after all, deliver sends the message again on a new session.
			return mc
		}
		// A session Mailbox Delivery closed meanwhile has something to read (a 421, or EOF); a
		// live idle one has nothing. The deadline is a moment ahead, not now: with a deadline
		// already past, Go's poller answers "timeout" on TCP without looking at the socket.
		_ = mc.c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := mc.br.Peek(1)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			mc.deadline = time.Time{} // the probe's replaced it: extend sets one again
			return mc
		}
		_ = mc.c.Close()
	}
}

// mbxFreshIdle is how long a pooled session may have been idle and still be taken without
// probing it; mbxMaxAge is how long a session is used at all: half of the connector's
// ConnectionTimeout default (10 minutes), so R91 never ends one under load.
const (
	mbxFreshIdle = 5 * time.Second
	mbxMaxAge    = 5 * time.Minute
)

func (c *mbxClient) put(mc *mbxConn) {
	mc.lastUsed = time.Now()
	c.mu.Lock()
	if len(c.idle) < max(c.PoolSize, 1) {
		c.idle = append(c.idle, mc)
		mc = nil
	}
	c.mu.Unlock()
	if mc != nil {
		mc.quit()
	}
}

func (mc *mbxConn) quit() {
	_ = mc.c.SetDeadline(time.Now().Add(time.Second))
	_, _ = mc.bw.WriteString("QUIT\r\n")
	_ = mc.bw.Flush()
	_ = mc.c.Close()
}

// close ends every pooled session.
func (c *mbxClient) close() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, mc := range idle {
		mc.quit()
	}
}

// open dials Mailbox Delivery and sets the session up: banner, EHLO, X-EXPS.
func (c *mbxClient) open(ctx context.Context) (*mbxConn, error) {
	a := c.Addr()
	c.mu.Lock()
	c.addr = a
	c.mu.Unlock()
	nc, err := c.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errDial, err)
	}
	mc := &mbxConn{c: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 32<<10), opened: time.Now()}
	_ = nc.SetDeadline(time.Now().Add(c.timeout))
	fail := func(step string, r mbxReply, err error) (*mbxConn, error) {
		nc.Close()
		if err == nil {
			err = fmt.Errorf("%s answered %q", step, r.text)
		}
		return nil, fmt.Errorf("mailbox delivery: %s: %w", step, err)
	}
	if r, err := mc.read(); err != nil || r.code != 220 {
		return fail("banner", r, err)
	}
	ehlo, err := mc.cmd("EHLO " + c.helo)
	if err != nil || ehlo.code != 250 {
		return fail("EHLO", ehlo, err)
	}
	if !hasKeyword(ehlo.text, "CHUNKING") || !hasKeyword(ehlo.text, "PIPELINING") {
		return fail("EHLO", ehlo, errors.New("CHUNKING and PIPELINING are not offered"))
	}
	r, err := mc.cmd("X-EXPS GSSAPI")
	if err != nil || r.code != 334 {
		return fail("X-EXPS", r, err)
	}
	challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(r.text, "334")))
	if err != nil {
		return fail("X-EXPS", r, err)
	}
	if r, err = mc.cmd(base64.StdEncoding.EncodeToString(smtpwire.ExchangeAuthResponse(c.key, challenge))); err != nil || r.code != 235 {
		return fail("X-EXPS", r, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return mc, nil
}

// hasKeyword says whether an EHLO reply (lines joined by spaces) offers keyword.
func hasKeyword(ehlo, keyword string) bool {
	return strings.Contains(ehlo+" ", "250-"+keyword+" ") || strings.Contains(ehlo+" ", "250 "+keyword+" ")
}

func (mc *mbxConn) cmd(line string) (mbxReply, error) {
	mc.bw.WriteString(line)
	mc.bw.WriteString("\r\n")
	if err := mc.bw.Flush(); err != nil {
		return mbxReply{}, err
	}
	return mc.read()
}

// read reads one (possibly multi-line) reply, with its text.
func (mc *mbxConn) read() (mbxReply, error) { return mc.readReply(true) }

// readReply reads one reply; its text is kept when keep is set or the reply is not a 2xx (the
// MAIL and RCPT replies of a delivery are only looked at when they refuse).
func (mc *mbxConn) readReply(keep bool) (mbxReply, error) {
	var r mbxReply
	mc.text = mc.text[:0]
	for {
		line, err := mc.br.ReadSlice('\n')
		if err != nil {
			return r, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) < 3 || line[0] < '0' || line[0] > '9' || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
			return r, fmt.Errorf("malformed reply %q", line)
		}
		r.code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		if len(mc.text) > 0 {
			mc.text = append(mc.text, ' ')
		}
		mc.text = append(mc.text, line...)
		if len(line) == 3 || line[3] == ' ' {
			if keep || r.code/100 != 2 {
				r.text = string(mc.text)
			}
			return r, nil
		}
	}
}

// deliver sends one message to rcpts and returns the reply to each RCPT and the final reply.
// An error means no final reply was had (the session could not be opened or broke).
func (c *mbxClient) deliver(ctx context.Context, m *queue.Message, body []byte, rcpts []string) ([]mbxReply, mbxReply, error) {
	if mc := c.get(); mc != nil {
		reps, final, answered, err := c.send(mc, m, body, rcpts)
		if err == nil || answered {
			return reps, final, err
		}
		// A pooled session that broke before Mailbox Delivery answered anything delivered
		// nothing: the message goes again on a new session.
	}
	mc, err := c.open(ctx)
	if err != nil {
		return nil, mbxReply{}, err
	}
	reps, final, _, err := c.send(mc, m, body, rcpts)
	return reps, final, err
}

// send is deliver on session mc; answered says whether Mailbox Delivery answered anything
// before an error. A session that answered 421 (too many errors, shutdown, its timeout) is
// closed, not pooled: the service has ended it.
func (c *mbxClient) send(mc *mbxConn, m *queue.Message, body []byte, rcpts []string) ([]mbxReply, mbxReply, bool, error) {
	mc.extend(c.timeout)
	w := mc.bw
	w.WriteString("MAIL FROM:<")
	w.WriteString(m.From)
	w.WriteString(">")
	if m.Body != "" {
		w.WriteString(" BODY=" + m.Body)
	}
	if m.SMTPUTF8 {
		w.WriteString(" SMTPUTF8")
	}
	w.WriteString("\r\n")
	for _, r := range rcpts {
		w.WriteString("RCPT TO:<")
		w.WriteString(r)
		w.WriteString(">\r\n")
	}
	// The content as the hub delivers it (queue.Message.Content), written in its pieces
	// instead of assembled in a copy first.
	end := min(max(m.HeaderEnd, 0), int64(len(body)))
	w.WriteString("BDAT ")
	w.WriteString(strconv.Itoa(len(m.HeaderPrefix) + len(body) + len(m.HeaderSuffix)))
	w.WriteString(" LAST\r\n")
	w.WriteString(m.HeaderPrefix)
	w.Write(body[:end])
	w.WriteString(m.HeaderSuffix)
	w.Write(body[end:])
	if err := w.Flush(); err != nil {
		mc.c.Close()
		return nil, mbxReply{}, false, err
	}
	mail, err := mc.readReply(false)
	if err != nil {
		mc.c.Close()
		return nil, mbxReply{}, false, err
	}
	ended := mail.code == 421
	reps := make([]mbxReply, len(rcpts))
	for i := range reps {
		if reps[i], err = mc.readReply(false); err != nil {
			mc.c.Close()
			return nil, mbxReply{}, true, err
		}
		ended = ended || reps[i].code == 421
		if mail.code/100 != 2 {
			reps[i] = mail // a refused MAIL is every recipient's answer
		}
	}
	final, err := mc.read()
	if err != nil {
		mc.c.Close()
		return nil, mbxReply{}, true, err
	}
	if ended || final.code == 421 {
		mc.c.Close()
		return reps, final, true, nil
	}
	c.put(mc)
	return reps, final, true, nil
}

// deliverMailbox makes one attempt of m's recipients waiting in a mailbox delivery queue and
// records each one's result in it (see smtpSend.record): 2xx delivers (SEND, then DELIVER in
// the MSGTRKMD log), 5xx fails, anything else or no answer defers with Exchange's SmtpSend
// texts for a connection that failed (X20) or dropped (X21).
func (h *Hub) deliverMailbox(m *queue.Message, body []byte) sendResult {
	var res sendResult
	if h.mbx == nil {
		return res
	}
	var idx []int
	var rcpts []string
	for i, r := range m.Recipients {
		if _, ok := mailboxDatabaseOf(r.NextHop); ok && r.Status == queue.StatusPending {
			idx = append(idx, i)
			rcpts = append(rcpts, r.Address)
		}
	}
	if len(idx) == 0 {
		return res
	}
	res.Sent = true
	host := h.mbx.endpoint()
	reps, final, err := h.mbx.deliver(context.Background(), m, body, rcpts)
	if err != nil {
		ip, port := host, ""
		if i := strings.LastIndexByte(host, ':'); i > 0 {
			ip, port = strings.Trim(host[:i], "[]"), host[i+1:]
		}
		h.opt.Logger.Warn("SmtpSend to Mailbox Delivery failed", "InternalMessageId", m.ID, "endpoint", host, "err", err)
		if errors.Is(err, errDial) {
			final = mbxReply{441, smtpwire.Render("X20", "winsock", "10061", "ip", ip, "port", port).Text}
		} else {
			final = mbxReply{451, smtpwire.Render("X21", "reason", "SocketError", "ip", ip, "port", port).Text}
		}
	}
	for k, i := range idx {
		rr := final
		if err == nil && reps[k].code/100 != 2 {
			rr = reps[k]
		}
		r := &m.Recipients[i]
		delivered := rr.code/100 == 2
		// The hub's SEND event names the implicit intra-organization send connector [I].
		h.send.record(&res, m, r, smtpsend.RcptResult{Code: rr.code, Text: rr.text, Host: host}, smtpsend.IntraOrgConnector)
		if delivered {
			if n := len(res.Relayed); n > 0 && res.Relayed[n-1].Address == r.Address {
				// A mailbox delivery is final: its sender is owed "delivered", not "relayed".
				res.Delivered = append(res.Delivered, res.Relayed[n-1])
				res.Relayed = res.Relayed[:n-1]
			}
			h.mdTracker.track(trackEvent{ID: "DELIVER", Source: "STOREDRIVER", Msg: m, Recipients: []string{r.Address},
				Status: smtpwire.Fixed(smtpwire.R37).Text})
		}
	}
	return res
}

// settle adds what an attempt owes to u: the next retry of the deferred, the NDR of the
// refused, the Delivered and Relayed DSNs.
func (h *Hub) settle(m *queue.Message, body []byte, res sendResult, u *queue.Update) {
	now := time.Now()
	m.LastRetryTime = now
	m.NextRetryTime = time.Time{}
	if res.Deferred > 0 {
		if m.FirstRetryTime.IsZero() {
			m.FirstRetryTime = now
		}
		m.NextRetryTime = now.Add(h.sched.retryInterval(res.MaxRetries, res.ConnFailure))
	}
	if len(res.Failed) > 0 {
		if n := h.report(m, body, res.Failed, dsnFailed); n != nil {
			u.New = append(u.New, *n)
		}
	}
	if n := h.report(m, body, res.Delivered, dsnDelivered); n != nil {
		u.New = append(u.New, *n)
	}
	// The send side does not pass NOTIFY on, so a next hop sends no DSN: Exchange's "Relayed".
	if n := h.report(m, body, res.Relayed, dsnRelayed); n != nil {
		u.New = append(u.New, *n)
	}
}
