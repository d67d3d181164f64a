package transport

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// TestViaFrontendUnreachable: when the hub cannot reach its Outbound Proxy Frontend at all, each
// recipient's result is R69 around X12, naming the endpoint; the dial error only reaches the log.
func TestViaFrontendUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	var logs bytes.Buffer
	s := &smtpSend{log: slog.New(slog.NewTextHandler(&logs, nil)),
		outProxy: &smtpsend.Proxy{Addr: func() string { return addr }, HeloName: "ex01.contoso.test", ConnectTimeout: time.Second,
			CommandTimeout: time.Second, PoolSize: 1}}
	defer s.outProxy.Close()
	got := s.viaFrontend(context.Background(), smtpsend.Delivery{From: "a@contoso.test", Rcpts: []string{"b@fabrikam.example", "c@fabrikam.example"},
		Hosts: []string{"[127.0.0.1]:2500"}, Content: []byte("Subject: x\r\n\r\nx\r\n")})
	want := smtpwire.Render(smtpwire.R69, "inner reply", smtpwire.Render("X12", "endpoint", addr).Text).Text
	if len(got) != 2 {
		t.Fatalf("%d results for 2 recipients", len(got))
	}
	for _, r := range got {
		if r.Code != 450 || r.Text != want {
			t.Errorf("result %d %q, want 450 %q", r.Code, r.Text, want)
		}
	}
	if !strings.Contains(logs.String(), "SmtpSend via the Outbound Proxy Frontend failed") || !strings.Contains(logs.String(), "err=") {
		t.Errorf("the error detail is not logged:\n%s", logs.String())
	}
}

// TestSendRecord is how one recipient's SmtpSend result becomes its queue state.
func TestSendRecord(t *testing.T) {
	r71 := smtpwire.Render(smtpwire.R71, "ip", "127.0.0.1", "port", "2500").Text
	for _, tc := range []struct {
		name        string
		notify      []string
		res         smtpsend.RcptResult
		status      queue.RecipientStatus
		retries     int
		failed      int
		relayed     int
		deferred    int
		connFailure bool
	}{
		{"delivered", nil, smtpsend.RcptResult{Code: 250, Text: "250 2.6.0 Queued", Host: "h:25"}, queue.StatusDelivered, 0, 0, 0, 0, false},
		{"delivered with NOTIFY=SUCCESS is relayed", []string{"SUCCESS"}, smtpsend.RcptResult{Code: 250, Text: "250 OK", Host: "h:25"}, queue.StatusDelivered, 0, 0, 1, 0, false},
		{"refused", nil, smtpsend.RcptResult{Code: 550, Text: "550 5.1.1 User unknown", Host: "h:25"}, queue.StatusFailed, 0, 1, 0, 0, false},
		{"deferred by the next hop", nil, smtpsend.RcptResult{Code: 451, Text: "451 4.3.2 Try later", Host: "h:25"}, queue.StatusPending, 1, 0, 0, 1, false},
		{"connection failure", nil, smtpsend.RcptResult{Code: 441, Text: r71, Host: "h:25"}, queue.StatusPending, 1, 0, 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &smtpSend{server: &config.Server{}, log: slog.New(slog.DiscardHandler)}
			m := &queue.Message{ID: 1, Recipients: []queue.Recipient{{Address: "b@fabrikam.example", Status: queue.StatusPending, NextHop: "X", Notify: tc.notify}}}
			var res sendResult
			s.record(&res, m, &m.Recipients[0], tc.res, "X")
			r := m.Recipients[0]
			if r.Status != tc.status || r.LastError != tc.res.Text || r.LastHost != tc.res.Host || r.RetryCount != tc.retries {
				t.Errorf("recipient %+v", r)
			}
			if len(res.Failed) != tc.failed || len(res.Relayed) != tc.relayed || res.Deferred != tc.deferred ||
				res.ConnFailure != tc.connFailure || res.MaxRetries != tc.retries {
				t.Errorf("result %+v", res)
			}
		})
	}
}
