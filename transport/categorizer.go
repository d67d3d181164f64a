package transport

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
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

	mu      sync.Mutex
	cond    *sync.Cond
	items   []*queue.Message
	busy    int
	stopped bool
	wg      sync.WaitGroup
}

func newCategorizer(st *queue.Store, r *routing.Resolver, srv *config.Server, log *slog.Logger) *Categorizer {
	c := &Categorizer{store: st, server: srv, log: log}
	c.resolver.Store(r)
	c.cond = sync.NewCond(&c.mu)
	return c
}

// start re-queues what an earlier run left (a restart redelivers what was queued and not yet
// delivered) and starts the workers.
func (c *Categorizer) start() error {
	err := c.store.Messages(func(m *queue.Message) bool {
		for _, r := range m.Recipients {
			if r.Status == queue.StatusPending {
				c.enqueue(m)
				break
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	for i := 0; i < c.server.MaxConcurrentMailboxDeliveries; i++ {
		c.wg.Add(1)
		go c.worker()
	}
	return nil
}

func (c *Categorizer) enqueue(m *queue.Message) {
	c.mu.Lock()
	c.items = append(c.items, m)
	c.mu.Unlock()
	c.cond.Signal()
}

func (c *Categorizer) stop() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.cond.Broadcast()
	c.wg.Wait()
}

func (c *Categorizer) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items) == 0 && c.busy == 0
}

func (c *Categorizer) worker() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		for len(c.items) == 0 && !c.stopped {
			c.cond.Wait()
		}
		if c.stopped {
			c.mu.Unlock()
			return
		}
		m := c.items[0]
		c.items[0] = nil
		c.items = c.items[1:]
		c.busy++
		c.mu.Unlock()

		c.process(m)

		c.mu.Lock()
		c.busy--
		c.mu.Unlock()
	}
}

func (c *Categorizer) process(m *queue.Message) {
	body, err := c.store.Body(m.ID)
	if err != nil {
		c.log.Error("categorizer: body missing", "InternalMessageId", m.ID, "err", err)
		return
	}
	u := c.categorize(m, body)
	if err := c.store.Apply(u, false); err != nil {
		c.log.Error("categorizer: could not record delivery; it will be retried after a restart",
			"InternalMessageId", m.ID, "err", err)
		return
	}
	for _, d := range u.Deliveries {
		c.log.Debug("DELIVER", "InternalMessageId", m.ID, "MessageId", m.MessageID, "Mailbox", d.Mailbox)
	}
	c.queueNDRs(u.New)
}

// queueNDRs hands NDRs that were just committed to the workers, which deliver them like any
// other message.
func (c *Categorizer) queueNDRs(news []queue.NewMessage) {
	for _, n := range news {
		c.enqueue(n.Message)
	}
}

// categorize resolves every pending recipient of m (routing.Resolve): local mailboxes get a
// mailbox item (one per mailbox however many of its addresses were named), unknown recipients
// of authoritative domains fail with R74 and an NDR, the rest wait for a send connector.
func (c *Categorizer) categorize(m *queue.Message, body []byte) queue.Update {
	u := queue.Update{Message: m}
	var delivered map[string]int // mailbox → index in u.Deliveries
	var failed []queue.Recipient
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.Status != queue.StatusPending {
			continue
		}
		disp, mb := c.resolver.Load().Resolve(r.Address)
		switch disp {
		case routing.DeliverToMailbox:
			r.Status, r.Mailbox = queue.StatusDelivered, mb.PrimarySmtpAddress
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
			r.LastError = smtpreceive.Fixed("R74").Text
			failed = append(failed, *r)
		case routing.RouteOut:
			r.Status = queue.StatusUnreachable
			r.LastError = noRouteError
		}
	}
	if len(failed) > 0 {
		if n := c.ndr(m, body, failed); n != nil {
			u.New = append(u.New, *n)
		}
	}
	return u
}
