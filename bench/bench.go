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
	// Start is when the run began (wall clock): bench merge aligns the series of several
	// machines on it.
	Start time.Time
	// Histograms are the latencies of each phase, losslessly (HistBits); Latency is read
	// from them.
	Histograms map[string]*Hist
	// Series is one entry per second of the run.
	Series []Second
	// Warnings say when the result measures refusals rather than the server (Warn).
	Warnings []string `json:",omitempty"`
}

// Second is one second of a run: what finished in it.
type Second struct {
	Unix       int64              // the second's start, Unix time
	Sent       int64              // messages with a 2xx final reply
	Failed     int64              // messages or sessions that ended in an error
	Replies    map[string]int64   // as Result.Replies
	Histograms map[string]*Hist   // per phase, SeriesBits precision (a few % of the value)
	P50ms      map[string]float64 // per phase, from Histograms
	P99ms      map[string]float64
}

// Percentiles of one phase.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// MarshalJSON writes the percentiles in milliseconds.
func (p Percentiles) MarshalJSON() ([]byte, error) {
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

// recorder collects what the sessions saw. Latencies go into one histogram per phase for the
// run and one per phase for the current second, with atomic adds (no lock, no allocation per
// sample); replies and errors, which are few kinds, under the mutex.
type recorder struct {
	total, sec [len(phaseNames)]*Hist
	sent       atomic.Int64
	failed     atomic.Int64
	mu         sync.Mutex
	replies    map[string]int64
	secReplies map[string]int64
	errs       map[string]int64
	lastSent   int64
	lastFailed int64
}

// phaseNames are Phases as an array, so the recorder's histograms are arrays indexed by phase.
var phaseNames = [...]string{"connect", "banner", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "sched"}

const (
	phConnect = iota
	phBanner
	phEhlo
	phStartTLS
	phAuth
	phMail
	phRcpt
	phData
	phSched
)

func newRecorder() *recorder {
	r := &recorder{replies: map[string]int64{}, secReplies: map[string]int64{}, errs: map[string]int64{}}
	for i := range phaseNames {
		r.total[i], r.sec[i] = NewHist(HistBits), NewHist(SeriesBits)
	}
	return r
}

func (r *recorder) phase(p int, d time.Duration) {
	r.total[p].Record(d)
	r.sec[p].Record(d)
}

func (r *recorder) reply(s string) {
	r.mu.Lock()
	r.replies[s]++
	r.secReplies[s]++
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

// second drains the current second into a Second starting at t.
func (r *recorder) second(t time.Time) Second {
	sec := Second{Unix: t.Unix(), Histograms: map[string]*Hist{}, P50ms: map[string]float64{}, P99ms: map[string]float64{}}
	for i, name := range phaseNames {
		if h := r.sec[i].Drain(); h.N() > 0 {
			sec.Histograms[name] = h
		}
	}
	sec.fill()
	r.mu.Lock()
	sec.Replies, r.secReplies = r.secReplies, map[string]int64{}
	sent, failed := r.sent.Load(), r.failed.Load()
	sec.Sent, sec.Failed = sent-r.lastSent, failed-r.lastFailed
	r.lastSent, r.lastFailed = sent, failed
	r.mu.Unlock()
	return sec
}

// fill computes the percentiles of a second from its histograms.
func (s *Second) fill() {
	s.P50ms, s.P99ms = map[string]float64{}, map[string]float64{}
	for name, h := range s.Histograms {
		s.P50ms[name], s.P99ms[name] = ms(h.Quantile(0.5)), ms(h.Quantile(0.99))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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

// Run drives the load and reports. It stops when ctx ends (or Duration passes): sessions that
// would start after that, and a dial the end cancels, are neither sent nor failed; messages in
// flight finish.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rec := newRecorder()
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

	var counter atomic.Int64
	start := time.Now()
	stopSeries := rec.series(start, o.Progress)
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
				if err := s.run(ctx, t); err != nil && !errors.Is(err, errEnded) {
					rec.failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	series := stopSeries()
	res := &Result{Target: o.Target, Sent: rec.sent.Load(), Failed: rec.failed.Load(), Bytes: rec.sent.Load() * int64(len(body)),
		Elapsed: elapsed, Replies: rec.replies, Errors: rec.errs, Sessions: o.Sessions,
		Start: start, Histograms: map[string]*Hist{}, Series: series}
	for i, name := range phaseNames {
		if rec.total[i].N() > 0 {
			res.Histograms[name] = rec.total[i]
		}
	}
	res.fill()
	return res, nil
}

// fill computes Latency from the histograms and the warnings from the replies.
func (r *Result) fill() {
	r.Latency = map[string]Percentiles{}
	for name, h := range r.Histograms {
		r.Latency[name] = h.Percentiles()
	}
	r.Warnings = r.Warn()
}

// ended says the run is over: ctx is done or its deadline has passed. A dial the deadline
// cuts short fails with a timeout of its own, which may come a moment before ctx's timer marks
// ctx done.
func ended(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}

// errEnded is a session the end of the run cut short before it began: not a failure.
var errEnded = errors.New("bench: the run ended")

// series drains the recorder every second into the time series (and prints the progress line
// when w is set); the returned function stops it and returns the series, the last partial
// second included.
func (r *recorder) series(start time.Time, w io.Writer) func() []Second {
	done := make(chan struct{})
	var out []Second
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		from := start
		for {
			select {
			case <-done:
				if w != nil {
					fmt.Fprint(w, "\r\033[K")
				}
				if s := r.second(from); s.Sent+s.Failed > 0 || len(s.Histograms) > 0 {
					out = append(out, s)
				}
				return
			case now := <-t.C:
				s := r.second(from)
				out = append(out, s)
				from = now
				if w != nil {
					fmt.Fprintf(w, "\r\033[K%5.0fs  %d sent  %d msgs/s  %d failed", time.Since(start).Seconds(), r.sent.Load(), s.Sent, r.failed.Load())
				}
			}
		}
	}()
	return func() []Second { close(done); <-finished; return out }
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

// swapConn is the connection go-smtp's client and the raw DATA/BDAT writes share. After
// STARTTLS its Conn becomes the TLS connection, so every later byte, the client's and the raw
// body's alike, is encrypted. (Before, go-smtp's NewClientStartTLS wrapped the socket in a TLS
// connection of its own that bench could not reach, and the body went to the plain socket
// after the upgrade: every message failed at DATA.)
type swapConn struct{ net.Conn }

// run runs one connection with up to PerSession messages, the first being t.
func (s *sessionRun) run(ctx context.Context, t ticket) error {
	o, rec := s.o, s.rec
	start := time.Now()
	conn, err := (&net.Dialer{Timeout: o.Timeout}).DialContext(ctx, "tcp", o.Target)
	if err != nil {
		if ended(ctx) {
			return errEnded // the end of the run cancelled the dial
		}
		rec.err("connect", err)
		return err
	}
	connected := time.Now()
	rec.phase(phConnect, connected.Sub(start))
	fc := &firstReadConn{Conn: conn}
	sw := &swapConn{Conn: fc}
	s.conn = sw
	c := smtp.NewClient(sw)
	c.CommandTimeout, c.SubmissionTimeout = o.Timeout, o.Timeout
	defer c.Close()
	if err := c.Hello(o.Helo); err != nil {
		s.refused(err, "ehlo")
		return err
	}
	if !fc.first.IsZero() {
		rec.phase(phBanner, fc.first.Sub(connected))
		rec.phase(phEhlo, time.Since(fc.first))
	}
	if o.StartTLS {
		t0 := time.Now()
		if err := s.startTLS(c, sw, fc); err != nil {
			s.refused(err, "starttls")
			return err
		}
		rec.phase(phStartTLS, time.Since(t0))
	}
	if o.Auth != "" {
		t0 := time.Now()
		user, pass, _ := strings.Cut(o.Auth, ":")
		if err := c.Auth(sasl.NewLoginClient(user, pass)); err != nil {
			s.refused(err, "auth")
			return err
		}
		rec.phase(phAuth, time.Since(t0))
	}
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
			return err
		}
		rec.sent.Add(1)
	}
	_ = c.Quit()
	return nil
}

// startTLS sends STARTTLS, runs the handshake on the socket and the second EHLO (RFC 3207 §4.2:
// the client must discard what it knew and say EHLO again) on the TLS connection, which from
// then on is the session's connection. go-smtp's client exports no STARTTLS, so bench speaks
// these three steps itself; the client has read every reply so far, nothing is buffered on its
// side. The "starttls" phase is all three.
func (s *sessionRun) startTLS(c *smtp.Client, sw *swapConn, fc net.Conn) error {
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return errors.New("the server does not offer STARTTLS")
	}
	_ = fc.SetDeadline(time.Now().Add(s.o.Timeout))
	defer fc.SetDeadline(time.Time{})
	if err := s.command("STARTTLS\r\n", 220); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(s.o.Target)
	tc := tls.Client(fc, &tls.Config{InsecureSkipVerify: true, ServerName: host})
	if err := tc.Handshake(); err != nil {
		return err
	}
	sw.Conn = tc
	s.raw = nil // a reader on the TLS connection from now on
	return s.command("EHLO "+s.o.Helo+"\r\n", 250)
}

// command writes line on the session's connection and reads one reply, which must have code want.
func (s *sessionRun) command(line string, want int) error {
	if s.raw == nil {
		s.raw = bufio.NewReader(s.conn)
	}
	if _, err := io.WriteString(s.conn, line); err != nil {
		return err
	}
	code, text, err := s.readReply()
	if err != nil {
		return err
	}
	if code != want {
		e, msg := splitEnhanced(text)
		return &smtp.SMTPError{Code: code, Message: msg, EnhancedCode: e}
	}
	return nil
}

func (s *sessionRun) message(c *smtp.Client, t ticket) error {
	o, rec := s.o, s.rec
	t0 := time.Now()
	if err := c.Mail(o.From, &smtp.MailOptions{Size: int64(len(s.body))}); err != nil {
		s.refused(err, "mail")
		return err
	}
	rec.phase(phMail, time.Since(t0))
	for r := 0; r < o.Rcpts; r++ {
		t0 = time.Now()
		n := s.counter.Add(1)
		if err := c.Rcpt(strings.ReplaceAll(o.To, "{n}", strconv.FormatInt(n, 10)), nil); err != nil {
			s.refused(err, "rcpt")
			_ = c.Reset()
			return err
		}
		rec.phase(phRcpt, time.Since(t0))
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
	rec.phase(phData, time.Since(t0))
	if !t.sched.IsZero() && o.Rate > 0 {
		rec.phase(phSched, time.Since(t.sched))
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

// percentiles of a few samples (bench --idle's), through a histogram like the load's.
func percentiles(ds []time.Duration) Percentiles {
	h := NewHist(HistBits)
	for _, d := range ds {
		h.Record(d)
	}
	return h.Percentiles()
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
