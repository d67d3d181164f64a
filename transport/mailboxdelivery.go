package transport

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/config"
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

// relayHopPrefix marks a recipient's NextHop as the relay to the source servers of the send
// connector named by the rest, when this server is not one of them: the hub hands the
// message to a source server's Default <SERVER> connector over an X-EXPS session, as it hands
// mailbox deliveries to another server's Mailbox Delivery (the same client), and that hub
// sends it out.
const relayHopPrefix = "SmtpRelayToConnectorSourceServers:"

func relayHop(connector string) string { return relayHopPrefix + connector }

// relayConnectorOf returns the send connector of a relay hop, or ok false.
func relayConnectorOf(hop string) (connector string, ok bool) {
	if !strings.HasPrefix(hop, relayHopPrefix) {
		return "", false
	}
	return hop[len(relayHopPrefix):], true
}

// intraOrgHop says whether hop goes to another Exchange service of the organization (a mailbox
// database's delivery, a connector's source server) rather than out through a send connector.
func intraOrgHop(hop string) bool {
	return strings.HasPrefix(hop, mailboxHopPrefix) || strings.HasPrefix(hop, relayHopPrefix)
}

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

// deliverMailbox makes one attempt of m's recipients waiting in mailbox delivery queues, one
// per database: this server's through its own Mailbox Delivery (h.mbx), another server's over
// TCP to that server's Default Mailbox Delivery connector, as Exchange's Transport service
// delivers to the Mailbox Transport Delivery service of the server that holds the database
// (spec §8.1, SmtpDeliveryToMailbox). localOnly (at submission, before the 250) leaves other
// servers' databases to the scheduler, after the commit: a peer that is down must not hold
// up the 250, and their mail is on this server's disk before it leaves it.
func (h *Hub) deliverMailbox(m *queue.Message, body []byte, localOnly bool) sendResult {
	var res sendResult
	if h.mbx == nil {
		return res
	}
	var hopsArr [4]string
	hops := hopsArr[:0]
	for _, r := range m.Recipients {
		if intraOrgHop(r.NextHop) && r.Status == queue.StatusPending && !slices.Contains(hops, r.NextHop) {
			hops = append(hops, r.NextHop)
		}
	}
	for _, hop := range hops {
		c, remote := h.mbxClientFor(hop)
		if c == nil {
			// The database is no longer any server's: the categorizer routes these again.
			for i := range m.Recipients {
				if r := &m.Recipients[i]; r.NextHop == hop && r.Status == queue.StatusPending {
					r.NextHop = ""
				}
			}
			continue
		}
		if localOnly && remote {
			continue
		}
		h.deliverMailboxVia(c, remote, m, body, hop, &res)
	}
	return res
}

// deliverMailboxVia makes one attempt of m's recipients waiting in the queue of hop through c
// and records each one's result (see smtpSend.record): 2xx delivers (SEND; then DELIVER in
// this server's MSGTRKMD log when the database is local: another server's Mailbox Delivery
// tracks its own), 5xx fails, anything else or no answer defers with Exchange's SmtpSend
// texts for a connection that failed (X20) or dropped (X21).
func (h *Hub) deliverMailboxVia(c *mbxClient, remote bool, m *queue.Message, body []byte, hop string, res *sendResult) {
	var idx []int
	var rcpts []string
	for i, r := range m.Recipients {
		if r.NextHop == hop && r.Status == queue.StatusPending {
			idx = append(idx, i)
			rcpts = append(rcpts, r.Address)
		}
	}
	if len(idx) == 0 {
		return
	}
	res.Sent = true
	host := c.endpoint()
	reps, err := c.deliver(context.Background(), m, body, rcpts)
	if err != nil {
		reps = h.mailboxDeliveryFailed(m, host, err, len(idx))
	}
	for k, i := range idx {
		rr := reps[k]
		r := &m.Recipients[i]
		delivered := rr.code/100 == 2
		// The hub's SEND event names the implicit intra-organization send connector [I].
		h.send.record(res, m, r, smtpsend.RcptResult{Code: rr.code, Text: rr.text, Host: host}, smtpsend.IntraOrgConnector)
		if delivered {
			if n := len(res.Relayed); n > 0 && res.Relayed[n-1].Address == r.Address {
				// A mailbox delivery is final: its sender is owed "delivered", not "relayed".
				// A relay to a connector's source server is a hop inside the organization:
				// nothing is owed here.
				if _, relay := relayConnectorOf(hop); !relay {
					res.Delivered = append(res.Delivered, res.Relayed[n-1])
				}
				res.Relayed = res.Relayed[:n-1]
			}
			if !remote {
				h.mdTracker.track(trackEvent{ID: "DELIVER", Source: "STOREDRIVER", Msg: m, Recipients: []string{r.Address},
					Status: smtpwire.Fixed(smtpwire.R37).Text})
			}
		}
	}
}

// mailboxDeliveryFailed is every recipient's result of an attempt that had no reply: Exchange's
// SmtpSend texts for a connection that failed (X20) or dropped (X21). Apart from
// deliverMailboxVia, whose frame the submission's deep call chain carries on every message
// (a bigger one cost a goroutine stack copy per connection under load).
func (h *Hub) mailboxDeliveryFailed(m *queue.Message, host string, err error, n int) []mbxReply {
	ip, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		ip, port = strings.Trim(host[:i], "[]"), host[i+1:]
	}
	h.opt.Logger.Warn("SmtpSend to Mailbox Delivery failed", "InternalMessageId", m.ID, "endpoint", host, "err", err)
	failed := mbxReply{451, smtpwire.Render("X21", "reason", "SocketError", "ip", ip, "port", port).Text}
	if pe := (*smtpsend.Error)(nil); errors.As(err, &pe) && pe.Step == "connect" {
		failed = mbxReply{441, smtpwire.Render("X20", "winsock", "10061", "ip", ip, "port", port).Text}
	}
	reps := make([]mbxReply, n)
	for k := range reps {
		reps[k] = failed
	}
	return reps
}

// mbxClientFor is the SmtpSend to the Mailbox Delivery of hop's database: this server's own
// (remote false), or a pooled TCP client to the connector of the server that holds it, made
// on first use; nil when no server holds the database.
func (h *Hub) mbxClientFor(hop string) (c *mbxClient, remote bool) {
	if hop == h.mbxHop {
		return h.mbx, false
	}
	if connector, ok := relayConnectorOf(hop); ok {
		return h.relayClientFor(connector), true
	}
	db, _ := mailboxDatabaseOf(hop)
	st := h.state.Load()
	peer := st.resolver.DatabaseServer(db)
	if peer == nil {
		return nil, true
	}
	if strings.EqualFold(peer.Name, st.srv.Name) {
		return h.mbx, false // this server's database under a name of another spelling
	}
	key := strings.ToUpper(peer.Name)
	return h.remoteClient(key, func() string {
		st := h.state.Load()
		p := st.org.Server(key)
		if p == nil {
			return ""
		}
		return st.org.MailboxDeliveryConnectors(p)[0].PeerAddress(p)
	}), true
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

// TrackMailboxDelivery writes the DELIVER/STOREDRIVER events of a message this server's
// Mailbox Delivery wrote for another server's hub (mailboxtransport.Options.Delivered): the
// delivering server's MSGTRKMD log has them, the sending hub's log its SEND (spec §7.2).
func (h *Hub) TrackMailboxDelivery(m *queue.Message) {
	if h.mdTracker == nil {
		return
	}
	for _, r := range m.Recipients {
		h.mdTracker.track(trackEvent{ID: "DELIVER", Source: "STOREDRIVER", Msg: m, Recipients: []string{r.Address},
			Status: smtpwire.Fixed(smtpwire.R37).Text})
	}
}

// relayClientFor is the client to a source server of the send connector named connector (its
// first one that is another hub of the organization), made on first use; nil when the
// connector is gone or this server is now one of its sources (the categorizer routes again).
func (h *Hub) relayClientFor(connector string) *mbxClient {
	st := h.state.Load()
	var target *config.Server
	for i := range st.org.SendConnectors {
		sc := &st.org.SendConnectors[i]
		if !strings.EqualFold(sc.Name, connector) {
			continue
		}
		for _, name := range sc.SourceTransportServers {
			if strings.EqualFold(name, st.srv.Name) {
				return nil
			}
			if s := st.org.Server(name); s != nil && s.Runs(config.HubTransport) && target == nil {
				target = s
			}
		}
	}
	if target == nil {
		return nil
	}
	name := target.Name
	return h.remoteClient("RELAY "+strings.ToUpper(name), func() string {
		return h.state.Load().org.PeerConnectorAddress(name, "Default ")
	})
}

// remoteClient is the pooled client to another server's connector at addr, kept under key and
// made on first use: X-EXPS authenticated, dialled from this server's address, its sessions
// in the hub's SmtpSend log as an intra-organization hop (spec §7.1).
func (h *Hub) remoteClient(key string, addr func() string) *mbxClient {
	h.remoteMu.Lock()
	defer h.remoteMu.Unlock()
	if c := h.remoteMbx[key]; c != nil {
		return c
	}
	srv := h.opt.Server
	md := MailboxDelivery{Addr: addr, PoolSize: srv.ProxyPoolSize, Dial: func(ctx context.Context) (net.Conn, error) {
		a := addr()
		if a == "" {
			return nil, smtpsend.ErrNoHub
		}
		st := h.state.Load()
		return smtpsend.DialFrom(ctx, st.org.SourceIP(st.srv), a, srv.ProxyConnectTimeout.Duration())
	}}
	c := newMbxClient(md, srv.Fqdn, h.opt.AuthKey, srv.ProxyConnectTimeout.Duration(), srv.ProxyCommandTimeout.Duration())
	if srv.IntraOrgConnectorProtocolLoggingLevel == config.LoggingVerbose && h.opt.SendProtocolLog != nil {
		c.proxy.ProtocolLog = h.opt.SendProtocolLog.Writer()
	}
	if h.remoteMbx == nil {
		h.remoteMbx = map[string]*mbxClient{}
	}
	h.remoteMbx[key] = c
	return c
}
