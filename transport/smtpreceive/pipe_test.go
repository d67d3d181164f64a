package smtpreceive

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

func TestPipe(t *testing.T) {
	c, s := Pipe(netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:2525"))
	if s.RemoteAddr().String() != "127.0.0.1:40000" || c.RemoteAddr().String() != "127.0.0.1:2525" {
		t.Errorf("addresses %s %s", s.RemoteAddr(), c.RemoteAddr())
	}
	// Both sides write more than the other reads at once, as pipelined SMTP does: buffered
	// writes must not deadlock.
	big := bytes.Repeat([]byte("x"), 100000)
	var wg sync.WaitGroup
	for _, pair := range [][2]net.Conn{{c, s}, {s, c}} {
		w, r := pair[0], pair[1]
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = w.Write(big) }()
		go func() {
			defer wg.Done()
			got := make([]byte, len(big))
			if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, big) {
				t.Errorf("read %v", err)
			}
		}()
	}
	wg.Wait()

	_ = s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	var ne net.Error
	_ = s.SetReadDeadline(time.Now())
	if _, err := s.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("a past deadline must time out at once: %v", err)
	}
	_ = s.SetReadDeadline(time.Time{})
	_, _ = c.Write([]byte("last"))
	c.Close()
	b, err := io.ReadAll(s)
	if string(b) != "last" || err != nil {
		t.Errorf("after the peer closed: %q %v", b, err)
	}
	if _, err := s.Write([]byte("x")); err == nil {
		t.Error("write to a closed peer succeeded")
	}
}

// TestPipeCloseWrite: after CloseWrite the peer reads the data, then io.EOF, and can still
// answer.
func TestPipeCloseWrite(t *testing.T) {
	a, b := Pipe(netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2"))
	defer a.Close()
	defer b.Close()
	_, _ = a.Write([]byte("hello"))
	_ = a.(interface{ CloseWrite() error }).CloseWrite()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "back" {
		t.Fatalf("read back %q, %v", buf, err)
	}
}

// TestPipeDeadlineMoves: a deadline moved later, earlier, cleared or renewed after it passed
// takes effect as set (the timer is re-armed lazily).
func TestPipeDeadlineMoves(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name     string
		sets     []time.Duration // relative to now; 0: clear
		expired  bool            // the read fails with the deadline
		earliest time.Duration   // and not before this
	}{
		{"later", []time.Duration{30 * ms, 120 * ms}, true, 110 * ms},
		{"earlier", []time.Duration{time.Hour, 30 * ms}, true, 25 * ms},
		{"cleared", []time.Duration{30 * ms, 0}, false, 0},
		{"passed then renewed", []time.Duration{-ms, 60 * ms}, true, 50 * ms},
		{"passed then cleared", []time.Duration{-ms, 0}, false, 0},
		{"moved on and on", []time.Duration{20 * ms, 40 * ms, 60 * ms, 80 * ms}, true, 70 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := Pipe(netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:2525"))
			defer c.Close()
			start := time.Now()
			for _, d := range tc.sets {
				if d == 0 {
					_ = s.SetReadDeadline(time.Time{})
				} else {
					_ = s.SetReadDeadline(time.Now().Add(d))
				}
			}
			if !tc.expired {
				time.AfterFunc(200*ms, func() { _, _ = c.Write([]byte("x")) })
			}
			_, err := s.Read(make([]byte, 1))
			took := time.Since(start)
			switch {
			case tc.expired && !errors.Is(err, os.ErrDeadlineExceeded):
				t.Fatalf("read: %v, want the deadline", err)
			case tc.expired && took < tc.earliest:
				t.Fatalf("deadline after %v, want ≥ %v", took, tc.earliest)
			case !tc.expired && (err != nil || took < 190*ms):
				t.Fatalf("read: %v after %v, want the byte after 200ms", err, took)
			}
		})
	}
}

// TestPipePeerClosed: PeerClosed tells, without waiting, an idle pipe from one whose peer
// closed (or half-closed) or wrote what nobody read, and says nothing of its own closing
// until it is closed itself.
func TestPipePeerClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(self, peer net.Conn)
		want bool
	}{
		{"idle", func(self, peer net.Conn) {}, false},
		{"peer wrote", func(self, peer net.Conn) { _, _ = peer.Write([]byte("421 4.3.2 bye\r\n")) }, true},
		{"peer wrote, read", func(self, peer net.Conn) {
			_, _ = peer.Write([]byte("250 ok\r\n"))
			_, _ = io.ReadFull(self, make([]byte, 8))
		}, false},
		{"peer closed", func(self, peer net.Conn) { peer.Close() }, true},
		{"peer half-closed", func(self, peer net.Conn) { _ = peer.(interface{ CloseWrite() error }).CloseWrite() }, true},
		{"self wrote", func(self, peer net.Conn) { _, _ = self.Write([]byte("NOOP\r\n")) }, false},
		{"self closed", func(self, peer net.Conn) { self.Close() }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			self, peer := Pipe(netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2"))
			defer self.Close()
			defer peer.Close()
			tc.do(self, peer)
			if got := self.(interface{ PeerClosed() bool }).PeerClosed(); got != tc.want {
				t.Errorf("PeerClosed = %v, want %v", got, tc.want)
			}
		})
	}
}
