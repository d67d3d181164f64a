// Package bench is exlab's load generator: it drives any SMTP server over the wire with
// go-smtp's client (parallel sessions, messages per session, size, recipients, STARTTLS,
// AUTH, BDAT, open-loop pacing) and reports messages per second, the latency of each SMTP phase
// and the replies it got. It imports nothing from exlab, so it measures exlab exactly as it
// measures any other server.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options describe one load.
type Options struct {
	Target     string        // host:port
	Sessions   int           // parallel connections (with Rate: the most at once)
	Messages   int           // total messages (0: run for Duration)
	Duration   time.Duration // used when Messages is 0
	PerSession int           // messages per connection before a new one (1: a connection per message)
	Size       int           // message size in bytes
	Rcpts      int           // recipients per message
	From       string
	To         string // recipient pattern; {n} is replaced by a running number
	Helo       string
	StartTLS   bool
	Auth       string // USER:PASS for AUTH LOGIN (Exchange refuses PLAIN)
	Chunking   bool   // BDAT instead of DATA
	Rate       float64
	Timeout    time.Duration // per command
	// Progress, when set, receives a progress line every second.
	Progress io.Writer
}

// Phases are the SMTP steps timed separately, in session order.
var Phases = []string{"connect", "banner", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "sched"}

// Result is what a load measured.
type Result struct {
	Target   string
	Sent     int64 // messages that got a 2xx final reply
	Failed   int64 // messages or sessions that ended in an error
	Bytes    int64
	Elapsed  time.Duration
	Sessions int
	Latency  map[string]Percentiles // by phase; "data" is DATA/BDAT to the final reply
	Replies  map[string]int64       // "250 2.6.0" → count: final replies and every refusal
	Errors   map[string]int64       // by kind: connect, ehlo, mail, rcpt, data, timeout…
}

// Percentiles of one phase.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// MarshalJSON writes the percentiles in milliseconds.
func (p Percentiles) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(map[string]any{"n": p.N, "p50_ms": ms(p.P50), "p90_ms": ms(p.P90), "p99_ms": ms(p.P99), "max_ms": ms(p.Max)})
}

// Rate is messages per second.
func (r *Result) Rate() float64 { return float64(r.Sent) / r.Elapsed.Seconds() }

// MarshalJSON adds the rates.
func (r *Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		*plain
		MessagesPerSecond float64
		BytesPerSecond    float64
		ElapsedSeconds    float64
	}{(*plain)(r), r.Rate(), float64(r.Bytes) / r.Elapsed.Seconds(), r.Elapsed.Seconds()})
}

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

func (r *recorder) err(kind string, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		kind += "-timeout"
	}
	r.mu.Lock()
	r.errs[kind]++
	r.mu.Unlock()
}

// ticket is one message to send; sched is when an open-loop schedule wanted it sent.
type ticket struct{ sched time.Time }

func (o *Options) defaults() error {
	if o.Target == "" {
		return errors.New("bench: --target is required")
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
	if o.Auth != "" && !strings.Contains(o.Auth, ":") {
		return errors.New("bench: --auth takes USER:PASS")
	}
	return nil
}

// Run drives the load and reports. It stops when ctx ends.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rec := &recorder{lat: map[string][]time.Duration{}, replies: map[string]int64{}, errs: map[string]int64{}}
	body := MakeBody(o.Size)
	stuffed := Stuff(body)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, o.Duration)
		defer c2()
	}
	tickets := make(chan ticket, 1<<16)
	go feed(ctx, o, tickets)

	var sent, failed, counter atomic.Int64
	start := time.Now()
	stopProgress := progress(o.Progress, start, &sent, &failed)
	var wg sync.WaitGroup
	for i := 0; i < o.Sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t, ok := <-tickets
				if !ok || ctx.Err() != nil {
					return
				}
				s := &sessionRun{o: &o, rec: rec, body: body, stuffed: stuffed, counter: &counter, tickets: tickets}
				n, err := s.run(ctx, t)
				sent.Add(int64(n))
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	stopProgress()
	res := &Result{Target: o.Target, Sent: sent.Load(), Failed: failed.Load(), Bytes: sent.Load() * int64(len(body)),
		Elapsed: time.Since(start), Latency: map[string]Percentiles{}, Replies: rec.replies, Errors: rec.errs, Sessions: o.Sessions}
	for name, ds := range rec.lat {
		res.Latency[name] = percentiles(ds)
	}
	return res, nil
}

// feed issues one ticket per message: as fast as they are taken (closed loop), or on a fixed
// schedule (--rate, open loop: latency then includes any wait for a free session).
func feed(ctx context.Context, o Options, out chan<- ticket) {
	defer close(out)
	n := 0
	next := time.Now()
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	for o.Messages == 0 || n < o.Messages {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
		select {
		case out <- ticket{sched: next}:
		case <-ctx.Done():
			return
		}
		n++
		next = next.Add(interval)
	}
}

// firstReadConn notes when the first bytes (the banner) arrive.
type firstReadConn struct {
	net.Conn
	first time.Time
}

func (c *firstReadConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.first.IsZero() {
		c.first = time.Now()
	}
	return n, err
}

type sessionRun struct {
	o       *Options
	rec     *recorder
	body    []byte
	stuffed []byte // body for DATA
	counter *atomic.Int64
	tickets <-chan ticket
	raw     *bufio.Reader // for BDAT replies, which go-smtp's client cannot read
	conn    net.Conn
}

// run runs one connection with up to PerSession messages, the first being t. It returns how
// many messages got a 2xx final reply.
func (s *sessionRun) run(ctx context.Context, t ticket) (int, error) {
	o, rec := s.o, s.rec
	start := time.Now()
	conn, err := (&net.Dialer{Timeout: o.Timeout}).DialContext(ctx, "tcp", o.Target)
	if err != nil {
		rec.err("connect", err)
		return 0, err
	}
	connected := time.Now()
	rec.phase("connect", connected.Sub(start))
	fc := &firstReadConn{Conn: conn}
	s.conn = fc
	var c *smtp.Client
	if o.StartTLS {
		// go-smtp's client has no exported STARTTLS; NewClientStartTLS sends EHLO (as
		// "localhost") and STARTTLS, and the handshake runs with the second EHLO. So "ehlo" is
		// banner to the 220 of STARTTLS, "starttls" the handshake and the second EHLO.
		host, _, _ := net.SplitHostPort(o.Target)
		c, err = smtp.NewClientStartTLS(fc, &tls.Config{InsecureSkipVerify: true, ServerName: host})
		if err != nil {
			s.refused(err, "starttls")
			return 0, err
		}
	} else {
		c = smtp.NewClient(fc)
	}
	c.CommandTimeout, c.SubmissionTimeout = o.Timeout, o.Timeout
	defer c.Close()
	t0 := time.Now()
	if err := c.Hello(o.Helo); err != nil {
		s.refused(err, "ehlo")
		return 0, err
	}
	switch {
	case fc.first.IsZero():
	case o.StartTLS:
		rec.phase("banner", fc.first.Sub(connected))
		rec.phase("ehlo", t0.Sub(fc.first))
		rec.phase("starttls", time.Since(t0))
	default:
		rec.phase("banner", fc.first.Sub(connected))
		rec.phase("ehlo", time.Since(fc.first))
	}
	if o.Auth != "" {
		t0 = time.Now()
		user, pass, _ := strings.Cut(o.Auth, ":")
		if err := c.Auth(sasl.NewLoginClient(user, pass)); err != nil {
			s.refused(err, "auth")
			return 0, err
		}
		rec.phase("auth", time.Since(t0))
	}
	done := 0
	for i := 0; i < o.PerSession; i++ {
		if i > 0 {
			var ok bool
			select {
			case t, ok = <-s.tickets:
			case <-ctx.Done():
			}
			if !ok || ctx.Err() != nil {
				break
			}
		}
		if err := s.message(c, t); err != nil {
			return done, err
		}
		done++
	}
	_ = c.Quit()
	return done, nil
}

func (s *sessionRun) message(c *smtp.Client, t ticket) error {
	o, rec := s.o, s.rec
	t0 := time.Now()
	if err := c.Mail(o.From, &smtp.MailOptions{Size: int64(len(s.body))}); err != nil {
		s.refused(err, "mail")
		return err
	}
	rec.phase("mail", time.Since(t0))
	for r := 0; r < o.Rcpts; r++ {
		t0 = time.Now()
		n := s.counter.Add(1)
		if err := c.Rcpt(strings.ReplaceAll(o.To, "{n}", strconv.FormatInt(n, 10)), nil); err != nil {
			s.refused(err, "rcpt")
			_ = c.Reset()
			return err
		}
		rec.phase("rcpt", time.Since(t0))
	}
	t0 = time.Now()
	var err error
	var final string
	if o.Chunking {
		final, err = s.bdat()
	} else {
		final, err = s.data()
	}
	if err != nil {
		s.refused(err, "data")
		return err
	}
	rec.phase("data", time.Since(t0))
	if !t.sched.IsZero() && o.Rate > 0 {
		rec.phase("sched", time.Since(t.sched))
	}
	rec.reply(final)
	return nil
}

// data sends DATA and the body on the raw connection. go-smtp's DataCommand dot-stuffs byte by
// byte, which made the load generator, not the server, the bottleneck for large messages; the
// body is the same for every message, so it is stuffed once (with its terminator) in advance.
// go-smtp has read every reply at this point, so nothing is buffered on its side.
func (s *sessionRun) data() (string, error) {
	if s.raw == nil {
		s.raw = bufio.NewReader(s.conn)
	}
	_ = s.conn.SetDeadline(time.Now().Add(s.o.Timeout))
	defer s.conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(s.conn, "DATA\r\n"); err != nil {
		return "", err
	}
	code, text, err := s.readReply()
	if err != nil {
		return "", err
	}
	if code != 354 {
		e, msg := splitEnhanced(text)
		return "", &smtp.SMTPError{Code: code, Message: msg, EnhancedCode: e}
	}
	if _, err := s.conn.Write(s.stuffed); err != nil {
		return "", err
	}
	return s.final()
}

// bdat sends the body as one BDAT LAST chunk (RFC 3030) on the raw connection: go-smtp's client
// has no BDAT.
func (s *sessionRun) bdat() (string, error) {
	if s.raw == nil {
		s.raw = bufio.NewReader(s.conn)
	}
	_ = s.conn.SetDeadline(time.Now().Add(s.o.Timeout))
	defer s.conn.SetDeadline(time.Time{})
	if _, err := s.conn.Write(append([]byte(fmt.Sprintf("BDAT %d LAST\r\n", len(s.body))), s.body...)); err != nil {
		return "", err
	}
	return s.final()
}

func (s *sessionRun) final() (string, error) {
	code, text, err := s.readReply()
	if err != nil {
		return "", err
	}
	if code/100 != 2 {
		e, msg := splitEnhanced(text)
		return "", &smtp.SMTPError{Code: code, Message: msg, EnhancedCode: e}
	}
	return fmt.Sprintf("%d %s", code, firstWord(text)), nil
}

// readReply reads one reply and returns its code and the text of its last line.
func (s *sessionRun) readReply() (int, string, error) {
	lines, err := readReply(s.raw)
	if err != nil {
		return 0, "", err
	}
	last := lines[len(lines)-1]
	code, err := strconv.Atoi(last[:min(3, len(last))])
	if err != nil || len(last) < 4 {
		return 0, "", fmt.Errorf("malformed reply %q", last)
	}
	return code, last[4:], nil
}

// Stuff returns body dot-stuffed and terminated for DATA (RFC 5321 §4.5.2).
func Stuff(body []byte) []byte {
	var b bytes.Buffer
	bol := true
	for _, c := range body {
		if bol && c == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(c)
		bol = c == '\n'
	}
	if !bol {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

// splitEnhanced splits "5.3.4 Message size exceeds…" into the enhanced code and the text.
func splitEnhanced(text string) (smtp.EnhancedCode, string) {
	var e smtp.EnhancedCode
	if n, _ := fmt.Sscanf(firstWord(text), "%d.%d.%d", &e[0], &e[1], &e[2]); n != 3 {
		return smtp.EnhancedCode{}, text
	}
	return e, strings.TrimSpace(text[len(firstWord(text)):])
}

// refused counts a refusal by its reply (code and enhanced code) and the step.
func (s *sessionRun) refused(err error, step string) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := se.EnhancedCode
		if e != (smtp.EnhancedCode{}) && e != smtp.NoEnhancedCode {
			s.rec.reply(fmt.Sprintf("%d %d.%d.%d", se.Code, e[0], e[1], e[2]))
		} else {
			s.rec.reply(strconv.Itoa(se.Code))
		}
		s.rec.err(step+"-refused", nil)
		return
	}
	s.rec.err(step, err)
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// MakeBody returns a message of about size bytes: a few headers and 78-character lines.
func MakeBody(size int) []byte {
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

func progress(w io.Writer, start time.Time, sent, failed *atomic.Int64) func() {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				n := sent.Load()
				fmt.Fprintf(w, "\r\033[K%5.0fs  %d sent  %d msgs/s  %d failed", time.Since(start).Seconds(), n, n-last, failed.Load())
				last = n
			}
		}
	}()
	return func() { close(done) }
}

// Print writes a human-readable report.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "target %s: %d messages in %.2fs = %.1f msgs/s, %.2f MB/s (%d sessions), %d failed\n",
		r.Target, r.Sent, r.Elapsed.Seconds(), r.Rate(), float64(r.Bytes)/r.Elapsed.Seconds()/1e6, r.Sessions, r.Failed)
	fmt.Fprintf(w, "%-8s %8s %10s %10s %10s %10s\n", "phase", "n", "p50", "p90", "p99", "max")
	for _, p := range Phases {
		if l, ok := r.Latency[p]; ok {
			fmt.Fprintf(w, "%-8s %8d %10s %10s %10s %10s\n", p, l.N, round(l.P50), round(l.P90), round(l.P99), round(l.Max))
		}
	}
	for _, k := range sortedKeys(r.Replies) {
		fmt.Fprintf(w, "reply %-12s %d\n", k, r.Replies[k])
	}
	for _, k := range sortedKeys(r.Errors) {
		fmt.Fprintf(w, "error %-16s %d\n", k, r.Errors[k])
	}
}

func sortedKeys(m map[string]int64) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
