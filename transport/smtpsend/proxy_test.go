package smtpsend

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
)

// scriptedHub answers X-EXPS GSSAPI with challenge "challenge" and accepts only the proof for
// the key "k" (smtpwire.ExchangeAuthResponse).
func scriptedHub(t *testing.T, extra map[string]string) *fakeHop {
	reply := map[string]string{"X-EXPS": "334 Y2hhbGxlbmdl", base64.StdEncoding.EncodeToString(smtpwire.ExchangeAuthResponse([]byte("k"), []byte("challenge"))): "235 2.7.0 Authentication successful"}
	for k, v := range extra {
		reply[k] = v
	}
	return newFakeHop(t, "220 ex02.contoso.test Microsoft ESMTP MAIL Service ready", reply)
}

func testProxy(addr string) *Proxy {
	return &Proxy{Addr: func() string { return addr }, HeloName: "ex01.contoso.test", AuthKey: []byte("k"),
		ConnectTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second, PoolSize: 2, IdleTimeout: time.Minute}
}

var proxyEnv = &Envelope{ProxyFrom: `SID=08DC1 IP=192.0.2.1 PORT=40000 DOMAIN=client.example SEQNUM=0 PERMS=1 AUTHSRC=Anonymous`,
	From: "a@example.org", Recipients: []Recipient{{Address: "user1@contoso.test"}}}

// TestProxyRelaysTheTransaction: envelope, dot-stuffed body and the hub's own 250 come back.
func TestProxyRelaysTheTransaction(t *testing.T) {
	h := scriptedHub(t, nil)
	p := testProxy(h.addr())
	defer p.Close()
	tx, err := p.Begin(context.Background(), proxyEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Write([]byte("Subject: x\r\n\r\n.dot\r\n")); err != nil {
		t.Fatal(err)
	}
	r, err := tx.End()
	if err != nil || r.Code != 250 || r.Text != "2.6.0 <q1@fake.test> Queued mail for delivery" {
		t.Fatalf("End: %+v, %v", r, err)
	}
	h.received(t, []string{"X-EXPS GSSAPI", "XPROXYFROM " + proxyEnv.ProxyFrom, "MAIL FROM:<a@example.org>", "RCPT TO:<user1@contoso.test>", "DATA"},
		"Subject: x\r\n\r\n..dot\r\n")
}

// TestProxyFailures: each way the hop fails is its PRX code and step, and a hub's refusal is
// handed back unchanged with no PRX code.
func TestProxyFailures(t *testing.T) {
	tests := []struct {
		name string
		p    func(t *testing.T) *Proxy
		prx  int
		step string
		hub  string // the hub's reply handed back, if any
	}{
		{"no hub known", func(t *testing.T) *Proxy { return testProxy("") }, PRXNoDestination, "connect", ""},
		{"hub down", func(t *testing.T) *Proxy { return testProxy(closedAddr(t)) }, PRXConnect, "connect", ""},
		{"X-EXPS refused", func(t *testing.T) *Proxy {
			return testProxy(scriptedHub(t, map[string]string{"X-EXPS": "504 5.7.4 Unrecognized authentication type"}).addr())
		}, PRXSessionSetup, "auth", ""},
		{"wrong X-EXPS response", func(t *testing.T) *Proxy {
			p := testProxy(scriptedHub(t, nil).addr())
			p.AuthKey = []byte("other")
			return p
		}, PRXSessionSetup, "auth", ""},
		{"message refused", func(t *testing.T) *Proxy {
			return testProxy(scriptedHub(t, map[string]string{".": "554 5.6.0 Invalid message content"}).addr())
		}, 0, "end-of-data", "5.6.0 Invalid message content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p(t)
			defer p.Close()
			tx, err := p.Begin(context.Background(), proxyEnv)
			if err == nil {
				if _, err = tx.Write([]byte("Subject: x\r\n\r\nbody\r\n")); err == nil {
					_, err = tx.End()
				}
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a proxy *Error", err)
			}
			if pe.PRX != tt.prx || pe.Step != tt.step {
				t.Errorf("got PRX%d at %s (%v), want PRX%d at %s", pe.PRX, pe.Step, pe, tt.prx, tt.step)
			}
			if tt.hub != "" && (pe.Hub == nil || pe.Hub.Text != tt.hub || pe.Hub.Code != 554) {
				t.Errorf("hub reply %+v, want 554 %s", pe.Hub, tt.hub)
			}
		})
	}
}

// answeringPipe stands for smtpreceive.Pipe's end, which says itself whether its peer closed.
type answeringPipe struct {
	net.Conn
	closed bool
}

func (p answeringPipe) PeerClosed() bool { return p.closed }

// TestPeerClosedAsksThePipe: a pooled in-process pipe is asked directly, even when the pool
// would take a recently used socket as open, and through the protocol log's wrapper.
func TestPeerClosedAsksThePipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	for _, tc := range []struct {
		name       string
		c          net.Conn
		assumeOpen bool
		closed     bool
		known      bool
	}{
		{"open pipe", answeringPipe{Conn: a}, false, false, true},
		{"closed pipe", answeringPipe{Conn: a, closed: true}, false, true, true},
		{"closed pipe used a moment ago", answeringPipe{Conn: a, closed: true}, true, true, true},
		{"closed pipe under the protocol log", &logConn{Conn: answeringPipe{Conn: a, closed: true}}, true, true, true},
		{"net.Pipe: unknown", a, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed, known := peerGone(tc.c, tc.assumeOpen)
			if closed != tc.closed || known != tc.known {
				t.Errorf("peerGone = %v, %v; want %v, %v", closed, known, tc.closed, tc.known)
			}
		})
	}
}
