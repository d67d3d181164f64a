package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The SmtpSend driver: one delivery attempt of the recipients routed to send connectors,
// through transport/smtpsend (directly, or via the Outbound Proxy Frontend), and the turning of
// each recipient's smtpsend.RcptResult (the result shape the proxy client shares) into its
// queue state. Retry times, NDRs and DSNs are the pipeline's (pipeline.go).

// smtpSend is the hub's SmtpSend.
type smtpSend struct {
	server   *config.Server
	log      *slog.Logger
	outProxy *smtpsend.Proxy // to the Outbound Proxy Frontend (717)
	dns      *smtpsend.DNS   // MX lookups for DNSRoutingEnabled send connectors
	sendLog  *smtpwire.ProtocolLog
	tracker  *Tracker
	sessions *smtpsend.Sessions // the send connectors' sessions between messages (nil: one per message)
	// delivered counts the recipients delivered: taken by the next hop (send connectors and the
	// Mailbox Delivery hop), or stored in process by the categorizer (Hub.Delivered).
	delivered atomic.Int64
}

// sendResult is what one attempt did to a message's recipients (already recorded in them).
type sendResult struct {
	Sent        bool              // anything was routed to a send connector
	Failed      []queue.Recipient // refused with 5xx or too large: owed an NDR
	Relayed     []queue.Recipient // accepted by a next hop and asked for a success DSN
	Delivered   []queue.Recipient // written into a mailbox by Mailbox Delivery and asked for a success DSN
	Deferred    int               // left queued with a 4xx or no answer
	MaxRetries  int               // the highest RetryCount among the deferred
	ConnFailure bool              // a deferral was a connection or DNS failure
}

// deliver sends the recipients of m routed to send connectors of org through their smart
// hosts or MX hosts (smtpsend.Deliver): 2xx delivers them, 5xx fails them, 4xx or no answer
// leaves them queued with the SmtpSend reply as LastError. A recipient whose connector is gone
// loses its NextHop, so the categorizer routes it again.
func (s *smtpSend) deliver(m *queue.Message, body []byte, org *config.Organization) sendResult {
	byHop := map[string][]int{}
	var hops []string
	for i, r := range m.Recipients {
		if r.Status == queue.StatusPending && r.NextHop != "" && !intraOrgHop(r.NextHop) {
			if byHop[r.NextHop] == nil {
				hops = append(hops, r.NextHop)
			}
			byHop[r.NextHop] = append(byHop[r.NextHop], i)
		}
	}
	var res sendResult
	if len(hops) == 0 {
		return res
	}
	res.Sent = true
	for _, hop := range hops {
		var sc *config.SendConnector
		for i := range org.SendConnectors {
			if x := &org.SendConnectors[i]; x.Name == hop && x.Enabled {
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
			// Larger than the connector takes: an NDR, never an attempt (X10, Exchange's routing
			// text for it).
			for _, i := range idx {
				r := &m.Recipients[i]
				r.Status, r.LastError = queue.StatusFailed, smtpwire.Fixed("X10").Text
				res.Failed = append(res.Failed, *r)
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
			content = s.dkimSign(sc, m, content)
		}
		for _, dom := range order {
			idx := groups[dom]
			for k, rr := range s.attempt(sc, m, content, dom, idx) {
				s.record(&res, m, &m.Recipients[idx[k]], rr, hop)
			}
		}
	}
	return res
}

// attempt sends content to the recipients idx of m through sc: its smart hosts (dom "") or
// dom's MX hosts, directly or through the Outbound Proxy Frontend. It returns one result per
// recipient.
func (s *smtpSend) attempt(sc *config.SendConnector, m *queue.Message, content []byte, dom string, idx []int) []smtpsend.RcptResult {
	d := smtpsend.Delivery{SendOptions: smtpsend.OptionsFor(sc, s.server.Fqdn, s.server.ProxyCommandTimeout.Duration(), s.log),
		From: m.From, Content: content, Hosts: smtpsend.SmartHostsOf(sc),
		Sessions: s.sessions, Owner: sc, MaxMessagesPerConnection: sc.SmtpMaxMessagesPerConnection}
	if sc.ProtocolLoggingLevel == config.LoggingVerbose {
		d.ProtocolLog = s.sendLog.Writer()
	}
	for _, i := range idx {
		d.Rcpts = append(d.Rcpts, m.Recipients[i].Address)
	}
	if dom != "" {
		hosts, fail := s.dns.NextHops(context.Background(), dom, sc.Port)
		if hosts == nil {
			results := make([]smtpsend.RcptResult, len(idx))
			for k := range results {
				results[k] = fail
			}
			return results
		}
		d.Hosts = hosts
	}
	if sc.FrontendProxyEnabled {
		return s.viaFrontend(context.Background(), d)
	}
	return smtpsend.Deliver(context.Background(), d)
}

// record turns one recipient's result into its queue state and tracking event.
func (s *smtpSend) record(res *sendResult, m *queue.Message, r *queue.Recipient, rr smtpsend.RcptResult, hop string) {
	r.LastHost = rr.Host
	ev := trackEvent{Source: "SMTP", Msg: m, Recipients: []string{r.Address}, Status: rr.Text, ServerHost: rr.Host, Connector: hop}
	switch {
	case rr.Code/100 == 2:
		r.Status, r.LastError = queue.StatusDelivered, rr.Text
		s.delivered.Add(1)
		if len(r.Notify) > 0 {
			res.Relayed = append(res.Relayed, *r)
		}
		ev.ID = "SEND"
	case rr.Code/100 == 5:
		r.Status, r.LastError = queue.StatusFailed, rr.Text
		res.Failed = append(res.Failed, *r)
		ev.ID = "FAIL"
	default:
		r.RetryCount++
		r.LastError = rr.Text
		res.Deferred++
		res.MaxRetries = max(res.MaxRetries, r.RetryCount)
		// R71 (441 4.4.1 … Failed to connect) and DNS failures are connection failures;
		// anything else is a reply of the next hop.
		res.ConnFailure = res.ConnFailure || rr.Code == 441 || strings.Contains(rr.Text, "DNS query failed")
		s.log.Info("DEFER", "InternalMessageId", m.ID, "Recipient", r.Address, "SendConnector", hop, "LastError", rr.Text)
		ev.ID = "DEFER"
	}
	s.tracker.track(ev)
}

// viaFrontend hands a delivery to the Outbound Proxy Frontend (717) with XPROXYTO naming the
// next hops; the frontend relays each command to the next hop and answers with the next hop's
// own replies, so every recipient gets its own result. A next hop the frontend could not set
// up a session with is recorded in Exchange's form (R69: "Proxy session setup failed on
// Frontend with '<inner reply>'").
func (s *smtpSend) viaFrontend(ctx context.Context, d smtpsend.Delivery) []smtpsend.RcptResult {
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
	t, err := s.outProxy.Begin(ctx, env)
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
		endpoint := s.outProxy.Addr()
		s.log.Warn("SmtpSend via the Outbound Proxy Frontend failed", "endpoint", endpoint, "err", err)
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
