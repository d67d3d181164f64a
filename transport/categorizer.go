package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// noRouteError is the LastError of a recipient that no connector can route (the Unreachable
// queue). Exlab's wording [I]; send connectors arrive with issue 5.
const noRouteError = "There is currently no route to the mail recipient."

// Categorizer resolves each submitted message's recipients (routing.Resolve) and delivers
// local ones into mailboxes, fails unknown ones in authoritative domains with an NDR (R74), and
// leaves the rest for send connectors. The hub runs it on each message before the submission
// commit, so that the message, its mailbox items and its NDRs are one synced batch; its workers
// take what is left: NDRs, and what an earlier run left queued. They are fed in memory after a
// commit, never by scanning the keyspace, so nothing is delivered before it is durable
// (RELIABILITY §4.3).
type Categorizer struct {
	store    *queue.Store
	resolver atomic.Pointer[routing.Resolver]
	server   *config.Server
	log      *slog.Logger

	outProxy *smtpsend.Proxy // to the Outbound Proxy Frontend (717)
	dns      *smtpsend.DNS   // MX lookups for DNSRoutingEnabled send connectors, DKIM keys
	dkimKeys txtCache
	tracker  *Tracker     // the message tracking log, or nil
	tracer   trace.Tracer // nil: no delivery spans
	sendLog  *smtpwire.ProtocolLog

	mu      sync.Mutex
	cond    *sync.Cond        // signals a ready entry, a finished attempt, or stop
	entries map[uint64]*entry // every message the hub holds, by InternalMessageId
	ready   []*entry          // entries due now, oldest first
	busy    int
	stopped bool
	wg      sync.WaitGroup
}

func newCategorizer(st *queue.Store, r *routing.Resolver, srv *config.Server, log *slog.Logger) *Categorizer {
	c := &Categorizer{store: st, server: srv, log: log, dns: smtpsend.NewDNS(srv.ExternalDNSServers), entries: map[uint64]*entry{}}
	c.resolver.Store(r)
	c.cond = sync.NewCond(&c.mu)
	return c
}

// deliverOut sends the recipients routed to send connectors through their smart hosts
// (smtpsend.Deliver): 2xx delivers them, 5xx fails them with an NDR, 4xx or no answer leaves
// them queued with the SmtpSend error as LastError. It reports whether it sent anything.
func (c *Categorizer) deliverOut(m *queue.Message, body []byte, u *queue.Update) bool {
	resolver := c.resolver.Load()
	byHop := map[string][]int{}
	var hops []string
	for i, r := range m.Recipients {
		if r.Status == queue.StatusPending && r.NextHop != "" {
			if byHop[r.NextHop] == nil {
				hops = append(hops, r.NextHop)
			}
			byHop[r.NextHop] = append(byHop[r.NextHop], i)
		}
	}
	if len(hops) == 0 {
		return false
	}
	var failed, relayed []queue.Recipient
	deferred, maxRetries, connFailure := 0, 0, false
	for _, hop := range hops {
		var sc *config.SendConnector
		for i := range resolver.Org().SendConnectors {
			if x := &resolver.Org().SendConnectors[i]; x.Name == hop && x.Enabled {
				sc = x
			}
		}
		idx := byHop[hop]
		if sc == nil { // the connector is gone since: route again
			for _, i := range idx {
				m.Recipients[i].NextHop = ""
			}
			continue
		}
		if size := int64(len(m.HeaderPrefix)+len(m.HeaderSuffix)) + m.Size; sc.MaxMessageSize > 0 && size > int64(sc.MaxMessageSize) {
			// Larger than the connector takes: an NDR, never an attempt (Exchange's routing
			// text for it).
			for _, i := range idx {
				r := &m.Recipients[i]
				r.Status, r.LastError = queue.StatusFailed, smtpwire.Fixed("X10").Text
				failed = append(failed, *r)
			}
			continue
		}
		// Smart hosts, or the MX hosts of each recipient domain (DNSRoutingEnabled).
		groups := map[string][]int{}
		var order []string
		for _, i := range idx {
			dom := "" // one group for the smart hosts
			if len(sc.SmartHosts) == 0 {
				dom = routing.Domain(m.Recipients[i].Address)
			}
			if _, ok := groups[dom]; !ok {
				order = append(order, dom)
			}
			groups[dom] = append(groups[dom], i)
		}
		content := m.Content(body)
		if sc.DkimSigning.Enabled {
			content = c.dkimSign(sc, m, content)
		}
		for _, dom := range order {
			idx := groups[dom]
			d := smtpsend.Delivery{SendOptions: smtpsend.OptionsFor(sc, c.server.Fqdn, c.server.ProxyCommandTimeout.Duration(), c.log),
				From: m.From, Content: content, Hosts: smtpsend.SmartHostsOf(sc)}
			if sc.ProtocolLoggingLevel == config.LoggingVerbose {
				d.ProtocolLog = c.sendLog.Writer()
			}
			for _, i := range idx {
				d.Rcpts = append(d.Rcpts, m.Recipients[i].Address)
			}
			var results []smtpsend.RcptResult
			if dom != "" {
				hosts, fail := c.dns.NextHops(context.Background(), dom, sc.Port)
				if hosts == nil {
					results = make([]smtpsend.RcptResult, len(idx))
					for k := range results {
						results[k] = fail
					}
				}
				d.Hosts = hosts
			}
			if results == nil && sc.FrontendProxyEnabled {
				results = c.viaFrontend(context.Background(), d)
			} else if results == nil {
				results = smtpsend.Deliver(context.Background(), d)
			}
			for k, res := range results {
				r := &m.Recipients[idx[k]]
				r.LastHost = res.Host
				switch {
				case res.Code/100 == 2:
					r.Status, r.LastError = queue.StatusDelivered, res.Text
					if len(r.Notify) > 0 {
						relayed = append(relayed, *r)
					}
					c.track(trackEvent{ID: "SEND", Source: "SMTP", Msg: m, Recipients: []string{r.Address}, Status: res.Text,
						ServerHost: res.Host, Connector: hop})
				case res.Code/100 == 5:
					r.Status, r.LastError = queue.StatusFailed, res.Text
					failed = append(failed, *r)
					c.track(trackEvent{ID: "FAIL", Source: "SMTP", Msg: m, Recipients: []string{r.Address}, Status: res.Text,
						ServerHost: res.Host, Connector: hop})
				default:
					r.RetryCount++
					r.LastError = res.Text
					deferred++
					maxRetries = max(maxRetries, r.RetryCount)
					// R71 (441 4.4.1 … Failed to connect) and DNS failures are connection
					// failures; anything else is a reply of the next hop.
					connFailure = connFailure || res.Code == 441 || strings.Contains(res.Text, "DNS query failed")
					c.log.Info("DEFER", "InternalMessageId", m.ID, "Recipient", r.Address, "SendConnector", hop, "LastError", res.Text)
					c.track(trackEvent{ID: "DEFER", Source: "SMTP", Msg: m, Recipients: []string{r.Address}, Status: res.Text,
						ServerHost: res.Host, Connector: hop})
				}
			}
		}
	}
	now := time.Now()
	m.LastRetryTime = now
	m.NextRetryTime = time.Time{}
	if deferred > 0 {
		if m.FirstRetryTime.IsZero() {
			m.FirstRetryTime = now
		}
		m.NextRetryTime = now.Add(c.retryInterval(maxRetries, connFailure))
	}
	if len(failed) > 0 {
		if n := c.ndr(m, body, failed); n != nil {
			u.New = append(u.New, *n)
		}
	}
	// The send side does not pass NOTIFY on, so a next hop sends no DSN: Exchange's "Relayed".
	if n := c.report(m, body, relayed, dsnRelayed); n != nil {
		u.New = append(u.New, *n)
	}
	// Run the categorizer again for recipients whose connector vanished.
	if again := c.categorize(m, body); len(again.Deliveries) > 0 || len(again.New) > 0 {
		u.Deliveries = append(u.Deliveries, again.Deliveries...)
		u.New = append(u.New, again.New...)
	}
	return true
}

// viaFrontend hands a delivery to the Outbound Proxy Frontend (717) with XPROXYTO naming the
// next hops; the frontend relays each command to the next hop and answers with the next hop's
// own replies, so every recipient gets its own result. A next hop the frontend could not set
// up a session with is recorded in Exchange's form (R69: "450 4.7.0 Proxy session setup failed
// on Frontend with '<inner reply>'").
func (c *Categorizer) viaFrontend(ctx context.Context, d smtpsend.Delivery) []smtpsend.RcptResult {
	line := func(r *smtpsend.HubReply) smtpsend.RcptResult {
		return smtpsend.RcptResult{Code: r.Code, Text: fmt.Sprintf("%d %s", r.Code, r.Text)}
	}
	setupFailed := func(r smtpsend.RcptResult) smtpsend.RcptResult {
		if r.Code/100 == 4 {
			r.Code, r.Text = 450, smtpwire.Render(smtpwire.R69, "inner reply", r.Text).Text
		}
		return r
	}
	env := &smtpsend.Envelope{ProxyTo: smtpwire.ProxyTo{Connector: d.Connector, Hosts: d.Hosts}.Format(), From: d.From}
	for _, r := range d.Rcpts {
		env.Recipients = append(env.Recipients, smtpsend.Recipient{Address: r})
	}
	var final *smtpsend.HubReply
	var reps []*smtpsend.HubReply
	t, err := c.outProxy.Begin(ctx, env)
	if err == nil {
		if _, err = t.ReadFrom(bytes.NewReader(d.Content)); err == nil {
			final, err = t.End()
		} else {
			t.Abort()
		}
		reps = t.RcptReplies()
	}
	var whole smtpsend.RcptResult // the result of a transaction that failed as a whole
	var pe *smtpsend.Error
	switch {
	case err == nil:
		whole = line(final)
	case errors.As(err, &pe) && pe.Hub != nil && (pe.Step == "xproxyfrom" || pe.Step == "mail"):
		whole, reps = setupFailed(line(pe.Hub)), nil
	case errors.As(err, &pe) && pe.Hub != nil:
		whole = line(pe.Hub)
	default:
		// No reply from the frontend to pass on: the error's detail goes to the log, never into
		// a LastError or an NDR (X12 names the endpoint only).
		endpoint := c.outProxy.Addr()
		c.log.Warn("SmtpSend via the Outbound Proxy Frontend failed", "endpoint", endpoint, "err", err)
		whole, reps = setupFailed(smtpsend.RcptResult{Code: 451, Text: smtpwire.Render("X12", "endpoint", endpoint).Text}), nil
	}
	out := make([]smtpsend.RcptResult, len(d.Rcpts))
	for i := range out {
		if i < len(reps) && reps[i].Code/100 != 2 {
			out[i] = line(reps[i])
		} else {
			out[i] = whole
		}
	}
	return out
}

// categorize resolves every pending recipient of m (routing.Resolve): local mailboxes get a
// mailbox item (one per mailbox however many of its addresses were named), unknown recipients
// of authoritative domains fail with R74 and an NDR, the rest wait for a send connector.
func (c *Categorizer) categorize(m *queue.Message, body []byte) queue.Update {
	u := queue.Update{Message: m}
	var delivered map[string]int // mailbox → index in u.Deliveries
	var failed, succeeded []queue.Recipient
	resolver := c.resolver.Load()
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.Status != queue.StatusPending || r.NextHop != "" {
			continue
		}
		disp, mb := resolver.Resolve(r.Address)
		switch disp {
		case routing.DeliverToMailbox:
			r.Status, r.Mailbox = queue.StatusDelivered, mb.PrimarySmtpAddress
			if len(r.Notify) > 0 {
				succeeded = append(succeeded, *r)
			}
			key := strings.ToLower(mb.PrimarySmtpAddress)
			if j, ok := delivered[key]; ok {
				u.Deliveries[j].To = append(u.Deliveries[j].To, r.Address)
				continue
			}
			if delivered == nil {
				delivered = map[string]int{}
			}
			delivered[key] = len(u.Deliveries)
			u.Deliveries = append(u.Deliveries, queue.MailboxItem{Mailbox: mb.PrimarySmtpAddress, ID: m.ID,
				MessageID: m.MessageID, From: m.From, To: []string{r.Address}, Subject: m.Subject, Received: m.Arrived,
				Size:         int64(len(m.HeaderPrefix)+len(m.HeaderSuffix)) + m.Size,
				HeaderPrefix: m.HeaderPrefix, HeaderSuffix: m.HeaderSuffix, HeaderEnd: m.HeaderEnd})
		case routing.RecipientNotFound:
			r.Status = queue.StatusFailed
			r.LastError = smtpwire.Fixed("R74").Text
			failed = append(failed, *r)
			c.track(trackEvent{ID: "FAIL", Source: "ROUTING", Msg: m, Recipients: []string{r.Address}, Status: r.LastError})
		case routing.RouteOut:
			if sc := resolver.SendConnectorFor(c.server.Name, routing.Domain(r.Address)); sc != nil && (len(sc.SmartHosts) > 0 || sc.DNSRoutingEnabled) {
				r.NextHop = sc.Name // delivered by the workers after the commit
				continue
			}
			// No connector: the Unreachable queue.
			r.Status = queue.StatusUnreachable
			r.LastError = noRouteError
		}
	}
	if len(failed) > 0 {
		if n := c.ndr(m, body, failed); n != nil {
			u.New = append(u.New, *n)
		}
	}
	if n := c.report(m, body, succeeded, dsnDelivered); n != nil {
		u.New = append(u.New, *n)
	}
	for _, d := range u.Deliveries {
		c.track(trackEvent{ID: "DELIVER", Source: "STOREDRIVER", Msg: m, Recipients: d.To, Status: smtpwire.Fixed(smtpwire.R37).Text})
	}
	return u
}
