package smtpsend

import (
	"context"
	"sync"
	"time"
)

// SessionIdle is how long a send connector's session waits for its next message before it
// says QUIT. Exchange's queue for a next hop keeps its session while it has messages for it
// and closes it when it has none (inferred from SmtpSend logs, where a burst shares a session
// and a lone message gets its own); a second covers the gap between one message's end and the
// next one's scheduling under load, and is well under the connector's
// ConnectionInactivityTimeOut (10 minutes, "Message rate limits and throttling").
const SessionIdle = time.Second

// Sessions keeps send-connector sessions open between messages, so that consecutive messages
// to one next hop share a connection as Exchange's SmtpSend does: up to
// SmtpMaxMessagesPerConnection (20 by default, Set-SendConnector; learn.microsoft.com
// "Message rate limits and throttling", Send connector throttling) before it closes it and
// opens another. Without it, every message costs a connection, a greeting, EHLO (and
// STARTTLS and AUTH), which under an NDR-heavy load test was a tenth of the hub's CPU.
type Sessions struct {
	mu     sync.Mutex
	idle   map[sessionKey][]*pooledHop
	armed  bool
	closed bool
}

type sessionKey struct {
	owner any // whose sessions: the send connector (a new configuration makes new ones)
	host  string
}

type pooledHop struct {
	nh    *NextHop
	sent  int // messages carried so far
	since time.Time
}

// NewSessions makes an empty session pool.
func NewSessions() *Sessions { return &Sessions{idle: map[sessionKey][]*pooledHop{}} }

// take returns an idle session of owner to one of hosts (in their order), or nil.
func (s *Sessions) take(owner any, hosts []string) *pooledHop {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hosts {
		k := sessionKey{owner, h}
		if l := s.idle[k]; len(l) > 0 {
			p := l[len(l)-1]
			l[len(l)-1] = nil
			if l = l[:len(l)-1]; len(l) == 0 {
				delete(s.idle, k)
			} else {
				s.idle[k] = l
			}
			return p
		}
	}
	return nil
}

// put keeps p for the next message, or closes it when the pool is closed.
func (s *Sessions) put(owner any, p *pooledHop) {
	p.since = time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		p.nh.Close()
		return
	}
	k := sessionKey{owner, p.nh.host}
	s.idle[k] = append(s.idle[k], p)
	arm := !s.armed
	s.armed = true
	s.mu.Unlock()
	if arm {
		time.AfterFunc(SessionIdle, s.reap)
	}
}

// reap says QUIT on the sessions idle for SessionIdle, and runs again while any are left.
func (s *Sessions) reap() {
	now := time.Now()
	var quit []*NextHop
	s.mu.Lock()
	for k, l := range s.idle {
		keep := l[:0]
		for _, p := range l {
			if now.Sub(p.since) >= SessionIdle {
				quit = append(quit, p.nh)
			} else {
				keep = append(keep, p)
			}
		}
		clear(l[len(keep):])
		if len(keep) == 0 {
			delete(s.idle, k)
		} else {
			s.idle[k] = keep
		}
	}
	s.armed = len(s.idle) > 0 && !s.closed
	again := s.armed
	s.mu.Unlock()
	for _, nh := range quit {
		nh.Close()
	}
	if again {
		time.AfterFunc(SessionIdle/2, s.reap)
	}
}

// Close says QUIT on every idle session; sessions in use are closed when they come back.
func (s *Sessions) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	var quit []*NextHop
	for k, l := range s.idle {
		for _, p := range l {
			quit = append(quit, p.nh)
		}
		delete(s.idle, k)
	}
	s.mu.Unlock()
	for _, nh := range quit {
		nh.Close()
	}
}

// open starts d's transaction (MAIL FROM) on an idle session of d.Owner when there is one that
// still takes it, else on a new session (OpenNextHop). A pooled session that fails MAIL in any
// way (the next hop closed it meanwhile, or answers 421) is closed and a new one opened.
func (d *Delivery) open(ctx context.Context) (*pooledHop, RcptResult) {
	for p := d.Sessions.take(d.Owner, d.Hosts); p != nil; p = d.Sessions.take(d.Owner, d.Hosts) {
		if err := p.nh.c.Mail(d.From, nil); err == nil {
			return p, RcptResult{}
		}
		p.nh.Close()
	}
	nh, fail := OpenNextHop(ctx, d.Hosts, d.SendOptions, d.From)
	if nh == nil {
		return nil, fail
	}
	return &pooledHop{nh: nh}, RcptResult{}
}

// release ends p's use for one message: back into the pool when the session is sound, its
// transaction over (done: the final reply to the data came) and under its message limit, else
// QUIT. A transaction that ended early (every recipient or the data refused) is not reset for
// reuse: go-smtp's Reset makes its client say EHLO again, which Exchange does not.
func (d *Delivery) release(p *pooledHop, done bool) {
	p.sent++
	max := d.MaxMessagesPerConnection
	if d.Sessions == nil || !done || p.nh.broken || (max > 0 && p.sent >= max) {
		p.nh.Close()
		return
	}
	p.nh.log.transactionEnded()
	d.Sessions.put(d.Owner, p)
}
