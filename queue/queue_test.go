package queue

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func msg(id uint64, rcpts ...string) *Message {
	m := &Message{ID: id, MessageID: fmt.Sprintf("<%d@test>", id), From: "a@example.org", Arrived: time.Now().UTC(), HeaderEnd: 10}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, Recipient{Address: r, Status: StatusPending})
	}
	return m
}

func TestSubmitDeliverReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := s.NextID()
	id2, _ := s.NextID()
	if id2 != id1+1 || id1 < 1e14 {
		t.Fatalf("ids %d %d: want consecutive 15-digit ids", id1, id2)
	}
	body := []byte("Subject: x\r\n\r\nhello\r\n")
	m1, m2 := msg(id1, "user1@contoso.test"), msg(id2, "user1@contoso.test", "x@other.example")
	for _, m := range []*Message{m1, m2} {
		if err := s.Submit(Submission{Message: m, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	m1.Recipients[0].Status = StatusDelivered
	m1.HeaderPrefix, m1.HeaderSuffix = "Received: by hub\r\n", "X-Org: 1\r\n"
	item := MailboxItem{Mailbox: "user1@contoso.test", ID: id1, To: []string{"user1@contoso.test"},
		HeaderPrefix: m1.HeaderPrefix, HeaderSuffix: m1.HeaderSuffix, HeaderEnd: m1.HeaderEnd}
	if err := s.Apply(Update{Message: m1, Deliveries: []MailboxItem{item}}, Unsynced); err != nil {
		t.Fatal(err)
	}
	m2.Recipients[1].Status = StatusUnreachable
	if err := s.Apply(Update{Message: m2}, Unsynced); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var left []uint64
	_ = s.Messages(func(m *Message) bool { left = append(left, m.ID); return true })
	if len(left) != 1 || left[0] != id2 {
		t.Errorf("queued after reopen: %v, want only %d (the delivered one is removed)", left, id2)
	}
	if _, err := s.Body(id1); err != nil {
		t.Error("the delivered message's body is gone; its mailbox item refers to it")
	}
	items, _ := s.MailboxItems("USER1@contoso.test")
	if len(items) != 1 || items[0].ID != id1 {
		t.Fatalf("mailbox: %+v", items)
	}
	_, c, err := s.MailboxContent("user1@contoso.test", id1)
	if err != nil || string(c) != string(m1.Content(body)) {
		t.Errorf("content %q %v", c, err)
	}
	id3, _ := s.NextID()
	if id3 <= id2 {
		t.Errorf("id %d after reopen is not above %d: ids must never repeat", id3, id2)
	}
}

func TestContentInsertsHeaders(t *testing.T) {
	m := &Message{HeaderPrefix: "Received: x\r\n", HeaderSuffix: "X-A: 1\r\n", HeaderEnd: 12}
	got := string(m.Content([]byte("Subject: s\r\n\r\nbody")))
	if got != "Received: x\r\nSubject: s\r\nX-A: 1\r\n\r\nbody" {
		t.Errorf("%q", got)
	}
}

// TestCrashLosesNothingAcknowledged is RELIABILITY R2 in small: writers commit with Sync and
// record what was acknowledged; the file system is cloned as a power cut would leave it (a
// random share of unsynced data kept); every acknowledged message must be in the clone.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	for round := 0; round < 5; round++ {
		fs := vfs.NewCrashableMem()
		s, err := Open("q", Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var acked []uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					id, err := s.NextID()
					if err != nil {
						return
					}
					if err := s.Submit(Submission{Message: msg(id, "u@contoso.test"), Body: []byte("body")}); err != nil {
						return
					}
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}()
		}
		// The power cut comes after a random number of acknowledged messages (at least one, so
		// the round has something to lose), not after a fixed time.
		target := 1 + rng.IntN(40)
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= target {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("seed %d: only %d of %d messages acknowledged in 30s", seed, n, target)
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		snapshot := append([]uint64(nil), acked...)
		clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng})
		mu.Unlock()
		close(stop)
		wg.Wait()
		_ = s.Close()

		r, err := Open("q", Options{FS: clone})
		if err != nil {
			t.Fatalf("seed %d: reopen after crash: %v", seed, err)
		}
		found := map[uint64]bool{}
		_ = r.Messages(func(m *Message) bool { found[m.ID] = true; return true })
		for _, id := range snapshot {
			if !found[id] {
				t.Fatalf("seed %d round %d: acknowledged message %d lost (%d acknowledged)", seed, round, id, len(snapshot))
			}
		}
		next, _ := r.NextID()
		for _, id := range snapshot {
			if next <= id {
				t.Fatalf("seed %d: id %d handed out again after the crash", seed, next)
			}
		}
		_ = r.Close()
		t.Logf("round %d: %d acknowledged, all found", round, len(snapshot))
	}
}
