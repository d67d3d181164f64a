package smtpreceive

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// replyMatcher says whether a reply the engine sent is a rendering of a reply-table row (STYLE
// §2), an EHLO reply the engine builds for the connector, or a reply the fake backend passes
// through.
type replyMatcher struct {
	rows    []*regexp.Regexp
	literal map[string]bool
}

// placeholder is a row template's <name>; <CRLF> in R46 is literal text.
var placeholder = regexp.MustCompile(`<[^<>]*>`)

func newReplyMatcher(t testing.TB, rc *config.ReceiveConnector, literal ...string) *replyMatcher {
	t.Helper()
	m := &replyMatcher{literal: map[string]bool{}}
	for _, prefix := range []string{"R", "X"} {
		for i := 1; i < 100; i++ {
			row, ok := smtpwire.LookupRow(fmt.Sprintf("%s%02d", prefix, i))
			if !ok || row.Code == 0 || !strings.HasPrefix(row.Text, fmt.Sprint(row.Code)) {
				// R02 (a custom Banner) and R72 (a queue's LastError) are not replies whose
				// shape a template can check.
				continue
			}
			if row.Enhanced != "" && !strings.HasPrefix(row.Text, fmt.Sprintf("%d %s", row.Code, row.Enhanced)) {
				t.Fatalf("row %s: text %q does not start with its codes", row.ID, row.Text)
			}
			var re strings.Builder
			re.WriteString("^")
			tmpl := strings.ReplaceAll(row.Text, `\r\n`, "\r\n")
			last := 0
			for _, loc := range placeholder.FindAllStringIndex(tmpl, -1) {
				re.WriteString(regexp.QuoteMeta(tmpl[last:loc[0]]))
				if tmpl[loc[0]:loc[1]] == "<CRLF>" {
					re.WriteString(regexp.QuoteMeta("<CRLF>"))
				} else {
					re.WriteString(`[^\r\n]*`)
				}
				last = loc[1]
			}
			re.WriteString(regexp.QuoteMeta(tmpl[last:]))
			re.WriteString("$")
			m.rows = append(m.rows, regexp.MustCompile(re.String()))
		}
	}
	for _, tls := range []bool{false, true} {
		for _, cert := range []bool{false, true} {
			m.literal[EhloReply(rc, EhloParams{Version: config.Version2019, TLS: tls, HasCert: cert}, "127.0.0.1").Text] = true
		}
	}
	for _, l := range literal {
		m.literal[l] = true
	}
	return m
}

func (m *replyMatcher) match(reply string) bool {
	if m.literal[reply] {
		return true
	}
	for _, re := range m.rows {
		if re.MatchString(reply) {
			return true
		}
	}
	return false
}

// FuzzSession drives the real engine over the package's Pipe with arbitrary command
// sequences (the input, split on CRLF, each line sent with CRLF) against the fake Session:
// no panic (the engine's recover would answer R05, which the fuzzer would not see as a
// failure, so the session's panic log counts too), every reply is a table row, the EHLO reply
// or the backend's own, and the session ends within its limits (MaxProtocolErrors,
// ConnectionInactivityTimeout, ConnectionTimeout). Seeds are in testdata/fuzz/FuzzSession.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<user1@contoso.test>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT",
		"BDAT 5 LAST\r\nEHLO c\r\nMAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<u@contoso.test>\r\nBDAT 3\r\nab\r\nBDAT 0 LAST\r\n",
	} {
		f.Add([]byte(s))
	}
	check := sessionChecker(f)
	f.Fuzz(func(t *testing.T, in []byte) { check(t, in) })
}

// sessionChecker starts the engine FuzzSession drives and returns its check of one input.
func sessionChecker(tb testing.TB) func(t *testing.T, in []byte) {
	rc := *connector(tb, "Default Frontend EX01")
	rc.TarpitInterval = 0
	rc.AuthTarpitInterval = 0
	rc.ConnectionInactivityTimeout = config.TimeSpan(150 * time.Millisecond)
	rc.ConnectionTimeout = config.TimeSpan(2 * time.Second)
	rc.MaxProtocolErrors = config.Limit{Value: 5}
	rc.MessageRateLimit = config.Unlimited
	rc.MaxInboundConnectionPerSource = config.Unlimited
	rc.MaxMessageSize = 4 << 10
	rc.MaxHeaderSize = 1 << 10
	rc.MaxHopCount = 3
	rc.ProtocolLoggingLevel = config.LoggingVerbose
	var panics atomic.Int64
	be := &fakeBackend{refuse: map[string]*smtpwire.Reply{"refused@contoso.test": smtpwire.Fixed("R38")}, sizeLim: int64(rc.MaxMessageSize)}
	plog := smtpwire.NewProtocolLog(tb.TempDir(), false, smtpwire.ProtocolLogOptions{})
	s := &Server{Role: rc.TransportRole, Version: config.Version2019, ProtocolLog: plog,
		Logger:     panicLogger(&panics),
		Select:     func(cs []*config.ReceiveConnector, _ netip.Addr) *config.ReceiveConnector { return cs[0] },
		NewSession: func(ci *ConnInfo) Session { return &fakeSession{srv: be} }}
	s.Serve()
	tb.Cleanup(plog.Close)
	m := newReplyMatcher(tb, &rc, "250 2.6.0 queued")
	limit := rc.ConnectionTimeout.Duration() + 2*time.Second
	var port atomic.Uint32
	return func(t *testing.T, in []byte) {
		before := panics.Load()
		client, server := Pipe(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1024+port.Add(1)%60000)),
			netip.MustParseAddrPort("127.0.0.1:25"))
		_ = client.SetDeadline(time.Now().Add(limit))
		start := time.Now()
		s.ServeConn(server, []*config.ReceiveConnector{&rc})
		// The lines are copied: the fuzzer owns in, and the writer may outlive a failed check
		// until the deferred Close stops it.
		lines := bytes.Split(bytes.Clone(in), []byte("\r\n"))
		wrote := make(chan struct{})
		defer func() {
			client.Close()
			<-wrote
		}()
		go func() {
			defer close(wrote)
			for _, line := range lines {
				if _, err := client.Write(append(line[:len(line):len(line)], '\r', '\n')); err != nil {
					return
				}
			}
			// The client is done: the session ends at the end of its input, as a TCP client's does
			// when it half-closes.
			_ = client.(interface{ CloseWrite() error }).CloseWrite()
		}()
		br := bufio.NewReader(client)
		var reply strings.Builder
		for {
			l, err := br.ReadString('\n')
			if err == io.EOF && l == "" {
				break
			}
			if err != nil {
				t.Fatalf("after %v: %v (reply so far %q)", time.Since(start), err, reply.String())
			}
			if !strings.HasSuffix(l, "\r\n") || len(l) < 5 {
				t.Fatalf("malformed reply line %q", l)
			}
			reply.WriteString(l)
			if l[3] == '-' {
				continue
			}
			got := strings.TrimSuffix(reply.String(), "\r\n")
			if !m.match(got) {
				t.Fatalf("reply %q is not a rendering of any table row", got)
			}
			reply.Reset()
		}
		if reply.Len() > 0 {
			t.Fatalf("session ended inside a multi-line reply %q", reply.String())
		}
		if d := time.Since(start); d > limit {
			t.Fatalf("session took %v, longer than its ConnectionTimeout", d)
		}
		if n := panics.Load(); n != before {
			t.Fatal("a handler panicked (see the log)")
		}
	}
}

// panicLogger is a logger that drops everything but counts the engine's "panic in SMTP
// session" lines, writing each (with its stack) to stderr.
func panicLogger(n *atomic.Int64) *slog.Logger {
	return slog.New(panicHandler{n})
}

type panicHandler struct{ n *atomic.Int64 }

func (h panicHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h panicHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "panic in SMTP session" {
		h.n.Add(1)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(os.Stderr, "%s: %v\n", a.Key, a.Value)
			return true
		})
	}
	return nil
}
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicHandler) WithGroup(string) slog.Handler      { return h }

// TestReplyMatcher: FuzzSession's matcher takes renderings of table rows, the EHLO reply and
// the listed pass-through replies, and nothing else.
func TestReplyMatcher(t *testing.T) {
	rc := connector(t, "Default Frontend EX01")
	m := newReplyMatcher(t, rc, "250 2.6.0 queued")
	for _, c := range []struct {
		reply string
		want  bool
	}{
		{smtpwire.Fixed("R27").Text, true},
		{Banner(rc, time.Now()).Text, true},
		{smtpwire.Render("R53", "n", "12").Text, true},
		{smtpwire.Fixed("R46").Text, true},
		{smtpwire.Render("X03", "challenge", "").Text, true},
		{EhloReply(rc, EhloParams{Version: config.Version2019}, "127.0.0.1").Text, true},
		{"250 2.6.0 queued", true},
		{"250 2.1.0 Sender ok", false},
		{"250 2.1.0 Sender OK\r\n250 2.1.0 Sender OK", false},
		{"354 Start mail input; end with .", false},
		{"554 5.6.0 Corrupt message content", false},
		{"250 ex01.contoso.test Hello [127.0.0.1]\r\n250 XRDST", false},
	} {
		if got := m.match(c.reply); got != c.want {
			t.Errorf("match(%q) = %v, want %v", c.reply, got, c.want)
		}
	}
}
