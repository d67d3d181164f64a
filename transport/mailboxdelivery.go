package transport

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

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

// mbxClient is the hub's SmtpSend to Mailbox Delivery: smtpsend.Proxy, the pooled, X-EXPS
// authenticated and pipelined client the frontend uses for its hop to the hub, with no XPROXY
// command and each RCPT's reply that recipient's result. A message costs one write (MAIL,
// RCPT…, BDAT LAST with the content) and one read on a pooled session.
type mbxClient struct {
	proxy *smtpsend.Proxy
	addr  func() string

	mu   sync.Mutex
	last string // addr as of the last session opened: where the pooled sessions go
}

// mbxMaxAge is how long a session to Mailbox Delivery is used: half of its connector's
// ConnectionTimeout default (10 minutes), so R91 never ends one in the middle of a message.
const mbxMaxAge = 5 * time.Minute

func newMbxClient(md MailboxDelivery, helo string, key []byte, connect, command time.Duration) *mbxClient {
	c := &mbxClient{addr: md.Addr}
	c.proxy = &smtpsend.Proxy{Addr: md.Addr, HeloName: helo, AuthKey: key, ConnectTimeout: connect, CommandTimeout: command,
		PoolSize: max(md.PoolSize, 1), IdleTimeout: time.Minute, MaxAge: mbxMaxAge,
		Dial: func(ctx context.Context) (net.Conn, error) {
			a := md.Addr()
			c.mu.Lock()
			c.last = a
			c.mu.Unlock()
			return md.Dial(ctx)
		}}
	return c
}

// endpoint is the connector's endpoint for LastError and tracking: Addr as of the last session
// opened (Addr looks through the service's listeners: 1.5% of a message's CPU under load when
// asked for every message).
func (c *mbxClient) endpoint() string {
	c.mu.Lock()
	a := c.last
	c.mu.Unlock()
	if a == "" {
		a = c.addr()
	}
	return a
}

// close ends every pooled session.
func (c *mbxClient) close() { c.proxy.Close() }

// mbxReply is one reply of Mailbox Delivery: its code and its text as sent (lines joined by a
// space), which becomes the recipient's LastError or tracking status.
type mbxReply struct {
	code int
	text string
}

func mbxReplyOf(r *smtpsend.HubReply) mbxReply {
	return mbxReply{r.Code, strconv.Itoa(r.Code) + " " + strings.ReplaceAll(r.Text, "\n", " ")}
}

// deliver sends one message to rcpts and returns each recipient's result: its RCPT's refusal,
// or the reply to the whole message. An error means no reply was had (the session could not be
// opened, or broke); a smtpsend.Error with Step "connect" is one that could not be opened.
func (c *mbxClient) deliver(ctx context.Context, m *queue.Message, body []byte, rcpts []string) ([]mbxReply, error) {
	env := &smtpsend.Envelope{From: m.From, PerRecipient: true, Mail: smtp.MailOptions{Body: smtp.BodyType(m.Body), UTF8: m.SMTPUTF8}}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, smtpsend.Recipient{Address: r})
	}
	t, err := c.proxy.Begin(ctx, env)
	if err != nil {
		return nil, err
	}
	// The content as the hub delivers it (queue.Message.Content), written in its pieces
	// instead of assembled in a copy first.
	end := min(max(m.HeaderEnd, 0), int64(len(body)))
	_, _ = t.WriteString(m.HeaderPrefix)
	_, _ = t.Write(body[:end])
	_, _ = t.WriteString(m.HeaderSuffix)
	_, _ = t.Write(body[end:]) // a failed write is End's error
	final, err := t.End()
	reps := t.RcptReplies()
	var whole mbxReply
	var pe *smtpsend.Error
	switch {
	case err == nil:
		whole = mbxReplyOf(final)
	case errors.As(err, &pe) && pe.Hub != nil:
		if whole = mbxReplyOf(pe.Hub); pe.Step == "mail" {
			reps = nil // a refused MAIL is every recipient's answer
		}
	default:
		return nil, err
	}
	out := make([]mbxReply, len(rcpts))
	for i := range out {
		if i < len(reps) && reps[i].Code/100 != 2 {
			out[i] = mbxReplyOf(reps[i])
		} else {
			out[i] = whole
		}
	}
	return out, nil
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
	reps, err := h.mbx.deliver(context.Background(), m, body, rcpts)
	if err != nil {
		ip, port := host, ""
		if i := strings.LastIndexByte(host, ':'); i > 0 {
			ip, port = strings.Trim(host[:i], "[]"), host[i+1:]
		}
		h.opt.Logger.Warn("SmtpSend to Mailbox Delivery failed", "InternalMessageId", m.ID, "endpoint", host, "err", err)
		failed := mbxReply{451, smtpwire.Render("X21", "reason", "SocketError", "ip", ip, "port", port).Text}
		if pe := (*smtpsend.Error)(nil); errors.As(err, &pe) && pe.Step == "connect" {
			failed = mbxReply{441, smtpwire.Render("X20", "winsock", "10061", "ip", ip, "port", port).Text}
		}
		reps = make([]mbxReply, len(idx))
		for k := range reps {
			reps[k] = failed
		}
	}
	for k, i := range idx {
		rr := reps[k]
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
