package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a small SMTP server on 127.0.0.1:0 that offers STARTTLS, accepts every
// message with 250 2.6.0, and counts the messages whose body came over TLS. refuseRcpt, when
// set, answers RCPT with it instead.
type testServer struct {
	addr       string
	cfg        *tls.Config
	refuseRcpt string
	mu         sync.Mutex
	overTLS    int
	plain      int
}

func startTestServer(t *testing.T, refuseRcpt string) *testServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"127.0.0.1"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &testServer{addr: l.Addr().String(), refuseRcpt: refuseRcpt,
		cfg: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *testServer) serve(c net.Conn) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprint(c, "220 test ready\r\n")
	tlsOn := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO":
			if tlsOn {
				fmt.Fprint(c, "250-test\r\n250 SIZE 1000000\r\n")
			} else {
				fmt.Fprint(c, "250-test\r\n250-SIZE 1000000\r\n250 STARTTLS\r\n")
			}
		case "STARTTLS":
			fmt.Fprint(c, "220 2.0.0 SMTP server ready\r\n")
			tc := tls.Server(c, s.cfg)
			if tc.Handshake() != nil {
				return
			}
			c, br, tlsOn = tc, bufio.NewReader(tc), true
		case "MAIL":
			fmt.Fprint(c, "250 2.1.0 Sender OK\r\n")
		case "RCPT":
			if s.refuseRcpt != "" {
				fmt.Fprint(c, s.refuseRcpt+"\r\n")
			} else {
				fmt.Fprint(c, "250 2.1.5 Recipient OK\r\n")
			}
		case "RSET":
			fmt.Fprint(c, "250 2.0.0 Resetting\r\n")
		case "DATA":
			fmt.Fprint(c, "354 Start mail input; end with <CRLF>.<CRLF>\r\n")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.mu.Lock()
			if tlsOn {
				s.overTLS++
			} else {
				s.plain++
			}
			s.mu.Unlock()
			fmt.Fprint(c, "250 2.6.0 <x@test> Queued mail for delivery\r\n")
		case "QUIT":
			fmt.Fprint(c, "221 2.0.0 Service closing transmission channel\r\n")
			return
		default:
			fmt.Fprint(c, "500 5.3.3 Unrecognized command\r\n")
		}
	}
}

// TestStartTLSSendsTheBodyOverTLS guards the bug of issue 14 point 5: with --starttls every
// message failed at DATA because the body went to the plain socket after the upgrade.
func TestStartTLSSendsTheBodyOverTLS(t *testing.T) {
	s := startTestServer(t, "")
	res, err := Run(context.Background(), Options{Target: s.addr, Sessions: 1, Messages: 10, PerSession: 3, StartTLS: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 10 || res.Failed != 0 || res.Replies["250 2.6.0"] != 10 {
		t.Fatalf("sent %d, failed %d, replies %v, errors %v", res.Sent, res.Failed, res.Replies, res.Errors)
	}
	if res.Latency["starttls"].N != 4 { // 10 messages, 3 per session, one session at a time: 4 sessions
		t.Errorf("starttls timed %d times", res.Latency["starttls"].N)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overTLS != 10 || s.plain != 0 {
		t.Errorf("bodies over TLS %d, in plain %d", s.overTLS, s.plain)
	}
}

// TestDurationEndsWithoutErrors: the end of a --duration run is not a failure (no spurious
// connect error from a dial the deadline cancelled), with a connection per message so sessions
// are being opened when the deadline comes.
func TestDurationEndsWithoutErrors(t *testing.T) {
	s := startTestServer(t, "")
	res, err := Run(context.Background(), Options{Target: s.addr, Sessions: 4, Duration: 1500 * time.Millisecond, PerSession: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.Failed != 0 || len(res.Errors) != 0 {
		t.Errorf("sent %d, failed %d, errors %v", res.Sent, res.Failed, res.Errors)
	}
	if code, lines := res.Exit(nil); code != 0 {
		t.Errorf("exit %d: %v", code, lines)
	}
	var sum int64
	for _, sec := range res.Series {
		sum += sec.Sent
	}
	if sum != res.Sent || len(res.Series) < 1 {
		t.Errorf("series of %d seconds adds up to %d sent, want %d", len(res.Series), sum, res.Sent)
	}
	if res.Histograms["data"].N() != res.Sent {
		t.Errorf("data histogram holds %d samples for %d messages", res.Histograms["data"].N(), res.Sent)
	}
}

// TestRefusedRunWarnsAndFails: a run whose every RCPT is refused exits 1, warns, and an
// --expect naming the refusals makes it 0.
func TestRefusedRunWarnsAndFails(t *testing.T) {
	s := startTestServer(t, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")
	res, err := Run(context.Background(), Options{Target: s.addr, Sessions: 1, Messages: 3, PerSession: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 3 || res.Replies["550 5.1.10"] != 3 {
		t.Fatalf("failed %d, replies %v", res.Failed, res.Replies)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "recipients") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if code, _ := res.Exit(nil); code != 1 {
		t.Errorf("exit %d with every message refused", code)
	}
	exps, _ := ParseExpect("550 5.1.10=3,sent=0")
	if code, lines := res.Exit(exps); code != 0 {
		t.Errorf("exit %d with the refusals expected: %v", code, lines)
	}
}

func TestExit(t *testing.T) {
	for _, c := range []struct {
		name   string
		r      Result
		expect string
		code   int
	}{
		{"all sent", Result{Sent: 5, Replies: map[string]int64{"250 2.6.0": 5}}, "", 0},
		{"one failed", Result{Sent: 4, Failed: 1, Replies: map[string]int64{"250 2.6.0": 4, "421 4.4.2": 1}}, "", 1},
		{"failures expected", Result{Sent: 4, Failed: 1, Replies: map[string]int64{"250 2.6.0": 4, "421 4.4.2": 1}}, "421 4.4.2=1", 0},
		{"expectation misses", Result{Sent: 4, Failed: 1, Replies: map[string]int64{"250 2.6.0": 4, "421 4.4.2": 1}}, "421 4.4.2=2", 1},
		{"expectation fails a clean run", Result{Sent: 5, Replies: map[string]int64{"250 2.6.0": 5}}, "sent=6", 1},
		{"session error, no reply", Result{Sent: 0, Failed: 1, Errors: map[string]int64{"connect": 1}}, "", 1},
	} {
		var exps []Expectation
		if c.expect != "" {
			var err error
			if exps, err = ParseExpect(c.expect); err != nil {
				t.Fatal(err)
			}
		}
		if code, lines := c.r.Exit(exps); code != c.code {
			t.Errorf("%s: exit %d, want %d (%v)", c.name, code, c.code, lines)
		}
	}
}

func TestWarn(t *testing.T) {
	for _, c := range []struct {
		name    string
		replies map[string]int64
		want    []string // a word of each warning
	}{
		{"clean", map[string]int64{"250 2.6.0": 100}, nil},
		{"some refusals", map[string]int64{"250 2.6.0": 60, "550 5.1.10": 40}, nil},
		{"mostly refused", map[string]int64{"250 2.6.0": 40, "550 5.1.10": 30, "421 4.4.2": 31}, []string{"refusals"}},
		{"back pressure", map[string]int64{"250 2.6.0": 100, "452 4.3.1": 1}, []string{"back pressure"}},
		{"both", map[string]int64{"452 4.3.1": 10}, []string{"refusals", "back pressure"}},
		{"nothing", nil, nil},
	} {
		got := (&Result{Replies: c.replies}).Warn()
		if len(got) != len(c.want) {
			t.Errorf("%s: %q", c.name, got)
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q lacks %q", c.name, got[i], w)
			}
		}
	}
}

// TestMergeRuns: two runs' --json merge into a result whose percentiles, counts and series
// equal those of the union.
func TestMergeRuns(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	mk := func(start time.Time, samples []int64, replies map[string]int64) (*Result, *Hist) {
		h, sh := NewHist(HistBits), NewHist(SeriesBits)
		for _, v := range samples {
			h.RecordMicros(v)
			sh.RecordMicros(v)
		}
		r := &Result{Target: "t", Sent: int64(len(samples)), Elapsed: 2 * time.Second, Sessions: 1, Start: start, Replies: replies,
			Errors: map[string]int64{}, Histograms: map[string]*Hist{"data": h},
			Series: []Second{{Unix: start.Unix(), Sent: int64(len(samples)), Histograms: map[string]*Hist{"data": sh}, Replies: replies}}}
		r.fill()
		return r, h
	}
	a, ha := mk(t0, []int64{100, 200, 300, 5000, 7000}, map[string]int64{"250 2.6.0": 5})
	b, hb := mk(t0.Add(500*time.Millisecond), []int64{150, 90000, 120000}, map[string]int64{"250 2.6.0": 3})
	union := NewHist(HistBits)
	_ = union.Merge(ha)
	_ = union.Merge(hb)
	var runs []*Result
	for _, r := range []*Result{a, b} {
		js, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadResult(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, back)
	}
	m, err := Merge(runs...)
	if err != nil {
		t.Fatal(err)
	}
	if m.Latency["data"] != union.Percentiles() || m.Sent != 8 || m.Replies["250 2.6.0"] != 8 || m.Sessions != 2 {
		t.Errorf("merged %+v sent %d replies %v, union %+v", m.Latency["data"], m.Sent, m.Replies, union.Percentiles())
	}
	if m.Elapsed != 2500*time.Millisecond || !m.Start.Equal(t0) {
		t.Errorf("merged run from %v for %v", m.Start, m.Elapsed)
	}
	if len(m.Series) != 1 || m.Series[0].Sent != 8 || m.Series[0].Histograms["data"].N() != 8 {
		t.Errorf("merged series %+v", m.Series)
	}
	// The merge's JSON merges again.
	js, _ := json.Marshal(m)
	again, err := ReadResult(bytes.NewReader(js))
	if err != nil || again.Latency["data"] != m.Latency["data"] {
		t.Errorf("merged JSON read back: %v %+v", err, again)
	}
	if _, err := ReadResult(strings.NewReader(`{"Sent": 3}`)); err == nil {
		t.Error("a JSON without histograms was read as a result")
	}
}

var externalRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//`)

// TestReport: the page is self-contained (nothing fetched) and holds the figures.
func TestReport(t *testing.T) {
	s := startTestServer(t, "")
	res, err := Run(context.Background(), Options{Target: s.addr, Sessions: 2, Duration: 1200 * time.Millisecond, Rate: 50, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteReport(&b, res); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if externalRef.MatchString(page) || strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<script") {
		t.Errorf("the page refers to something outside itself")
	}
	for _, want := range []string{"<svg", "messages per second", "data (ms)", "sched (ms)", "data p99", "<polyline", "250 2.6.0", "Reply mix"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestParseRamp(t *testing.T) {
	r, err := ParseRamp("100:50:300:2s")
	if err != nil || r != (Ramp{Start: 100, Step: 50, Max: 300, Hold: 2 * time.Second}) {
		t.Errorf("%+v %v", r, err)
	}
	if r, err := ParseRamp("10:10:20"); err != nil || r.Hold != 5*time.Second {
		t.Errorf("%+v %v", r, err)
	}
	for _, bad := range []string{"", "10", "10:10", "a:1:2", "10:0:20", "30:10:20", "1:1:2:x", "1:1:2:3s:4"} {
		if _, err := ParseRamp(bad); err == nil {
			t.Errorf("ParseRamp(%q) accepted", bad)
		}
	}
}

// TestRampFindsTheKnee: against a server that answers in no time, every step of a small ramp
// holds a generous bound and the knee is the last; with a bound no step can hold, there is
// none.
func TestRampFindsTheKnee(t *testing.T) {
	s := startTestServer(t, "")
	o := Options{Target: s.addr, Sessions: 4, PerSession: 5, Timeout: 5 * time.Second}
	rr, err := RunRamp(context.Background(), o, Ramp{Start: 20, Step: 20, Max: 60, Hold: 500 * time.Millisecond}, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Steps) != 3 || rr.Knee != 2 {
		t.Fatalf("%d steps, knee %d", len(rr.Steps), rr.Knee)
	}
	rr, err = RunRamp(context.Background(), o, Ramp{Start: 20, Step: 20, Max: 60, Hold: 300 * time.Millisecond}, time.Nanosecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Steps) != 1 || rr.Knee != -1 {
		t.Errorf("%d steps, knee %d with a bound of 1ns", len(rr.Steps), rr.Knee)
	}
	var b bytes.Buffer
	rr.Print(&b)
	if !strings.Contains(b.String(), "knee: none") {
		t.Errorf("%s", b.String())
	}
}
