package transport

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// noRouteError is the LastError of a recipient that no connector can route (the Unreachable
// queue). Exlab's wording [I]; send connectors arrive with issue 5.
const noRouteError = "There is currently no route to the mail recipient."

// maxHeldBodies bounds how many message bodies the categorizer keeps in memory; past it, items
// keep only their record and the body is read back from the store (spec §8.5 spirit: memory is
// a resource, not a promise).
const maxHeldBodies = 10000

type catItem struct {
	m    *queue.Message
	body *bytes.Buffer // nil: read it from the store
}

// Categorizer resolves each submitted message's recipients (routing.Resolve) and delivers
// local ones into mailboxes, fails unknown ones in authoritative domains with an NDR (R74), and
// leaves the rest for send connectors. It is fed by the submitting goroutine after the synced
// commit, never by scanning the keyspace, so nothing is delivered before it is durable
// (RELIABILITY §4.3).
type Categorizer struct {
	store    *queue.Store
	resolver *routing.Resolver
	server   *config.Server
	log      *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	items   []catItem
	held    int
	busy    int
	stopped bool
	wg      sync.WaitGroup
}

func newCategorizer(st *queue.Store, r *routing.Resolver, srv *config.Server, log *slog.Logger) *Categorizer {
	c := &Categorizer{store: st, resolver: r, server: srv, log: log}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// start re-queues what an earlier run left (a restart redelivers what was queued and not yet
// delivered) and starts the workers.
func (c *Categorizer) start() error {
	err := c.store.Messages(func(m *queue.Message) bool {
		for _, r := range m.Recipients {
			if r.Status == queue.StatusPending {
				c.enqueue(m, nil)
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

func (c *Categorizer) enqueue(m *queue.Message, body *bytes.Buffer) {
	c.mu.Lock()
	if body != nil && c.held >= maxHeldBodies {
		bodyPool.Put(body)
		body = nil
	}
	if body != nil {
		c.held++
	}
	c.items = append(c.items, catItem{m: m, body: body})
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
		it := c.items[0]
		c.items[0] = catItem{}
		c.items = c.items[1:]
		if it.body != nil {
			c.held--
		}
		c.busy++
		c.mu.Unlock()

		c.process(it)

		c.mu.Lock()
		c.busy--
		c.mu.Unlock()
	}
}

func (c *Categorizer) process(it catItem) {
	m := it.m
	var body []byte
	if it.body != nil {
		body = it.body.Bytes()
		defer bodyPool.Put(it.body)
	} else {
		b, err := c.store.Body(m.ID)
		if err != nil {
			c.log.Error("categorizer: body missing", "InternalMessageId", m.ID, "err", err)
			return
		}
		body = b
	}
	u := queue.Update{Message: m}
	delivered := map[string]int{} // mailbox → index in u.Deliveries
	var failed []queue.Recipient
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.Status != queue.StatusPending {
			continue
		}
		disp, mb := c.resolver.Resolve(r.Address)
		switch disp {
		case routing.DeliverToMailbox:
			r.Status, r.Mailbox = queue.StatusDelivered, mb.PrimarySmtpAddress
			key := strings.ToLower(mb.PrimarySmtpAddress)
			if j, ok := delivered[key]; ok {
				u.Deliveries[j].To = append(u.Deliveries[j].To, r.Address)
				continue
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
	var ndrs []*queue.Message
	if len(failed) > 0 {
		if n := c.ndr(m, body, failed); n != nil {
			u.New = append(u.New, *n)
			ndrs = append(ndrs, n.Message)
		}
	}
	if err := c.store.Apply(u, false); err != nil {
		c.log.Error("categorizer: could not record delivery; it will be retried after a restart",
			"InternalMessageId", m.ID, "err", err)
		return
	}
	for _, d := range u.Deliveries {
		c.log.Debug("DELIVER", "InternalMessageId", m.ID, "MessageId", m.MessageID, "Mailbox", d.Mailbox)
	}
	for _, n := range ndrs {
		c.enqueue(n, nil)
	}
}
