package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/queue"
)

// TestTwoServersShadowKills: mail flows into both servers' frontends for mailboxes on both
// (every message leaves one recipient queued for the other server, so each gets a shadow copy)
// while one hub or the other is killed with SIGKILL, kept down past ShadowResubmitTimeSpan
// (the survivor resubmits its copies) and started again. Afterwards every message a client
// had a 250 for is in both recipients' mailboxes; copies delivered twice (the survivor's
// resubmission and the restarted primary's own) are counted and reported, never a loss.
// EXLAB_SHADOW_KILLS sets the number of kills (default 2; bench/RESULTS-shadow.md has a run
// of 20).
func TestTwoServersShadowKills(t *testing.T) {
	kills := 2
	if v := os.Getenv("EXLAB_SHADOW_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("EXLAB_SHADOW_KILLS=%q: want a number of kills", v)
		}
		kills = n
	}
	ts := startTwoServersWith(t, shadowConfig)
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		live  = map[string]*atomic.Bool{"EX01": new(atomic.Bool), "EX02": new(atomic.Bool)}
		sent  atomic.Int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	live["EX01"].Store(true)
	live["EX02"].Store(true)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				srv := []string{"EX01", "EX02"}[rand.IntN(2)]
				if !live[srv].Load() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				subject := fmt.Sprintf("load-%d-%d", w, n)
				sent.Add(1)
				if err := sendOne(ts.ip[srv]+":25", subject); err == nil {
					mu.Lock()
					acked[subject] = true
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(1000+rand.IntN(1000)) * time.Millisecond)
		victim := []string{"EX01", "EX02"}[rand.IntN(2)]
		live[victim].Store(false)
		ts.kill(victim)
		t.Logf("kill %d: %s", i+1, victim)
		// Down past the resubmit time (3 s) plus a heartbeat: the survivor takes over.
		time.Sleep(4500 * time.Millisecond)
		ts.start(victim)
		live[victim].Store(true)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	count := func(data, addr string) map[string]int {
		out, errOut, code := exlab(t, "mailbox", "list", addr, "--data", data, "--json")
		if code != 0 {
			t.Fatalf("mailbox list %s: %s", addr, errOut)
		}
		var items []queue.MailboxItem
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("mailbox list %s: %v", addr, err)
		}
		c := map[string]int{}
		for _, it := range items {
			c[it.Subject]++
		}
		return c
	}
	var lost []string
	var dups int
	deadline := time.Now().Add(60 * time.Second)
	for {
		lost, dups = lost[:0], 0
		for _, box := range []struct{ data, addr string }{{ts.data["EX01"], "administrator@contoso.test"}, {ts.data["EX02"], "user1@contoso.test"}} {
			c := count(box.data, box.addr)
			for s := range acked {
				switch {
				case c[s] == 0:
					lost = append(lost, box.addr+" "+s)
				case c[s] > 1:
					dups += c[s] - 1
				}
			}
		}
		if len(lost) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	events := map[string]int{}
	for _, srv := range []string{"EX01", "EX02"} {
		files, _ := filepath.Glob(filepath.Join(ts.data[srv], "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, ev := range []string{",HAREDIRECT,", ",HAREDIRECTFAIL,", ",HARECEIVE,", ",HADISCARD,", ",RESUBMIT,"} {
				events[strings.Trim(ev, ",")] += strings.Count(string(b), ev)
			}
		}
	}
	t.Logf("shadow kills: %d kills, %d messages sent, %d acknowledged, %d lost, %d duplicate deliveries (of %d recipient copies); "+
		"tracking: %d HAREDIRECT, %d HAREDIRECTFAIL, %d HARECEIVE, %d HADISCARD, %d RESUBMIT",
		kills, sent.Load(), len(acked), len(lost), dups, 2*len(acked),
		events["HAREDIRECT"], events["HAREDIRECTFAIL"], events["HARECEIVE"], events["HADISCARD"], events["RESUBMIT"])
	if len(lost) > 0 {
		if len(lost) > 20 {
			lost = lost[:20]
		}
		t.Errorf("acknowledged messages not delivered (first 20): %s", strings.Join(lost, ", "))
	}
	if len(acked) == 0 {
		t.Error("no message was acknowledged")
	}
}

// sendOne sends one message for a mailbox on each server, with subject, to addr.
func sendOne(addr, subject string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		return err
	}
	if err := c.Mail("sender@example.org", nil); err != nil {
		return err
	}
	for _, r := range []string{"administrator@contoso.test", "user1@contoso.test"} {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: sender@example.org\r\nSubject: %s\r\n\r\nbody\r\n", subject)
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
