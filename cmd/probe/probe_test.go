package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exlab/exlab/bench"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpreceive"
)

func TestTargets(t *testing.T) {
	org := config.Default()
	srv := &org.Servers[0]
	show := func(ts []Target) string {
		var out []string
		for _, t := range ts {
			var names []string
			for _, rc := range t.Connectors {
				names = append(names, rc.Name)
			}
			out = append(out, t.Addr.String()+"="+strings.Join(names, "+"))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name   string
		host   string
		ports  []int
		offset int
		want   string
	}{
		{"the configuration", "", nil, 0, "127.0.0.1:25=Default Frontend EX01 127.0.0.1:587=Client Frontend EX01 " +
			"127.0.0.1:717=Outbound Proxy Frontend EX01 127.0.0.1:2525=Default EX01 127.0.0.1:465=Client Proxy EX01 " +
			"127.0.0.1:475=Default Mailbox Delivery EX01 127.0.0.1:476=Mailbox Transport 476 EX01 127.0.0.1:477=Mailbox Transport 477 EX01"},
		{"shifted", "", nil, 10000, "127.0.0.1:10025=Default Frontend EX01 127.0.0.1:10587=Client Frontend EX01 " +
			"127.0.0.1:10717=Outbound Proxy Frontend EX01 127.0.0.1:12525=Default EX01 127.0.0.1:10465=Client Proxy EX01 " +
			"127.0.0.1:10475=Default Mailbox Delivery EX01 127.0.0.1:10476=Mailbox Transport 476 EX01 127.0.0.1:10477=Mailbox Transport 477 EX01"},
		{"Mailbox Delivery by port", "", []int{10475}, 10000, "127.0.0.1:10475=Default Mailbox Delivery EX01"},
		{"ports given", "", []int{10587, 9999}, 10000, "127.0.0.1:10587=Client Frontend EX01 127.0.0.1:9999="},
		{"another host", "192.0.2.7", []int{25}, 0, "192.0.2.7:25=Default Frontend EX01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := Targets(org, srv, tc.host, tc.ports, tc.offset)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(ts); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := Targets(org, srv, "not-an-address", []int{25}, 0); err == nil {
		t.Error("a bad --host was accepted")
	}
}

// fakeSMTP listens on 127.0.0.1:0 and answers session i with replies[i % len(replies)]: a
// banner and an EHLO reply, as whole lines.
func fakeSMTP(t *testing.T, replies ...[2]string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r := replies[int(n.Add(1)-1)%len(replies)]
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				fmt.Fprint(c, r[0]+"\r\n")
				_, _ = br.ReadString('\n')
				fmt.Fprint(c, r[1]+"\r\n")
				_, _ = br.ReadString('\n')
				fmt.Fprint(c, "221 2.0.0 Service closing transmission channel\r\n")
			}()
		}
	}()
	return l.Addr().String()
}

func TestCheck(t *testing.T) {
	org := config.Default()
	srv := &org.Servers[0]
	var rc *config.ReceiveConnector
	for i := range org.ReceiveConnectors {
		if org.ReceiveConnectors[i].Name == "Default Frontend EX01" {
			rc = &org.ReceiveConnectors[i]
		}
	}
	banner := smtpreceive.Banner(rc, time.Now()).Text
	ehlo := smtpreceive.EhloReply(rc, smtpreceive.EhloParams{Version: srv.Version, HasCert: true}, "127.0.0.1").Text
	noTLS := strings.Replace(ehlo, "250-STARTTLS\r\n", "", 1)
	postfix := [2]string{"220 mail.example.org ESMTP Postfix", "250-mail.example.org\r\n250 PIPELINING"}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name      string
		addr      string
		connector bool // the Default Frontend connector is configured there
		listening bool
		listeners int
		problems  []string
	}{
		{"the connector itself", fakeSMTP(t, [2]string{banner, ehlo}), true, true, 1, nil},
		{"someone else", fakeSMTP(t, postfix), true, true, 1, []string{`banner is not this connector's: "220 mail.example.org ESMTP Postfix"`}},
		{"no STARTTLS", fakeSMTP(t, [2]string{banner, noTLS}), true, true, 1, []string{"EHLO is not this connector's: ",
			"TLS not offered (no STARTTLS; a certificate problem, Event 12014)"}},
		{"a shared binding", fakeSMTP(t, [2]string{banner, ehlo}, postfix), true, true, 2, []string{
			"2 different listeners answer on this port (a shared binding: sessions go to one or the other)",
			`banner is not this connector's: "220 mail.example.org ESMTP Postfix"`}},
		{"no connector configured", fakeSMTP(t, postfix), false, true, 1, nil},
		{"not listening", closedAddr, true, false, 0, []string{"not listening: not listening (connection refused)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := Target{Addr: netip.MustParseAddrPort(tc.addr)}
			if tc.connector {
				tg.Connectors = []*config.ReceiveConnector{rc}
			}
			r := Check(context.Background(), org, srv, tg, 4, 2*time.Second)
			if r.Listening != tc.listening || len(r.Listeners) != tc.listeners || r.Sessions != 4 {
				t.Errorf("listening %v, %d listeners, %d sessions: %+v", r.Listening, len(r.Listeners), r.Sessions, r)
			}
			if tc.connector != (r.Connector == `EX01\Default Frontend EX01`) {
				t.Errorf("connector %q", r.Connector)
			}
			if tc.listening && r.Answered != 4 {
				t.Errorf("answered %d of 4", r.Answered)
			}
			if len(r.Problems) != len(tc.problems) {
				t.Fatalf("problems %q, want %q", r.Problems, tc.problems)
			}
			for i, p := range tc.problems {
				if !strings.HasPrefix(r.Problems[i], p) {
					t.Errorf("problem %d: %q, want %q…", i, r.Problems[i], p)
				}
			}
		})
	}
}

func TestJudgeFailedSessions(t *testing.T) {
	ok := bench.Observation{Banner: "220 x", Ehlo: []string{"x Hello", "PIPELINING"}}
	r := Judge("127.0.0.1:25", nil, []bench.Observation{ok, {Err: "no banner: EOF"}, ok})
	if !r.Listening || r.Answered != 2 || r.Sessions != 3 || strings.Join(r.Problems, ";") != "1 of 3 sessions failed" {
		t.Errorf("one session of three failed: %+v", r)
	}
	if r := Judge("127.0.0.1:25", nil, nil); r.Listening || len(r.Problems) != 0 {
		t.Errorf("no sessions: %+v", r)
	}
}
