package transport

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exlab/exlab/queue"
)

// Suspend-Queue and Resume-Queue (spec §11, MS-Q): a suspended delivery queue makes no
// connection attempts; messages being delivered finish; Get-Queue shows it Suspended until
// Resume-Queue, which has its messages attempted at once. Only delivery queues (Active or
// Retry) can be suspended: not Submission, Unreachable or Poison. Like Exchange's queues, which
// the Transport service builds anew at start, the state does not outlive the process.
//
// A message with recipients in a suspended queue and in others waits for all of them (exlab
// keeps one entry per message where Exchange bifurcates it per queue [I]).
type suspendedQueues struct {
	n  atomic.Int32 // len(m): the scheduler's check is one atomic load while nothing is suspended
	mu sync.Mutex
	m  map[queueKey]bool
}

// ErrQueueNotSuspendable refuses Suspend-Queue on a queue that is not a delivery queue.
var ErrQueueNotSuspendable = errors.New("only delivery queues (Active or Retry) can be suspended")

// holds says whether m waits for a suspended queue (q.mu held by the caller).
func (h *Hub) holds(m *queue.Message) bool {
	s := &h.suspended
	if s.n.Load() == 0 {
		return false
	}
	org := h.state.Load().org
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range m.Recipients {
		if k := queueOf(m, &m.Recipients[i], org); k.nextHop != "" && s.m[k] {
			return true
		}
	}
	return false
}

// queueKeys are the delivery queues queueID names among the held messages.
func (h *Hub) queueKeys(queueID string) (map[queueKey]bool, error) {
	q, org, server := h.sched, h.state.Load().org, h.opt.Server.Name
	for _, k := range []queueKey{{"Undefined", "Submission"}, {"Unreachable", "Unreachable Domain"}, {"Undefined", "Poison Message"}} {
		if k.matches(queueID, server) {
			return nil, fmt.Errorf("%w: %s", ErrQueueNotSuspendable, queueID)
		}
	}
	keys := map[queueKey]bool{}
	q.mu.Lock()
	for _, e := range q.entries {
		for i := range e.m.Recipients {
			if k := queueOf(e.m, &e.m.Recipients[i], org); k.nextHop != "" && k.matches(queueID, server) {
				keys[k] = true
			}
		}
	}
	q.mu.Unlock()
	h.suspended.mu.Lock()
	for k := range h.suspended.m { // a suspended queue exists while it is suspended
		if k.matches(queueID, server) {
			keys[k] = true
		}
	}
	h.suspended.mu.Unlock()
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchQueue, queueID)
	}
	return keys, nil
}

// SuspendQueue suspends the delivery queue queueID names (Suspend-Queue).
func (h *Hub) SuspendQueue(queueID string) error {
	keys, err := h.queueKeys(queueID)
	if err != nil {
		return err
	}
	s := &h.suspended
	s.mu.Lock()
	if s.m == nil {
		s.m = map[queueKey]bool{}
	}
	for k := range keys {
		s.m[k] = true
	}
	s.n.Store(int32(len(s.m)))
	s.mu.Unlock()
	return nil
}

// ResumeQueue resumes a suspended queue (Resume-Queue): its messages are attempted now.
func (h *Hub) ResumeQueue(queueID string) error {
	keys, err := h.queueKeys(queueID)
	if err != nil {
		return err
	}
	s := &h.suspended
	s.mu.Lock()
	for k := range keys {
		delete(s.m, k)
	}
	s.n.Store(int32(len(s.m)))
	s.mu.Unlock()
	q, org := h.sched, h.state.Load().org
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for _, e := range q.entries {
		for i := range e.m.Recipients {
			if keys[queueOf(e.m, &e.m.Recipients[i], org)] {
				q.scheduleLocked(e, now)
				break
			}
		}
	}
	return nil
}

// suspendedStatus marks the suspended queues of a Get-Queue listing.
func (h *Hub) suspendedStatus(qs []QueueInfo) []QueueInfo {
	s := &h.suspended
	if s.n.Load() == 0 {
		return qs
	}
	server := h.opt.Server.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range qs {
		for k := range s.m {
			if qs[i].Identity == k.identity(server) {
				qs[i].Status = "Suspended"
			}
		}
	}
	return qs
}
