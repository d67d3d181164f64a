package transport

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The hub's pipeline: what one run over a message does with the stages. Submission (session.go)
// and the scheduler's workers call it; each stage does one job: the categorizer decides
// (categorizer.go), SmtpSend delivers (send.go), the DSN writer writes reports (dsn.go), the
// scheduler times the next run (scheduler.go). Only the pipeline writes to the store.

// The statuses the hub itself gives waiting recipients, from the reply table: expiry (R79),
// the delay DSN's diagnostic line (R80) and administrative removal (X11).
var (
	expiredError = smtpwire.Fixed(smtpwire.R79).Text
	delayedError = smtpwire.Fixed(smtpwire.R80).Text
	removedError = smtpwire.Fixed("X11").Text
)

// NDRChoice says whether failing recipients administratively sends their sender an NDR
// (Remove-Message -WithNDR).
type NDRChoice int

const (
	WithoutNDR NDRChoice = iota
	WithNDR
)

// categorize runs the categorizer over m and adds what it owes: the NDR for the recipients it
// failed, the success DSN for those delivered with NOTIFY=SUCCESS, the tracking events.
func (h *Hub) categorize(m *queue.Message, body []byte) queue.Update {
	c := categorizeWith(m, h.state.Load().resolver, h.opt.Server.Name, h.mbxHop)
	u := queue.Update{Message: m, Deliveries: c.Deliveries}
	for _, e := range c.Events {
		h.tracker.track(e)
	}
	if len(c.Failed) > 0 {
		if n := h.report(m, body, c.Failed, dsnFailed); n != nil {
			u.New = append(u.New, *n)
		}
	}
	if n := h.report(m, body, c.Delivered, dsnDelivered); n != nil {
		u.New = append(u.New, *n)
	}
	for _, d := range u.Deliveries {
		h.send.delivered.Add(int64(len(d.To))) // stored without the Mailbox Delivery hop
		h.tracker.track(trackEvent{ID: "DELIVER", Source: "STOREDRIVER", Msg: m, Recipients: d.To, Status: smtpwire.Fixed(smtpwire.R37).Text})
	}
	return u
}

// deliverOut makes one SmtpSend attempt of m's routed recipients and adds its consequences to
// u: the next retry time, the NDR of the refused, the Relayed DSN, and a new categorization of
// recipients whose connector vanished. It reports whether it sent anything.
func (h *Hub) deliverOut(m *queue.Message, body []byte, u *queue.Update) bool {
	res := h.send.deliver(m, body, h.state.Load().resolver.Org())
	mres := h.deliverMailbox(m, body, false) // the SmtpDeliveryToMailbox queue (mailboxdelivery.go)
	if !res.Sent && !mres.Sent {
		return false
	}
	res.Sent = true
	res.Failed = append(res.Failed, mres.Failed...)
	res.Relayed = append(res.Relayed, mres.Relayed...)
	res.Delivered = append(res.Delivered, mres.Delivered...)
	res.Deferred += mres.Deferred
	res.MaxRetries = max(res.MaxRetries, mres.MaxRetries)
	res.ConnFailure = res.ConnFailure || mres.ConnFailure
	h.settle(m, body, res, u)
	// Run the categorizer again for recipients whose connector vanished.
	if again := h.categorize(m, body); len(again.Deliveries) > 0 || len(again.New) > 0 {
		u.Deliveries = append(u.Deliveries, again.Deliveries...)
		u.New = append(u.New, again.New...)
	}
	return true
}

// report asks the DSN writer for the DSN of kind owed to m's sender for rcpts, with a new
// InternalMessageId, and tracks it; nil when none is owed or no id could be had.
func (h *Hub) report(m *queue.Message, body []byte, rcpts []queue.Recipient, kind dsnKind) *queue.NewMessage {
	notify := dsnOwed(m, rcpts, kind)
	if len(notify) == 0 {
		return nil
	}
	id, err := h.opt.Store.NextID()
	if err != nil {
		h.opt.Logger.Error("categorizer: no id for a DSN", "err", err)
		return nil
	}
	dw := dsnWriter{Fqdn: h.opt.Server.Fqdn, Domain: h.state.Load().resolver.DefaultDomain(),
		Expiration: h.opt.Server.MessageExpirationTimeout.Duration(), DNSRouted: dnsRoutedIn(h.state.Load().resolver.Org())}
	n := dw.write(m, body, notify, kind, time.Now(), id)
	var addrs []string
	for _, r := range notify {
		addrs = append(addrs, r.Address)
	}
	h.tracker.track(trackEvent{ID: "DSN", Source: "DSN", Msg: n.Message, Recipients: []string{m.From}, Reference: m.MessageID,
		Status: dsnKinds[kind].track + ": " + strings.Join(addrs, ";")})
	return n
}

// failRemaining fails every recipient still waiting with reply (expiry, removal) and, with
// WithNDR, adds the NDR they are owed to u.
func (h *Hub) failRemaining(m *queue.Message, body []byte, u *queue.Update, reply, source string, ndr NDRChoice) {
	var failed []queue.Recipient
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.Status == queue.StatusPending || r.Status == queue.StatusUnreachable {
			r.AttemptError = r.LastError // the NDR's history line (DSN-E13, SISIMAI)
			r.Status, r.LastError = queue.StatusFailed, reply
			failed = append(failed, *r)
		}
	}
	for _, r := range failed {
		h.tracker.track(trackEvent{ID: "FAIL", Source: source, Msg: m, Recipients: []string{r.Address}, Status: reply})
	}
	if ndr != WithNDR {
		return
	}
	if n := h.report(m, body, failed, dsnFailed); n != nil {
		u.New = append(u.New, *n)
	}
}

// process runs one message: expiry, categorization of unrouted recipients, the delivery
// attempt when its retry is due, the delay DSN; then commits the result. It works on a copy
// and returns it (nil when nothing could be recorded: the entry keeps the old record).
func (h *Hub) process(orig *queue.Message) *queue.Message {
	st, log := h.opt.Store, h.opt.Logger
	m := orig.Clone()
	body, err := st.Body(m.ID)
	if err != nil {
		log.Error("categorizer: body missing", "InternalMessageId", m.ID, "err", err)
		return nil
	}
	now := time.Now()
	if h.sched.expired(m, now) {
		u := queue.Update{Message: m}
		h.failRemaining(m, body, &u, expiredError, "QUEUE", WithNDR)
		if err := st.Apply(u, queue.Synced); err != nil {
			log.Error("categorizer: could not record the expiry", "InternalMessageId", m.ID, "err", err)
			return nil
		}
		h.sched.queueNDRs(u.New)
		h.shadowDone(m)
		return m
	}
	attempt := outbound(m) && !m.NextRetryTime.After(now)
	if attempt || unrouted(m) {
		// Poison detection: the run is recorded before it starts (RELIABILITY: an update that
		// replays safely, so no sync) and cleared by the commit after it.
		m.InFlight = true
		if err := st.Apply(queue.Update{Message: m}, queue.Unsynced); err != nil {
			log.Error("categorizer: could not mark an attempt", "InternalMessageId", m.ID, "err", err)
			return nil
		}
		m.InFlight = false
	}
	u := h.categorize(m, body)
	sent := false
	if attempt {
		var span trace.Span
		if h.opt.Tracer != nil && m.TraceParent != "" {
			_, span = h.opt.Tracer.Start(smtpreceive.ContextWithTraceParent(context.Background(), m.TraceParent), "queue.deliver",
				trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.Int64("exlab.internal_message_id", int64(m.ID))))
		}
		sent = h.deliverOut(m, body, &u)
		if span != nil {
			waiting := len(waitingRecipients(m))
			span.SetAttributes(attribute.Int("exlab.recipients_waiting", waiting))
			if waiting > 0 {
				span.SetStatus(codes.Error, "deferred")
			}
			span.End()
		}
	}
	if h.sched.delayDSNDue(m, now) {
		m.DelayNotified = true
		if n := h.report(m, body, waitingRecipients(m), dsnDelayed); n != nil {
			u.New = append(u.New, *n)
		}
	}
	if err := st.Apply(u, queue.Durability(sent || len(u.New) > 0)); err != nil {
		log.Error("categorizer: could not record delivery; it will be retried after a restart",
			"InternalMessageId", m.ID, "err", err)
		return nil
	}
	for _, d := range u.Deliveries {
		log.Debug("DELIVER", "InternalMessageId", m.ID, "MessageId", m.MessageID, "Mailbox", d.Mailbox)
	}
	h.sched.queueNDRs(u.New)
	h.shadowDone(m)
	return m
}
