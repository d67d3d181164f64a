// Package bench is exlab's load generator: it drives any SMTP server over the wire with
// go-smtp's client (parallel sessions, messages per session, size, recipients) and reports
// messages per second, latency of each SMTP phase and the replies it got. It imports nothing
// from exlab, so it measures exlab exactly as it measures any other server.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Options describe one load.
type Options struct {
	Target     string        // host:port
	Sessions   int           // parallel connections
	Messages   int           // total messages (0: run for Duration)
	Duration   time.Duration // used when Messages is 0
	PerSession int           // messages per connection before a new one (1: a connection per message)
	Size       int           // message size in bytes
	Rcpts      int           // recipients per message
	From       string
	To         string // recipient pattern; {n} is replaced by a number spreading over mailboxes
	Helo       string
	Timeout    time.Duration // per command
}

// Phases are the SMTP steps timed separately.
var Phases = []string{"connect", "banner", "ehlo", "mail", "rcpt", "data"}

// Result is what a load measured.
type Result struct {
	Target   string
	Sent     int64 // messages that got a 2xx final reply
	Failed   int64
	Bytes    int64
	Elapsed  time.Duration
	Latency  map[string]Percentiles // by phase
	Replies  map[string]int64       // "250 2.6.0" → count (final replies and refusals)
	Errors   map[string]int64       // by kind
	Sessions int
}

// Percentiles of one phase.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Rate is messages per second.
func (r *Result) Rate() float64 { return float64(r.Sent) / r.Elapsed.Seconds() }

type recorder struct {
	mu      sync.Mutex
	lat     map[string][]time.Duration
	replies map[string]int64
	errs    map[string]int64
}

func (r *recorder) phase(name string, d time.Duration) {
	r.mu.Lock()
	r.lat[name] = append(r.lat[name], d)
	r.mu.Unlock()
}

func (r *recorder) reply(s string) {
	r.mu.Lock()
	r.replies[s]++
	r.mu.Unlock()
}

func (r *recorder) err(kind string) {
	r.mu.Lock()
	r.errs[kind]++
	r.mu.Unlock()
}

// Run drives the load and reports. It stops when ctx ends.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Target == "" {
		return nil, errors.New("bench: --target is required")
	}
	o.Sessions = max(o.Sessions, 1)
	o.PerSession = max(o.PerSession, 1)
	o.Rcpts = max(o.Rcpts, 1)
	if o.From == "" {
		o.From = "bench@bench.test"
	}
	if o.To == "" {
		o.To = "user1@contoso.test"
	}
	if o.Helo == "" {
		o.Helo = "bench.test"
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Messages == 0 && o.Duration == 0 {
		o.Messages = 1000
	}
	rec := &recorder{lat: map[string][]time.Duration{}, replies: map[string]int64{}, errs: map[string]int64{}}
	body := makeBody(o.Size)
	var budget atomic.Int64
	budget.Store(int64(o.Messages))
	var sent, failed, bytesSent atomic.Int64
	var counter atomic.Int64
	deadline := time.Time{}
	if o.Messages == 0 {
		deadline = time.Now().Add(o.Duration)
	}
	take := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if o.Messages > 0 {
			return budget.Add(-1) >= 0
		}
		return time.Now().Before(deadline)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < o.Sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, ok := session(ctx, o, rec, body, take, &counter)
				sent.Add(int64(n))
				bytesSent.Add(int64(n * len(body)))
				if !ok {
					failed.Add(1)
				}
				if n == 0 && !ok && ctx.Err() != nil {
					return
				}
				if o.Messages > 0 && budget.Load() <= 0 || o.Messages == 0 && !time.Now().Before(deadline) || ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	res := &Result{Target: o.Target, Sent: sent.Load(), Failed: failed.Load(), Bytes: bytesSent.Load(),
		Elapsed: time.Since(start), Latency: map[string]Percentiles{}, Replies: rec.replies, Errors: rec.errs, Sessions: o.Sessions}
	for name, ds := range rec.lat {
		res.Latency[name] = percentiles(ds)
	}
	return res, nil
}

// session runs one connection with up to PerSession messages. It returns how many messages got
// a 2xx final reply and whether the session went without error.
func session(ctx context.Context, o Options, rec *recorder, body []byte, take func() bool, counter *atomic.Int64) (int, bool) {
	if !take() {
		return 0, true
	}
	t := time.Now()
	conn, err := (&net.Dialer{Timeout: o.Timeout}).DialContext(ctx, "tcp", o.Target)
	if err != nil {
		rec.err("connect")
		return 0, false
	}
	rec.phase("connect", time.Since(t))
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = o.Timeout, o.Timeout
	defer c.Close()
	t = time.Now()
	if err := c.Hello(o.Helo); err != nil {
		rec.err("ehlo")
		noteReply(rec, err)
		return 0, false
	}
	rec.phase("ehlo", time.Since(t)) // includes the banner: go-smtp reads it on first use
	done := 0
	for i := 0; i < o.PerSession; i++ {
		if i > 0 && !take() {
			break
		}
		t = time.Now()
		if err := c.Mail(o.From, &smtp.MailOptions{Size: int64(len(body))}); err != nil {
			noteReply(rec, err)
			rec.err("mail")
			return done, false
		}
		rec.phase("mail", time.Since(t))
		for r := 0; r < o.Rcpts; r++ {
			t = time.Now()
			n := counter.Add(1)
			if err := c.Rcpt(strings.ReplaceAll(o.To, "{n}", fmt.Sprint(n)), nil); err != nil {
				noteReply(rec, err)
				rec.err("rcpt")
				_ = c.Reset()
				return done, false
			}
			rec.phase("rcpt", time.Since(t))
		}
		t = time.Now()
		w, err := c.Data()
		if err != nil {
			noteReply(rec, err)
			rec.err("data")
			return done, false
		}
		if _, err := io.Copy(w, bytes.NewReader(body)); err != nil {
			rec.err("data-write")
			return done, false
		}
		resp, err := w.CloseWithResponse()
		if err != nil {
			noteReply(rec, err)
			rec.err("end-of-data")
			return done, false
		}
		rec.phase("data", time.Since(t))
		rec.reply("250 " + firstWord(resp.StatusText))
		done++
	}
	_ = c.Quit()
	return done, true
}

func noteReply(rec *recorder, err error) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := se.EnhancedCode
		if e != (smtp.EnhancedCode{}) && e != smtp.NoEnhancedCode {
			rec.reply(fmt.Sprintf("%d %d.%d.%d", se.Code, e[0], e[1], e[2]))
		} else {
			rec.reply(fmt.Sprint(se.Code))
		}
	}
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

func makeBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: bench@bench.test\r\nTo: user1@contoso.test\r\nSubject: exlab bench\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	out := b.Bytes()
	if len(out) > size && size > 100 {
		out = append(out[:size-2], '\r', '\n')
	}
	return out
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Percentiles{N: len(ds), P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: ds[len(ds)-1]}
}

// Print writes a human-readable report.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "target %s: %d messages in %.2fs = %.1f msgs/s, %.2f MB/s (%d sessions), %d failed sessions\n",
		r.Target, r.Sent, r.Elapsed.Seconds(), r.Rate(), float64(r.Bytes)/r.Elapsed.Seconds()/1e6, r.Sessions, r.Failed)
	fmt.Fprintf(w, "%-8s %8s %10s %10s %10s %10s\n", "phase", "n", "p50", "p90", "p99", "max")
	for _, p := range Phases {
		if l, ok := r.Latency[p]; ok {
			fmt.Fprintf(w, "%-8s %8d %10s %10s %10s %10s\n", p, l.N, round(l.P50), round(l.P90), round(l.P99), round(l.Max))
		}
	}
	var keys []string
	for k := range r.Replies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "reply %-12s %d\n", k, r.Replies[k])
	}
	keys = keys[:0]
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "error %-12s %d\n", k, r.Errors[k])
	}
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
