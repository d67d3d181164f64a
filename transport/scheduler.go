package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
)

// The hub's delivery queues and their scheduler (spec §8), Postfix's qmgr. Every message the
// hub holds is an entry, in memory and in the queue database; which Exchange queue it shows in
// follows from its recipients' states: Submission (not yet categorized), one delivery queue per
// next hop, Unreachable, Poison. An entry is scheduled by a timer for its next retry, its delay
// DSN or its expiry, and run by the scheduler's workers through the hub's pipeline (run); an
// entry's message is replaced after each run, never changed in place, so the queue views may
// read it under q.mu while a worker runs. Entries are fed in memory after a commit, never by
// scanning the keyspace, so nothing is delivered before it is durable (RELIABILITY §4.3).

// scheduler holds the entries and runs them.
type scheduler struct {
	store   *queue.Store
	server  *config.Server
	log     *slog.Logger
	tracker *Tracker
	// run is one pass of the pipeline over a message (Hub.process): it returns the message's
	// new record, or nil when nothing could be recorded.
	run func(*queue.Message) *queue.Message
	// suspendedHold says whether a message waits for a suspended queue (Suspend-Queue); nil: never.
	suspendedHold func(*queue.Message) bool

	mu      sync.Mutex
	cond    *sync.Cond        // signals a ready entry, a finished attempt, or stop
	entries map[uint64]*entry // every message the hub holds, by InternalMessageId
	ready   []*entry          // entries due now, oldest first
	busy    int
	stopped bool
	wg      sync.WaitGroup
}

func newScheduler(st *queue.Store, srv *config.Server, log *slog.Logger, tracker *Tracker, run func(*queue.Message) *queue.Message) *scheduler {
	q := &scheduler{store: st, server: srv, log: log, tracker: tracker, run: run, entries: map[uint64]*entry{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// entry is one message the hub holds.
type entry struct {
	m      *queue.Message
	timer  *time.Timer
	ready  bool // in q.ready
	active bool // a worker runs it
}

// start loads what an earlier run left: a record still marked InFlight was being delivered
// when the service died, which counts toward PoisonThreshold (spec §8.3, Event 10001).
func (q *scheduler) start() error {
	var poisoned []*queue.Message
	var held []*queue.Message
	err := q.store.Messages(func(m *queue.Message) bool {
		if m.InFlight {
			m.InFlight = false
			m.PoisonCount++
			if q.server.PoisonMessageDetectionEnabled && m.PoisonCount >= q.server.PoisonThreshold {
				m.Poison = true
				poisoned = append(poisoned, m)
			}
			if err := q.store.Apply(queue.Update{Message: m}, queue.Synced); err != nil {
				q.log.Error("categorizer: could not record a poison count", "InternalMessageId", m.ID, "err", err)
			}
		}
		held = append(held, m)
		return true
	})
	if err != nil {
		return err
	}
	if len(poisoned) > 0 {
		q.log.Error(fmt.Sprintf("%d messages have reached or exceeded the configured poison threshold of %d. After the Microsoft Exchange "+
			"Transport service restarted, these messages were moved to the poison message queue.", len(poisoned), q.server.PoisonThreshold),
			"EventID", 10001, "Source", "MSExchangeTransport", "TaskCategory", "PoisonMessage")
		for _, m := range poisoned {
			q.tracker.track(trackEvent{ID: "POISONMESSAGE", Source: "POISONMESSAGE", Msg: m, Recipients: pendingAddresses(m)})
		}
	}
	for _, m := range held {
		q.hold(m)
	}
	for i := 0; i < q.server.MaxConcurrentMailboxDeliveries; i++ {
		q.wg.Add(1)
		go q.worker()
	}
	return nil
}

// hold takes a committed message into the queues (a new submission, an NDR, a record left by
// an earlier run) and schedules its next run.
func (q *scheduler) hold(m *queue.Message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.entries[m.ID]
	if e == nil {
		e = &entry{}
		q.entries[m.ID] = e
	}
	e.m = m
	q.scheduleLocked(e, time.Now())
}

// queueNDRs holds NDRs that were just committed; the workers deliver them like any other
// message.
func (q *scheduler) queueNDRs(news []queue.NewMessage) {
	for _, n := range news {
		q.hold(n.Message)
	}
}

// scheduleLocked arms e's timer for its next run, or makes it ready now (q.mu held).
func (q *scheduler) scheduleLocked(e *entry, now time.Time) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	m := e.m
	if m.Done() {
		delete(q.entries, m.ID)
		return
	}
	if m.Suspended || m.Poison || e.active || (q.suspendedHold != nil && q.suspendedHold(m)) {
		return
	}
	at, ok := q.nextRun(m)
	if !ok {
		return
	}
	if d := at.Sub(now); d > 0 {
		id := m.ID
		e.timer = time.AfterFunc(d, func() { q.wake(id) })
		return
	}
	if !e.ready {
		e.ready = true
		q.ready = append(q.ready, e)
		q.cond.Signal()
	}
}

func (q *scheduler) wake(id uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e := q.entries[id]; e != nil {
		e.timer = nil
		q.scheduleLocked(e, time.Now())
	}
}

// nextRun is when m needs the pipeline next: now for recipients not yet routed, else the
// earliest of its retry, its delay DSN and its expiry.
func (q *scheduler) nextRun(m *queue.Message) (time.Time, bool) {
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
	earliest(m.Arrived.Add(q.server.MessageExpirationTimeout.Duration()))
	if !m.DelayNotified && !m.IsDSN && m.From != "" {
		earliest(m.Arrived.Add(q.server.DelayNotificationTimeout.Duration()))
	}
	return at, true
}

// retryInterval is how long a message waits after its failures-th failed attempt (spec §8.3):
// glitch retries, then transient retries, then the connection-failure or message interval.
func (q *scheduler) retryInterval(failures int, connFailure bool) time.Duration {
	s := q.server
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

func (q *scheduler) stop() {
	q.mu.Lock()
	q.stopped = true
	for _, e := range q.entries {
		if e.timer != nil {
			e.timer.Stop()
		}
	}
	q.mu.Unlock()
	q.cond.Broadcast()
	q.wg.Wait()
}

// idle says whether no message is due or being processed (waiting ones may be).
func (q *scheduler) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready) == 0 && q.busy == 0
}

func (q *scheduler) worker() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		for len(q.ready) == 0 && !q.stopped {
			q.cond.Wait()
		}
		if q.stopped {
			q.mu.Unlock()
			return
		}
		e := q.ready[0]
		q.ready[0] = nil
		q.ready = q.ready[1:]
		e.ready, e.active = false, true
		q.busy++
		m := e.m
		q.mu.Unlock()

		next := q.run(m)

		q.mu.Lock()
		q.busy--
		e.active = false
		if next != nil {
			e.m = next
		}
		if !q.stopped {
			q.scheduleLocked(e, time.Now())
		}
		q.mu.Unlock()
		q.cond.Broadcast() // admin operations wait for an attempt to end
	}
}

// expired says whether m has outlived MessageExpirationTimeout at now (spec §8.3).
func (q *scheduler) expired(m *queue.Message, now time.Time) bool {
	return now.After(m.Arrived.Add(q.server.MessageExpirationTimeout.Duration()))
}

// delayDSNDue says whether m's sender is owed its delay DSN at now (DelayNotificationTimeout).
func (q *scheduler) delayDSNDue(m *queue.Message, now time.Time) bool {
	return !m.DelayNotified && !m.IsDSN && m.From != "" && !m.Done() &&
		!now.Before(m.Arrived.Add(q.server.DelayNotificationTimeout.Duration()))
}

// held64 is the number of messages the hub holds (the QueueLength meter).
func (q *scheduler) held64() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int64(len(q.entries))
}

// held is a snapshot of the entries for the queue views.
func (q *scheduler) held() []heldMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]heldMessage, 0, len(q.entries))
	for _, e := range q.entries {
		out = append(out, heldMessage{e.m, e.active})
	}
	return out
}

// errTimeout ends an administrative wait for a message's attempt to finish.
var errTimeout = errors.New("the message is being delivered; try again")

// withIdle runs f on the entry id names once no worker runs it (q.mu held while f runs).
func (q *scheduler) withIdle(id uint64, f func(e *entry) error) error {
	deadline := time.Now().Add(time.Minute)
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		e := q.entries[id]
		if e == nil {
			return ErrNoSuchMessage
		}
		if !e.active {
			return f(e)
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		q.cond.Wait()
	}
}

// replaceLocked commits m as e's message and schedules it (q.mu held).
func (q *scheduler) replaceLocked(e *entry, m *queue.Message, what string) error {
	if err := q.store.Apply(queue.Update{Message: m}, queue.Synced); err != nil {
		return err
	}
	q.log.Info(what, "InternalMessageId", m.ID, "Source", "ADMIN")
	e.m = m
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	q.scheduleLocked(e, time.Now())
	return nil
}

// addLocked holds committed new messages (NDRs) and schedules them (q.mu held).
func (q *scheduler) addLocked(news []queue.NewMessage) {
	for _, n := range news {
		ne := &entry{m: n.Message}
		q.entries[n.Message.ID] = ne
		q.scheduleLocked(ne, time.Now())
	}
}
