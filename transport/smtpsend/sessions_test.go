package smtpsend

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
)

// TestSessionsReuse: consecutive messages through one owner share a session up to
// MaxMessagesPerConnection, as Exchange's SmtpMaxMessagesPerConnection; the session says
// QUIT once idle, and the SmtpSend log shows one session per connection.
func TestSessionsReuse(t *testing.T) {
	h := newFakeHop(t, "220 fake", nil)
	ss := NewSessions()
	defer ss.Close()
	var lines []smtpwire.LogLine
	logged := make(chan []smtpwire.LogLine, 100)
	owner := new(int)
	send := func(rcpt string) RcptResult {
		t.Helper()
		got := Deliver(context.Background(), Delivery{
			SendOptions: SendOptions{Connector: "Internet", Helo: "ex01.contoso.test", Timeout: 5 * time.Second,
				ProtocolLog: func(l []smtpwire.LogLine) { logged <- l }},
			Hosts: []string{h.addr()}, From: "a@contoso.test", Rcpts: []string{rcpt}, Content: []byte("Subject: x\r\n\r\nx\r\n"),
			Sessions: ss, Owner: owner, MaxMessagesPerConnection: 2})
		return got[0]
	}
	for i, rcpt := range []string{"b1@fabrikam.test", "b2@fabrikam.test", "b3@fabrikam.test"} {
		if r := send(rcpt); r.Code != 250 {
			t.Fatalf("message %d: %+v", i+1, r)
		}
	}
	if n := h.conns.Load(); n != 2 {
		t.Errorf("%d connections for 3 messages at 2 per connection, want 2", n)
	}
	// The second session idles, then says QUIT.
	deadline := time.Now().Add(5 * SessionIdle)
	for strings.Count(strings.Join(h.commands(), "|"), "QUIT") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	want := "EHLO ex01.contoso.test|MAIL FROM:<a@contoso.test>|RCPT TO:<b1@fabrikam.test>|DATA|MAIL FROM:<a@contoso.test>|RCPT TO:<b2@fabrikam.test>|DATA|QUIT|" +
		"EHLO ex01.contoso.test|MAIL FROM:<a@contoso.test>|RCPT TO:<b3@fabrikam.test>|DATA|QUIT"
	if got := strings.Join(h.commands(), "|"); got != want {
		t.Errorf("commands\n %s\nwant\n %s", got, want)
	}
	for len(logged) > 0 {
		lines = append(lines, <-logged...)
	}
	sessions := map[string]int{}
	for _, l := range lines {
		if l.Event == '+' || l.Event == '-' {
			sessions[l.Session+string(l.Event)]++
		}
	}
	if len(sessions) != 4 {
		t.Errorf("the SmtpSend log shows %v, want two sessions, each with one + and one - line", sessions)
	}
}

// TestSessionsStale: a pooled session the next hop closed meanwhile is not the message's
// failure: a new session carries it.
func TestSessionsStale(t *testing.T) {
	h := newFakeHop(t, "220 fake", map[string]string{"RCPT TO:<last@fabrikam.test>": "DROP"})
	ss := NewSessions()
	defer ss.Close()
	owner := new(int)
	d := func(rcpt string) Delivery {
		return Delivery{SendOptions: SendOptions{Helo: "ex01.contoso.test", Timeout: 5 * time.Second},
			Hosts: []string{h.addr()}, From: "a@contoso.test", Rcpts: []string{rcpt}, Content: []byte("x\r\n"),
			Sessions: ss, Owner: owner, MaxMessagesPerConnection: 20}
	}
	if r := Deliver(context.Background(), d("b1@fabrikam.test")); r[0].Code != 250 {
		t.Fatalf("%+v", r)
	}
	// Close the pooled session from the far side: take it, break it, and put it back.
	p := ss.take(owner, []string{h.addr()})
	if p == nil {
		t.Fatal("no pooled session after a delivered message")
	}
	p.nh.c.Close()
	ss.put(owner, p)
	if r := Deliver(context.Background(), d("b2@fabrikam.test")); r[0].Code != 250 {
		t.Fatalf("after a stale pooled session: %+v", r)
	}
	if n := h.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	// A session that broke during its transaction is not pooled again.
	if r := Deliver(context.Background(), d("last@fabrikam.test")); r[0].Code/100 != 4 {
		t.Fatalf("dropped mid-session: %+v", r)
	}
	if p := ss.take(owner, []string{h.addr()}); p != nil {
		t.Errorf("a broken session went back into the pool")
	}
}
