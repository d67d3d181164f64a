package transport

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// scriptedMailboxDelivery is a stand-in for Mailbox Delivery on 475: each session greets,
// offers PIPELINING and CHUNKING, takes any X-EXPS answer, and answers every message with
// final(session, message) after MAIL and RCPT; end(session, message) says whether to drop the
// session after that message.
type scriptedMailboxDelivery struct {
	sessions atomic.Int32
	final    func(session, message int) string
	end      func(session, message int) bool
	wg       sync.WaitGroup
}

func (s *scriptedMailboxDelivery) dial(ctx context.Context) (net.Conn, error) {
	client, server := smtpreceive.Pipe(netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:475"))
	n := int(s.sessions.Add(1))
	s.wg.Add(1)
	go s.serve(server, n)
	return client, nil
}

func (s *scriptedMailboxDelivery) serve(c net.Conn, session int) {
	defer s.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	say := func(lines ...string) { io.WriteString(c, strings.Join(lines, "\r\n")+"\r\n") }
	say("220 ex01.contoso.test MICROSOFT ESMTP MAIL SERVICE READY")
	for msg := 1; ; {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSpace(line)
		switch f := strings.Fields(line); {
		case strings.HasPrefix(line, "EHLO"):
			say("250-ex01.contoso.test Hello", "250-PIPELINING", "250 CHUNKING")
		case strings.HasPrefix(line, "X-EXPS"):
			say("334 " + base64.StdEncoding.EncodeToString([]byte("challenge")))
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
			say("235 2.7.0 Authentication successful")
		case strings.HasPrefix(line, "MAIL"), strings.HasPrefix(line, "RCPT"):
			say("250 2.0.0 OK")
		case len(f) == 3 && f[0] == "BDAT":
			n, _ := strconv.Atoi(f[1])
			if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
				return
			}
			if r := s.final(session, msg); r != "" {
				say(r)
			} else {
				return // dropped after the body, before any reply
			}
			if s.end(session, msg) {
				return
			}
			msg++
		case line == "QUIT":
			say("221 2.0.0 Service closing transmission channel")
			return
		}
	}
}

func newScriptedClient(s *scriptedMailboxDelivery) *mbxClient {
	return newMbxClient(MailboxDelivery{Dial: s.dial, Addr: func() string { return "127.0.0.1:475" }, PoolSize: 4},
		"ex01.contoso.test", []byte("k"), 5*time.Second, 5*time.Second)
}

// TestMailboxDeliveryPool: the hub's pool of 475 sessions never reuses one the service ended
// (a 421) and sends a message again on a new session when a pooled one turns out to be gone
// before anything was answered; a session that answered is reused.
func TestMailboxDeliveryPool(t *testing.T) {
	m := &queue.Message{ID: 1, From: "a@example.org"}
	body := []byte("Subject: x\r\n\r\nhello\r\n")
	for _, tc := range []struct {
		name     string
		final    func(session, message int) string
		end      func(session, message int) bool
		sessions int32
		codes    []int
	}{
		{"reused", func(int, int) string { return "250 2.6.0 queued" }, func(int, int) bool { return false }, 1, []int{250, 250, 250}},
		{"421 ends the session", func(s, m int) string {
			if m == 1 {
				return "421 4.4.1 Connection timed out. Total session duration: 00:10:00.0000000"
			}
			return "250 2.6.0 queued"
		}, func(s, m int) bool { return m == 1 }, 3, []int{421, 421, 421}},
		{"a pooled session gone is replaced", func(int, int) string { return "250 2.6.0 queued" },
			func(s, m int) bool { return m == 1 }, 3, []int{250, 250, 250}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scriptedMailboxDelivery{final: tc.final, end: tc.end}
			c := newScriptedClient(s)
			var codes []int
			for i := 0; i < 3; i++ {
				reps, err := c.deliver(context.Background(), m, body, []string{"user1@contoso.test"})
				if err != nil {
					t.Fatalf("message %d: %v", i+1, err)
				}
				codes = append(codes, reps[0].code)
				time.Sleep(20 * time.Millisecond) // let a dropped session's close arrive
			}
			c.close()
			s.wg.Wait()
			if got := s.sessions.Load(); got != tc.sessions || !slices.Equal(codes, tc.codes) {
				t.Errorf("%d sessions, finals %v; want %d sessions, finals %v", got, codes, tc.sessions, tc.codes)
			}
		})
	}
}

// TestMailboxDeliveryDroppedMidway: a session that breaks after MAIL and RCPT were answered and
// the body was sent, before the final reply, is not tried again (the service may have stored
// the message): deliver reports the error, and the hub defers the recipients with X21 and keeps
// the message, as TestMailboxDeliveryQueueWhileDown shows for a service that is down.
func TestMailboxDeliveryDroppedMidway(t *testing.T) {
	s := &scriptedMailboxDelivery{
		final: func(session, message int) string {
			if session == 1 && message == 1 {
				return "250 2.6.0 queued"
			}
			return "" // dropped after the body
		},
		end: func(int, int) bool { return false },
	}
	c := newScriptedClient(s)
	m := &queue.Message{ID: 1, From: "a@example.org"}
	body := []byte("Subject: x\r\n\r\nhello\r\n")
	if reps, err := c.deliver(context.Background(), m, body, []string{"user1@contoso.test"}); err != nil || reps[0].code != 250 {
		t.Fatalf("first message: %v %v", reps, err)
	}
	if _, err := c.deliver(context.Background(), m, body, []string{"user1@contoso.test"}); err == nil {
		t.Fatal("a session dropped before any reply was taken for a delivery")
	}
	c.close()
	s.wg.Wait()
	if got := s.sessions.Load(); got != 1 {
		t.Errorf("%d sessions, want 1: a delivery the service answered in part is not sent again", got)
	}
}
