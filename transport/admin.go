package transport

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Queue administration (Get-Queue, Get-Message, Retry-Queue, Suspend-/Resume-/Remove-Message,
// spec §8.1-8.2 and §11): the views of the scheduler's entries (or of a queue database no hub
// runs on) as Exchange's queues, and the actions, which the scheduler applies once no worker
// runs the message.

// RetryMode says what Retry-Queue does with a queue's messages.
type RetryMode int

const (
	// RetryNow attempts the messages now, on their current routes.
	RetryNow RetryMode = iota
	// Resubmit routes them again from scratch (Retry-Queue -Resubmit), which the Unreachable
	// queue needs (spec §8.3).
	Resubmit
)

// Queues lists the hub's queues (Get-Queue).
func (h *Hub) Queues() []QueueInfo {
	qs, _ := views(h.sched.held(), h.state.Load().org, h.opt.Server, time.Now())
	return append(h.suspendedStatus(qs), shadowQueues(h.opt.Store, h.state.Load().org, h.opt.Server)...)
}

// shadowQueues are the shadow copies held for each primary, as Get-Queue lists them: one
// queue per primary, DeliveryType ShadowRedundancy, NextHopDomain the primary's FQDN, its
// Identity <SRV>\Shadow\<n> (spec §8.4).
func shadowQueues(st *queue.Store, org *config.Organization, srv *config.Server) []QueueInfo {
	counts := map[string]int{}
	var order []string
	_ = st.Shadows(func(sh queue.Shadow) bool {
		if counts[sh.Primary] == 0 {
			order = append(order, sh.Primary)
		}
		counts[sh.Primary]++
		return true
	})
	var out []QueueInfo
	for _, p := range order {
		next := p
		if s := org.Server(p); s != nil {
			next = s.Fqdn
		}
		h := fnv.New32a()
		h.Write([]byte("shadow\x00" + p))
		out = append(out, QueueInfo{Identity: fmt.Sprintf(`%s\Shadow\%d`, srv.Name, 1+h.Sum32()%1000), DeliveryType: "ShadowRedundancy",
			Status: "Ready", MessageCount: counts[p], NextHopDomain: next})
	}
	return out
}

// Messages lists the messages of one queue, or of all (Get-Message [-Queue]).
func (h *Hub) Messages(queueID string) ([]MessageInfo, error) {
	_, ms := views(h.sched.held(), h.state.Load().org, h.opt.Server, time.Now())
	return filterMessages(ms, queueID, h.opt.Server.Name)
}

// MessageAction suspends, resumes or removes (WithNDR or WithoutNDR) the message a Get-Message
// identity names (<SRV>\<queue>\<id>, or the bare InternalMessageId).
func (h *Hub) MessageAction(action, identity string, ndr NDRChoice) error {
	id, err := ParseMessageIdentity(identity)
	if err != nil {
		return err
	}
	switch action {
	case "suspend":
		return h.suspendMessage(id)
	case "resume":
		return h.resumeMessage(id)
	case "remove":
		return h.removeMessage(id, ndr)
	}
	return fmt.Errorf("unknown message action %q", action)
}

// ParseMessageIdentity takes the message number from a Get-Message identity.
func ParseMessageIdentity(identity string) (uint64, error) {
	last := identity[strings.LastIndexByte(identity, '\\')+1:]
	id, err := strconv.ParseUint(last, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a message identity (SERVER\\Queue\\Number, as exlab message get shows)", ErrNoSuchMessage, identity)
	}
	return id, nil
}

// suspendMessage stops delivery attempts of a message until resumeMessage (Suspend-Message).
func (h *Hub) suspendMessage(id uint64) error {
	return h.sched.withIdle(id, func(e *entry) error {
		m := e.m.Clone()
		m.Suspended = true
		return h.sched.replaceLocked(e, m, "SUSPEND")
	})
}

// resumeMessage resumes a suspended or poison message: it is attempted at once.
func (h *Hub) resumeMessage(id uint64) error {
	return h.sched.withIdle(id, func(e *entry) error {
		m := e.m.Clone()
		m.Suspended, m.Poison, m.PoisonCount, m.NextRetryTime = false, false, 0, time.Time{}
		return h.sched.replaceLocked(e, m, "RESUME")
	})
}

// removeMessage deletes a message from the queues (Remove-Message); WithNDR sends its sender an
// NDR for every recipient still waiting.
func (h *Hub) removeMessage(id uint64, ndr NDRChoice) error {
	return h.sched.withIdle(id, func(e *entry) error {
		m := e.m.Clone()
		var body []byte
		if ndr == WithNDR {
			var err error
			if body, err = h.opt.Store.Body(m.ID); err != nil {
				return err
			}
		}
		u := queue.Update{Message: m}
		h.failRemaining(m, body, &u, removedError, "ADMIN", ndr)
		if err := h.opt.Store.Apply(u, queue.Synced); err != nil {
			return err
		}
		e.m = m
		h.sched.scheduleLocked(e, time.Now())
		h.sched.addLocked(u.New)
		return nil
	})
}

// RetryQueue attempts a queue's messages now (Retry-Queue [-Resubmit]); it returns how many.
func (h *Hub) RetryQueue(queueID string, mode RetryMode) (int, error) {
	q, org, server := h.sched, h.state.Load().org, h.opt.Server.Name
	q.mu.Lock()
	var ids []uint64
	found := false
	for id, e := range q.entries {
		for i := range e.m.Recipients {
			if k := queueOf(e.m, &e.m.Recipients[i], org); k.nextHop != "" && k.matches(queueID, server) {
				ids = append(ids, id)
				break
			}
		}
	}
	for _, k := range []queueKey{{"Undefined", "Submission"}, {"Unreachable", "Unreachable Domain"}, {"Undefined", "Poison Message"}} {
		found = found || k.matches(queueID, server)
	}
	q.mu.Unlock()
	if len(ids) == 0 && !found {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchQueue, queueID)
	}
	n := 0
	for _, id := range ids {
		err := q.withIdle(id, func(e *entry) error {
			if e.m.Suspended || e.m.Poison {
				return nil
			}
			m := e.m.Clone()
			m.NextRetryTime = time.Time{}
			for i := range m.Recipients {
				r := &m.Recipients[i]
				if mode == Resubmit && (r.Status == queue.StatusUnreachable || r.Status == queue.StatusPending) {
					r.Status, r.NextHop = queue.StatusPending, ""
				}
			}
			n++
			return q.replaceLocked(e, m, "RESUBMIT")
		})
		if err != nil && !errors.Is(err, ErrNoSuchMessage) {
			return n, err
		}
	}
	return n, nil
}

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
	if db, ok := mailboxDatabaseOf(r.NextHop); ok {
		return queueKey{"SmtpDeliveryToMailbox", db} // spec §8.1
	}
	if sc, ok := relayConnectorOf(r.NextHop); ok {
		return queueKey{"SmtpRelayToConnectorSourceServers", sc} // another server's send connector
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
	qs = append(qs, shadowQueues(st, org, srv)...)
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
				Subject: smtpwire.DecodeSubject(m.Subject), InternetMessageId: m.MessageID, Size: m.Size, DateReceived: m.Arrived, RetryCount: retries,
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
