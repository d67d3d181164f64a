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
