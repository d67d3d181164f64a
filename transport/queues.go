package transport

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/exlab/exlab/transport/smtpreceive"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The hub's queues (spec §8). Every message the hub holds is an entry, in memory and in the
// queue database; which Exchange queue it shows in follows from its recipients' states:
// Submission (not yet categorized), one delivery queue per next hop, Unreachable, Poison.
// An entry is scheduled by a timer for its next retry, its delay DSN or its expiry, and run by
// the categorizer's workers; an entry's message is replaced after each run, never changed in
// place, so the queue views may read it under c.mu while a worker runs.

// The statuses the hub itself gives waiting recipients, from the reply table: expiry (R79),
// the delay DSN's diagnostic line (R80) and administrative removal (X11).
var (
	expiredError = smtpwire.Fixed(smtpwire.R79).Text
	delayedError = smtpwire.Fixed(smtpwire.R80).Text
	removedError = smtpwire.Fixed("X11").Text
)

// entry is one message the hub holds.
type entry struct {
	m      *queue.Message
	timer  *time.Timer
	ready  bool // in c.ready
	active bool // a worker runs it
}

// start loads what an earlier run left: a record still marked InFlight was being delivered
// when the service died, which counts toward PoisonThreshold (spec §8.3, Event 10001).
func (c *Categorizer) start() error {
	var poisoned []*queue.Message
	var held []*queue.Message
	err := c.store.Messages(func(m *queue.Message) bool {
		if m.InFlight {
			m.InFlight = false
			m.PoisonCount++
			if c.server.PoisonMessageDetectionEnabled && m.PoisonCount >= c.server.PoisonThreshold {
				m.Poison = true
				poisoned = append(poisoned, m)
			}
			if err := c.store.Apply(queue.Update{Message: m}, true); err != nil {
				c.log.Error("categorizer: could not record a poison count", "InternalMessageId", m.ID, "err", err)
			}
		}
		held = append(held, m)
		return true
	})
	if err != nil {
		return err
	}
	if len(poisoned) > 0 {
		c.log.Error(fmt.Sprintf("%d messages have reached or exceeded the configured poison threshold of %d. After the Microsoft Exchange "+
			"Transport service restarted, these messages were moved to the poison message queue.", len(poisoned), c.server.PoisonThreshold),
			"EventID", 10001, "Source", "MSExchangeTransport", "TaskCategory", "PoisonMessage")
		for _, m := range poisoned {
			c.track(trackEvent{ID: "POISONMESSAGE", Source: "POISONMESSAGE", Msg: m, Recipients: pendingAddresses(m)})
		}
	}
	for _, m := range held {
		c.hold(m)
	}
	for i := 0; i < c.server.MaxConcurrentMailboxDeliveries; i++ {
		c.wg.Add(1)
		go c.worker()
	}
	return nil
}

// hold takes a committed message into the queues (a new submission, an NDR, a record left by
// an earlier run) and schedules its next run.
func (c *Categorizer) hold(m *queue.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[m.ID]
	if e == nil {
		e = &entry{}
		c.entries[m.ID] = e
	}
	e.m = m
	c.scheduleLocked(e, time.Now())
}

// queueNDRs holds NDRs that were just committed; the workers deliver them like any other
// message.
func (c *Categorizer) queueNDRs(news []queue.NewMessage) {
	for _, n := range news {
		c.hold(n.Message)
	}
}

// scheduleLocked arms e's timer for its next run, or makes it ready now (c.mu held).
func (c *Categorizer) scheduleLocked(e *entry, now time.Time) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	m := e.m
	if m.Done() {
		delete(c.entries, m.ID)
		return
	}
	if m.Suspended || m.Poison || e.active {
		return
	}
	at, ok := c.nextRun(m)
	if !ok {
		return
	}
	if d := at.Sub(now); d > 0 {
		id := m.ID
		e.timer = time.AfterFunc(d, func() { c.wake(id) })
		return
	}
	if !e.ready {
		e.ready = true
		c.ready = append(c.ready, e)
		c.cond.Signal()
	}
}

func (c *Categorizer) wake(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[id]; e != nil {
		e.timer = nil
		c.scheduleLocked(e, time.Now())
	}
}

// nextRun is when m needs the categorizer next: now for recipients not yet routed, else the
// earliest of its retry, its delay DSN and its expiry.
func (c *Categorizer) nextRun(m *queue.Message) (time.Time, bool) {
	var at time.Time
	set := false
	earliest := func(t time.Time) {
		if !set || t.Before(at) {
			at, set = t, true
		}
	}
	waiting := false
	for _, r := range m.Recipients {
		switch {
		case r.Status == queue.StatusPending && r.NextHop == "":
			return time.Time{}, true
		case r.Status == queue.StatusPending:
			waiting = true
			earliest(m.NextRetryTime)
		case r.Status == queue.StatusUnreachable:
			waiting = true
		}
	}
	if !waiting {
		return time.Time{}, false
	}
	earliest(m.Arrived.Add(c.server.MessageExpirationTimeout.Duration()))
	if !m.DelayNotified && !m.IsDSN && m.From != "" {
		earliest(m.Arrived.Add(c.server.DelayNotificationTimeout.Duration()))
	}
	return at, true
}

// retryInterval is how long a message waits after its failures-th failed attempt (spec §8.3):
// glitch retries, then transient retries, then the connection-failure or message interval.
func (c *Categorizer) retryInterval(failures int, connFailure bool) time.Duration {
	s := c.server
	switch {
	case failures <= s.QueueGlitchRetryCount:
		return s.QueueGlitchRetryInterval.Duration()
	case failures <= s.QueueGlitchRetryCount+s.TransientFailureRetryCount:
		return s.TransientFailureRetryInterval.Duration()
	case connFailure:
		return s.OutboundConnectionFailureRetryInterval.Duration()
	}
	return s.MessageRetryInterval.Duration()
}

func (c *Categorizer) stop() {
	c.mu.Lock()
	c.stopped = true
	for _, e := range c.entries {
		if e.timer != nil {
			e.timer.Stop()
		}
	}
	c.mu.Unlock()
	c.cond.Broadcast()
	c.wg.Wait()
}

// idle says whether no message is due or being processed (waiting ones may be).
func (c *Categorizer) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ready) == 0 && c.busy == 0
}

func (c *Categorizer) worker() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		for len(c.ready) == 0 && !c.stopped {
			c.cond.Wait()
		}
		if c.stopped {
			c.mu.Unlock()
			return
		}
		e := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		e.ready, e.active = false, true
		c.busy++
		m := e.m
		c.mu.Unlock()

		next := c.process(m)

		c.mu.Lock()
		c.busy--
		e.active = false
		if next != nil {
			e.m = next
		}
		if !c.stopped {
			c.scheduleLocked(e, time.Now())
		}
		c.mu.Unlock()
		c.cond.Broadcast() // admin operations wait for an attempt to end
	}
}

// process runs one message: expiry, categorization of unrouted recipients, the delivery
// attempt when its retry is due, the delay DSN; then commits the result. It works on a copy
// and returns it (nil when nothing could be recorded: the entry keeps the old record).
func (c *Categorizer) process(orig *queue.Message) *queue.Message {
	m := orig.Clone()
	body, err := c.store.Body(m.ID)
	if err != nil {
		c.log.Error("categorizer: body missing", "InternalMessageId", m.ID, "err", err)
		return nil
	}
	now := time.Now()
	if now.After(m.Arrived.Add(c.server.MessageExpirationTimeout.Duration())) {
		u := queue.Update{Message: m}
		c.failRemaining(m, body, &u, expiredError, "QUEUE", true)
		if err := c.store.Apply(u, true); err != nil {
			c.log.Error("categorizer: could not record the expiry", "InternalMessageId", m.ID, "err", err)
			return nil
		}
		c.queueNDRs(u.New)
		return m
	}
	attempt := outbound(m) && !m.NextRetryTime.After(now)
	if attempt || unrouted(m) {
		// Poison detection: the run is recorded before it starts (RELIABILITY: an update that
		// replays safely, so no sync) and cleared by the commit after it.
		m.InFlight = true
		if err := c.store.Apply(queue.Update{Message: m}, false); err != nil {
			c.log.Error("categorizer: could not mark an attempt", "InternalMessageId", m.ID, "err", err)
			return nil
		}
		m.InFlight = false
	}
	u := c.categorize(m, body)
	sent := false
	if attempt {
		var span trace.Span
		if c.tracer != nil && m.TraceParent != "" {
			_, span = c.tracer.Start(smtpreceive.ContextWithTraceParent(context.Background(), m.TraceParent), "queue.deliver",
				trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.Int64("exlab.internal_message_id", int64(m.ID))))
		}
		sent = c.deliverOut(m, body, &u)
		if span != nil {
			waiting := len(waitingRecipients(m))
			span.SetAttributes(attribute.Int("exlab.recipients_waiting", waiting))
			if waiting > 0 {
				span.SetStatus(codes.Error, "deferred")
			}
			span.End()
		}
	}
	if !m.DelayNotified && !m.IsDSN && m.From != "" && !m.Done() &&
		!now.Before(m.Arrived.Add(c.server.DelayNotificationTimeout.Duration())) {
		m.DelayNotified = true
		if n := c.report(m, body, waitingRecipients(m), dsnDelayed); n != nil {
			u.New = append(u.New, *n)
		}
	}
	if err := c.store.Apply(u, sent || len(u.New) > 0); err != nil {
		c.log.Error("categorizer: could not record delivery; it will be retried after a restart",
			"InternalMessageId", m.ID, "err", err)
		return nil
	}
	for _, d := range u.Deliveries {
		c.log.Debug("DELIVER", "InternalMessageId", m.ID, "MessageId", m.MessageID, "Mailbox", d.Mailbox)
	}
	c.queueNDRs(u.New)
	return m
}

// failRemaining fails every recipient still waiting with reply (expiry, removal) and, with
// ndr, adds the NDR they are owed to u.
func (c *Categorizer) failRemaining(m *queue.Message, body []byte, u *queue.Update, reply, source string, ndr bool) {
	var failed []queue.Recipient
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.Status == queue.StatusPending || r.Status == queue.StatusUnreachable {
			r.Status, r.LastError = queue.StatusFailed, reply
			failed = append(failed, *r)
		}
	}
	for _, r := range failed {
		c.track(trackEvent{ID: "FAIL", Source: source, Msg: m, Recipients: []string{r.Address}, Status: reply})
	}
	if !ndr {
		return
	}
	if n := c.ndr(m, body, failed); n != nil {
		u.New = append(u.New, *n)
	}
}

// unrouted says whether m has recipients the categorizer has not routed yet.
func unrouted(m *queue.Message) bool {
	for _, r := range m.Recipients {
		if r.Status == queue.StatusPending && r.NextHop == "" {
			return true
		}
	}
	return false
}

// outbound says whether m has recipients waiting for a send connector.
func outbound(m *queue.Message) bool {
	for _, r := range m.Recipients {
		if r.Status == queue.StatusPending && r.NextHop != "" {
			return true
		}
	}
	return false
}

func waitingRecipients(m *queue.Message) []queue.Recipient {
	var out []queue.Recipient
	for _, r := range m.Recipients {
		if r.Status == queue.StatusPending || r.Status == queue.StatusUnreachable {
			out = append(out, r)
		}
	}
	return out
}

func pendingAddresses(m *queue.Message) []string {
	var out []string
	for _, r := range waitingRecipients(m) {
		out = append(out, r.Address)
	}
	return out
}

// Queue administration (Get-Queue, Get-Message, Retry-Queue, Suspend-/Resume-/Remove-Message).

// QueueInfo is one queue as Get-Queue shows it.
type QueueInfo struct {
	Identity      string
	DeliveryType  string
	Status        string
	MessageCount  int
	NextHopDomain string
	LastError     string
	LastRetryTime time.Time `json:",omitzero"`
	NextRetryTime time.Time `json:",omitzero"`
}

// MessageInfo is one message in one queue as Get-Message shows it.
type MessageInfo struct {
	Identity          string
	FromAddress       string
	Status            string
	Queue             string
	Subject           string
	InternetMessageId string
	Recipients        []string
	Size              int64
	DateReceived      time.Time
	ExpirationTime    time.Time `json:",omitzero"`
	RetryCount        int
	LastError         string

	nextHopIdentity string // <SRV>\<NextHopDomain>, the queue's other name
}

// ErrNoSuchMessage and ErrNoSuchQueue answer an administrative operation on an identity that
// names nothing.
var (
	ErrNoSuchMessage = errors.New("the message was not found")
	ErrNoSuchQueue   = errors.New("the queue was not found")
)

// queueKey is what makes one queue: its delivery type and next hop.
type queueKey struct{ deliveryType, nextHop string }

// queueOf names the queue recipient r of m waits in ("" when it waits in none).
func queueOf(m *queue.Message, r *queue.Recipient, org *config.Organization) queueKey {
	switch {
	case m.Poison:
		return queueKey{"Undefined", "Poison Message"}
	case r.Status == queue.StatusUnreachable:
		return queueKey{"Unreachable", "Unreachable Domain"}
	case r.Status != queue.StatusPending:
		return queueKey{}
	case r.NextHop == "":
		return queueKey{"Undefined", "Submission"}
	}
	for i := range org.SendConnectors {
		if sc := &org.SendConnectors[i]; sc.Name == r.NextHop {
			if len(sc.SmartHosts) > 0 {
				return queueKey{"SmartHostConnectorDelivery", strings.Join(sc.SmartHosts, ",")}
			}
			return queueKey{"DnsConnectorDelivery", routing.Domain(r.Address)}
		}
	}
	return queueKey{"Undefined", "Submission"} // its connector is gone: it is routed again
}

// identity is the queue's Identity, <SRV>\Submission, <SRV>\Unreachable, <SRV>\Poison or
// <SRV>\<integer> for a delivery queue (a stable number derived from the next hop, as
// Exchange numbers delivery queues).
func (k queueKey) identity(server string) string {
	switch k.nextHop {
	case "Submission", "Unreachable Domain", "Poison Message":
		return server + `\` + map[string]string{"Submission": "Submission", "Unreachable Domain": "Unreachable", "Poison Message": "Poison"}[k.nextHop]
	}
	h := fnv.New32a()
	h.Write([]byte(k.deliveryType + "\x00" + strings.ToLower(k.nextHop)))
	return fmt.Sprintf(`%s\%d`, server, 100000+h.Sum32()%900000)
}

// matches says whether id names this queue: its Identity, or <SRV>\<NextHopDomain>.
func (k queueKey) matches(id, server string) bool {
	return strings.EqualFold(id, k.identity(server)) || strings.EqualFold(id, server+`\`+k.nextHop)
}

// heldMessage is what the views need of one entry.
type heldMessage struct {
	m      *queue.Message
	active bool
}

// Queues and Messages are the views of a running hub.
func (c *Categorizer) Queues(org *config.Organization) []QueueInfo {
	qs, _ := views(c.held(), org, c.server, time.Now())
	return qs
}

// Messages lists the messages of the queue named by queueID, or of every queue when it is "".
func (c *Categorizer) Messages(org *config.Organization, queueID string) ([]MessageInfo, error) {
	_, ms := views(c.held(), org, c.server, time.Now())
	return filterMessages(ms, queueID, c.server.Name)
}

// held64 is the number of messages the hub holds (the QueueLength meter).
func (c *Categorizer) held64() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.entries))
}

func (c *Categorizer) held() []heldMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]heldMessage, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, heldMessage{e.m, e.active})
	}
	return out
}

// StoredQueues computes the same views from a queue database that no hub runs on.
func StoredQueues(st *queue.Store, org *config.Organization, srv *config.Server, queueID string) ([]QueueInfo, []MessageInfo, error) {
	var held []heldMessage
	if err := st.Messages(func(m *queue.Message) bool {
		held = append(held, heldMessage{m: m})
		return true
	}); err != nil {
		return nil, nil, err
	}
	qs, ms := views(held, org, srv, time.Now())
	ms, err := filterMessages(ms, queueID, srv.Name)
	return qs, ms, err
}

func filterMessages(ms []MessageInfo, queueID, server string) ([]MessageInfo, error) {
	if queueID == "" {
		return ms, nil
	}
	var out []MessageInfo
	found := false
	for _, mi := range ms {
		if strings.EqualFold(mi.Queue, queueID) || strings.EqualFold(mi.nextHopIdentity, queueID) {
			out = append(out, mi)
			found = true
		}
	}
	if !found && !strings.Contains(queueID, `\`) {
		return nil, fmt.Errorf("%w: %q (write SERVER\\Queue, e.g. %s\\Submission)", ErrNoSuchQueue, queueID, server)
	}
	return out, nil
}

// views groups the held messages into Exchange's queues. The Submission, Unreachable and
// Poison queues are always listed (Poison only when not empty, spec §8.1).
func views(held []heldMessage, org *config.Organization, srv *config.Server, now time.Time) ([]QueueInfo, []MessageInfo) {
	sort.Slice(held, func(i, j int) bool { return held[i].m.ID < held[j].m.ID })
	type agg struct {
		info     QueueInfo
		key      queueKey
		messages int
		active   bool
		retry    bool
		lastTime time.Time
	}
	queues := map[queueKey]*agg{}
	get := func(k queueKey) *agg {
		a := queues[k]
		if a == nil {
			a = &agg{key: k, info: QueueInfo{Identity: k.identity(srv.Name), DeliveryType: k.deliveryType, NextHopDomain: k.nextHop}}
			queues[k] = a
		}
		return a
	}
	get(queueKey{"Undefined", "Submission"})
	get(queueKey{"Unreachable", "Unreachable Domain"})
	var msgs []MessageInfo
	for _, h := range held {
		m := h.m
		byQueue := map[queueKey][]queue.Recipient{}
		var order []queueKey
		for i := range m.Recipients {
			k := queueOf(m, &m.Recipients[i], org)
			if k.nextHop == "" {
				continue
			}
			if _, ok := byQueue[k]; !ok {
				order = append(order, k)
			}
			byQueue[k] = append(byQueue[k], m.Recipients[i])
		}
		for _, k := range order {
			a := get(k)
			a.messages++
			rs := byQueue[k]
			status := "Ready"
			lastErr, retries := "", 0
			for _, r := range rs {
				if r.LastError != "" {
					lastErr = r.LastError
				}
				retries = max(retries, r.RetryCount)
			}
			switch {
			case m.Suspended || m.Poison:
				status = "Suspended"
			case h.active:
				status, a.active = "Active", true
			case k.deliveryType != "Undefined" && k.deliveryType != "Unreachable" && m.NextRetryTime.After(now):
				status, a.retry = "Retry", true
			}
			if lastErr != "" && !m.LastRetryTime.Before(a.lastTime) {
				a.lastTime = m.LastRetryTime
				a.info.LastError = lastErrorField(m.LastRetryTime, lastErr, rs[0].LastHost)
				a.info.LastRetryTime = m.LastRetryTime
			}
			if m.NextRetryTime.After(now) && (a.info.NextRetryTime.IsZero() || m.NextRetryTime.Before(a.info.NextRetryTime)) {
				a.info.NextRetryTime = m.NextRetryTime
			}
			if k.nextHop == "Unreachable Domain" && lastErr != "" {
				a.info.LastError = lastErr
			}
			mi := MessageInfo{
				Identity: fmt.Sprintf(`%s\%d`, a.info.Identity, m.ID), FromAddress: m.From, Status: status, Queue: a.info.Identity,
				Subject: m.Subject, InternetMessageId: m.MessageID, Size: m.Size, DateReceived: m.Arrived, RetryCount: retries,
				LastError: lastErr, nextHopIdentity: srv.Name + `\` + k.nextHop,
			}
			if !m.Poison {
				mi.ExpirationTime = m.Arrived.Add(srv.MessageExpirationTimeout.Duration())
			}
			for _, r := range rs {
				mi.Recipients = append(mi.Recipients, r.Address)
			}
			msgs = append(msgs, mi)
		}
	}
	var out []QueueInfo
	for _, a := range queues {
		if a.key.nextHop == "Poison Message" && a.messages == 0 {
			continue
		}
		a.info.MessageCount = a.messages
		switch {
		case a.active:
			a.info.Status = "Active"
		case a.retry:
			a.info.Status = "Retry"
		default:
			a.info.Status = "Ready"
		}
		out = append(out, a.info)
	}
	sort.Slice(out, func(i, j int) bool { return queueOrder(out[i]) < queueOrder(out[j]) })
	return out, msgs
}

// queueOrder lists delivery queues first, by identity, then Submission, Unreachable, Poison.
func queueOrder(q QueueInfo) string {
	switch q.NextHopDomain {
	case "Submission":
		return "2"
	case "Unreachable Domain":
		return "3"
	case "Poison Message":
		return "4"
	}
	return "1" + q.Identity
}

// lastErrorField is Get-Queue's LastError form, [{LRT=…};{LED=…};{FQDN=…};{IP=…}] (R72).
func lastErrorField(t time.Time, led, host string) string {
	ip := host
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		ip = strings.Trim(host[:i], "[]")
	}
	return fmt.Sprintf("[{LRT=%s};{LED=%s};{FQDN=%s};{IP=%s}]", t.Local().Format("02-01-2006 15:04:05"), led, ip, ip)
}

// errTimeout ends an administrative wait for a message's attempt to finish.
var errTimeout = errors.New("the message is being delivered; try again")

// withIdle runs f on the entry id names once no worker runs it (c.mu held while f runs).
func (c *Categorizer) withIdle(id uint64, f func(e *entry) error) error {
	deadline := time.Now().Add(time.Minute)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		e := c.entries[id]
		if e == nil {
			return ErrNoSuchMessage
		}
		if !e.active {
			return f(e)
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		c.cond.Wait()
	}
}

// SuspendMessage stops delivery attempts of a message until ResumeMessage (Suspend-Message).
func (c *Categorizer) SuspendMessage(id uint64) error {
	return c.withIdle(id, func(e *entry) error {
		m := e.m.Clone()
		m.Suspended = true
		return c.replaceLocked(e, m, "SUSPEND")
	})
}

// ResumeMessage resumes a suspended or poison message: it is attempted at once.
func (c *Categorizer) ResumeMessage(id uint64) error {
	return c.withIdle(id, func(e *entry) error {
		m := e.m.Clone()
		m.Suspended, m.Poison, m.PoisonCount, m.NextRetryTime = false, false, 0, time.Time{}
		return c.replaceLocked(e, m, "RESUME")
	})
}

// RemoveMessage deletes a message from the queues (Remove-Message); withNDR sends its sender
// an NDR for every recipient still waiting.
func (c *Categorizer) RemoveMessage(id uint64, withNDR bool) error {
	return c.withIdle(id, func(e *entry) error {
		m := e.m.Clone()
		var body []byte
		if withNDR {
			var err error
			if body, err = c.store.Body(m.ID); err != nil {
				return err
			}
		}
		u := queue.Update{Message: m}
		c.failRemaining(m, body, &u, removedError, "ADMIN", withNDR)
		if err := c.store.Apply(u, true); err != nil {
			return err
		}
		e.m = m
		c.scheduleLocked(e, time.Now())
		for _, n := range u.New {
			ne := &entry{m: n.Message}
			c.entries[n.Message.ID] = ne
			c.scheduleLocked(ne, time.Now())
		}
		return nil
	})
}

// replaceLocked commits m as e's message and schedules it (c.mu held).
func (c *Categorizer) replaceLocked(e *entry, m *queue.Message, what string) error {
	if err := c.store.Apply(queue.Update{Message: m}, true); err != nil {
		return err
	}
	c.log.Info(what, "InternalMessageId", m.ID, "Source", "ADMIN")
	e.m = m
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	c.scheduleLocked(e, time.Now())
	return nil
}

// RetryQueue attempts the messages of a queue now (Retry-Queue). Resubmit routes them again
// from scratch, which the Unreachable queue needs (spec §8.3).
func (c *Categorizer) RetryQueue(org *config.Organization, queueID string, resubmit bool) (int, error) {
	c.mu.Lock()
	var ids []uint64
	found := false
	for id, e := range c.entries {
		for i := range e.m.Recipients {
			if k := queueOf(e.m, &e.m.Recipients[i], org); k.nextHop != "" && k.matches(queueID, c.server.Name) {
				ids = append(ids, id)
				break
			}
		}
	}
	for _, k := range []queueKey{{"Undefined", "Submission"}, {"Unreachable", "Unreachable Domain"}, {"Undefined", "Poison Message"}} {
		found = found || k.matches(queueID, c.server.Name)
	}
	c.mu.Unlock()
	if len(ids) == 0 && !found {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchQueue, queueID)
	}
	n := 0
	for _, id := range ids {
		err := c.withIdle(id, func(e *entry) error {
			if e.m.Suspended || e.m.Poison {
				return nil
			}
			m := e.m.Clone()
			m.NextRetryTime = time.Time{}
			for i := range m.Recipients {
				r := &m.Recipients[i]
				if resubmit && (r.Status == queue.StatusUnreachable || r.Status == queue.StatusPending) {
					r.Status, r.NextHop = queue.StatusPending, ""
				}
			}
			n++
			return c.replaceLocked(e, m, "RESUBMIT")
		})
		if err != nil && !errors.Is(err, ErrNoSuchMessage) {
			return n, err
		}
	}
	return n, nil
}
