// fault.go holds the fault-injection rules, maintenance mode and the one fault hook (atStep).

package smtpreceive

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Faults holds a process's fault-injection rules and its maintenance switch (HubTransport
// Inactive); the frontend's and the hub's receive servers share one. Rules change at run time
// (the admin listener); a session sees the rules of the moment it reaches a step. With no
// rules a step costs one atomic load.
type Faults struct {
	mu          sync.Mutex
	rules       atomic.Pointer[[]*faultRule]
	maintenance atomic.Bool
}

type faultRule struct {
	config.Fault
	reply *smtpwire.Reply
	fired atomic.Int64
}

// FaultInfo is a rule as `exlab fault list` shows it.
type FaultInfo struct {
	config.Fault
	Fired int64
	// Remaining is how many more times it fires (-1: no limit).
	Remaining int64
}

// Set adds rules, replacing rules of the same Name; a rule without a Name gets one not in use
// ("fault3"). The rules come from config, which has checked them and filled their defaults (an
// organization's Faults entries, or config.ParseFaults).
func (f *Faults) Set(rules ...config.Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next []*faultRule
	if cur := f.rules.Load(); cur != nil {
		next = append(next, *cur...)
	}
	index := func(name string) int {
		for i, o := range next {
			if strings.EqualFold(o.Name, name) {
				return i
			}
		}
		return -1
	}
	for _, r := range rules {
		fr := &faultRule{Fault: r}
		if r.ReplyId != "" {
			fr.reply = smtpwire.Fixed(smtpwire.ReplyID(r.ReplyId))
		} else if r.Reply != "" {
			fr.reply = &smtpwire.Reply{Text: r.Reply}
		}
		for n := len(next) + 1; fr.Name == ""; n++ {
			if name := fmt.Sprintf("fault%d", n); index(name) < 0 {
				fr.Name = name
			}
		}
		if i := index(fr.Name); i >= 0 {
			next[i] = fr
		} else {
			next = append(next, fr)
		}
	}
	f.rules.Store(&next)
}

// Clear removes the rule named name, or every rule when name is empty; it returns how many.
func (f *Faults) Clear(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.rules.Load()
	if cur == nil {
		return 0
	}
	var next []*faultRule
	for _, r := range *cur {
		if name != "" && !strings.EqualFold(r.Name, name) {
			next = append(next, r)
		}
	}
	f.rules.Store(&next)
	return len(*cur) - len(next)
}

// List returns the rules with how often each has fired.
func (f *Faults) List() []FaultInfo {
	out := []FaultInfo{}
	if cur := f.rules.Load(); cur != nil {
		for _, r := range *cur {
			fired := r.fired.Load()
			left := int64(-1)
			if r.Count > 0 {
				left = max(int64(r.Count)-fired, 0)
			}
			out = append(out, FaultInfo{Fault: r.Fault, Fired: fired, Remaining: left})
		}
	}
	return out
}

// SetMaintenance switches maintenance mode (Set-ServerComponentState HubTransport
// -State Inactive): MAIL gets 412 4.3.2 Service not active on every connector (R32).
func (f *Faults) SetMaintenance(on bool) { f.maintenance.Store(on) }

// Maintenance says whether maintenance mode is on.
func (f *Faults) Maintenance() bool { return f != nil && f.maintenance.Load() }

// fire returns the first rule that matches a session at step and wins its draw, counting it.
// rcpt is the recipient of a RCPT; at later steps any recipient of the transaction matches.
func (f *Faults) fire(step config.FaultStep, rc *config.ReceiveConnector, ci *ConnInfo, from, rcpt string, rcpts []string) *faultRule {
	if f == nil {
		return nil
	}
	cur := f.rules.Load()
	if cur == nil || len(*cur) == 0 {
		return nil
	}
	for _, r := range *cur {
		if r.Step != step || !r.matches(rc, ci, from, rcpt, rcpts) {
			continue
		}
		if r.Probability < 1 && rand.Float64() >= float64(r.Probability) {
			continue
		}
		if r.Count > 0 {
			if r.fired.Add(1) > int64(r.Count) {
				r.fired.Add(-1)
				continue
			}
		} else {
			r.fired.Add(1)
		}
		return r
	}
	return nil
}

func (r *faultRule) matches(rc *config.ReceiveConnector, ci *ConnInfo, from, rcpt string, rcpts []string) bool {
	if r.Connector != "" && !strings.EqualFold(r.Connector, rc.Name) && !strings.EqualFold(r.Connector, rc.Identity()) {
		return false
	}
	if len(r.RemoteIPRanges) > 0 {
		in := false
		for _, ipr := range r.RemoteIPRanges {
			in = in || ipr.Contains(ci.Remote.Addr().Unmap())
		}
		if !in {
			return false
		}
	}
	if r.Sender != "" && !match(r.Sender, from) {
		return false
	}
	if r.Recipient != "" {
		if rcpt != "" {
			return match(r.Recipient, rcpt)
		}
		for _, a := range rcpts {
			if match(r.Recipient, a) {
				return true
			}
		}
		return false
	}
	return true
}

func match(pattern, s string) bool {
	ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(s))
	return ok
}

// atStep is the one fault hook: every step of a session calls it at one point, where a rule
// for that step is drawn (Faults.fire), recorded (the "fault injected" log line, the protocol
// log's "Fault injected: <action> at <step>" line, exlab.faults.injected) and carried out.
// from and rcpt are what a rule's Sender and Recipient match (rcpt is the RCPT's address; at
// later steps any recipient of the transaction matches). Where each step fires:
//
//	Connect    after the '+' log line, before the banner; a 2xx reply takes the banner's
//	           place, any other reply (and a disconnect) ends the session with it
//	Ehlo       EHLO or HELO read and in order, before its argument is checked
//	StartTls   STARTTLS or X-ANONYMOUSTLS read and in order, before the offer and argument checks
//	Auth       AUTH or X-EXPS read and in order, before the mechanism is looked up
//	Mail       MAIL parsed and not refused by maintenance mode, before the size limit,
//	           MessageRateLimit and the Session
//	Rcpt       RCPT parsed, before MaxRecipientsPerMessage and the Session
//	Data       DATA read and in order, before its argument check and 354; the first BDAT's
//	           argument parsed, before its chunk is read (a reply consumes the chunk)
//	EndOfData  drawn as the data starts, acting after its last byte, before the final reply:
//	           a reply takes the final reply's place, a delay holds it back, a disconnect
//	           ends the session without it; after a reply or a disconnect the message is read
//	           to its end and never handed to the Session. A Bandwidth limit acts at once and
//	           slows the transfer itself.
//	Proxy      where the frontend's hop to a hub starts, asked through ConnInfo.Engine's
//	           InjectFault; a reply is returned to the Session, which gives it as the
//	           message's reply
//
// Actions: Reply sends the reply instead of the step's own (a 421 closes the session), Delay
// sends what is waiting and waits, Disconnect closes the connection without a reply, Bandwidth
// limits what the session reads and writes from then on. handled is true when the fault took
// the step's place (a reply was sent, or the connection was closed): the caller does nothing
// more. f is the rule that fired (nil: none); at EndOfData it is returned unapplied for
// finishFault, unless it was a Bandwidth limit.
func (c *conn) atStep(step config.FaultStep, from, rcpt string) (f *faultRule, handled bool) {
	if c.srv.Faults == nil {
		return nil, false
	}
	f = c.srv.Faults.fire(step, c.rc, &c.info, from, rcpt, c.rcptList)
	if f == nil {
		return nil, false
	}
	c.srv.logger().Info("fault injected", "fault", f.Name, "connector", c.rc.Identity(), "session", c.info.SessionID,
		"step", string(f.Step), "action", string(f.Action), "client", c.info.Remote.Addr().Unmap().String())
	c.srv.Metrics.fault(c.rc, &f.Fault)
	if c.plogOn {
		c.logLine('*', f.Name, "Fault injected: "+string(f.Action)+" at "+string(f.Step))
	}
	switch {
	case step == config.StepEndOfData && f.Action == config.FaultBandwidth:
		c.apply(f)
		return nil, false
	case step == config.StepEndOfData:
		return f, false
	case step == config.StepProxy && f.Action == config.FaultReply:
		return f, true
	}
	return f, c.apply(f)
}

// apply carries out a fault's action (atStep's table). It returns true when the fault took
// the command's place. A 421 reply closes the session, as Exchange's 421 replies do.
func (c *conn) apply(r *faultRule) bool {
	switch r.Action {
	case config.FaultDelay:
		_ = c.flush()
		sleepCtx(c.ctx, r.Delay.Duration())
	case config.FaultBandwidth:
		c.limiter = rate.NewLimiter(rate.Limit(r.BytesPerSecond), int(min(int64(r.BytesPerSecond), 64<<10)))
	case config.FaultDisconnect:
		_ = c.flush()
		c.closed = true
		_ = c.raw.Close()
		return true
	case config.FaultReply:
		c.reply(r.reply)
		if r.reply.Code() == 421 {
			c.closed = true
		}
		return true
	}
	return false
}

// InjectFault is the fault hook for a step the Session carries out itself (Engine; the
// frontend's proxy hop, config.StepProxy).
func (c *conn) InjectFault(step config.FaultStep) (r *smtpwire.Reply, handled bool) {
	f, handled := c.atStep(step, c.from, "")
	if handled && f.Action == config.FaultReply {
		return f.reply, true
	}
	return nil, handled
}

// sleepCtx waits d, or until the session's context ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
