package queue

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// deliverTo stores one message for mailboxes as the Mailbox Delivery service does (every
// recipient delivered, one item per mailbox, one synced Submit).
func deliverTo(t *testing.T, s *Store, mailboxes ...string) uint64 {
	t.Helper()
	id, err := s.NextID()
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{ID: id, Arrived: time.Now().UTC()}
	var items []MailboxItem
	for _, mb := range mailboxes {
		m.Recipients = append(m.Recipients, Recipient{Address: mb, Status: StatusDelivered, Mailbox: mb})
		items = append(items, MailboxItem{Mailbox: mb, ID: id, To: []string{mb}})
	}
	if err := s.Submit(Submission{Message: m, Body: []byte("Subject: x\r\n\r\nbody\r\n"), Deliveries: items}); err != nil {
		t.Fatal(err)
	}
	return id
}

func keysOf(t *testing.T, s *Store, mailbox string, after ItemKey, limit int) []string {
	t.Helper()
	var out []string
	err := s.ScanMailboxItems(mailbox, after, func(it MailboxItem) bool {
		out = append(out, fmt.Sprintf("%s/%d", it.Mailbox, it.ID))
		return len(out) < limit
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScanMailboxItemsMergesNewestFirst(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b, c := "a@x.test", "B@x.test", "c@x.test"
	i1 := deliverTo(t, s, a)
	i2 := deliverTo(t, s, a, b, c)
	i3 := deliverTo(t, s, c)
	if mbs, err := s.Mailboxes(); err != nil || fmt.Sprint(mbs) != "[a@x.test b@x.test c@x.test]" {
		t.Errorf("Mailboxes: %v %v", mbs, err)
	}
	all := []string{fmt.Sprintf("c@x.test/%d", i3), fmt.Sprintf("a@x.test/%d", i2), fmt.Sprintf("B@x.test/%d", i2),
		fmt.Sprintf("c@x.test/%d", i2), fmt.Sprintf("a@x.test/%d", i1)}
	cases := []struct {
		name    string
		mailbox string
		after   ItemKey
		want    []string
	}{
		{"every mailbox", "", ItemKey{}, all},
		{"after an item sharing its id", "", ItemKey{Mailbox: "a@x.test", ID: i2}, all[2:]},
		{"after the second of an id", "", ItemKey{Mailbox: "b@x.test", ID: i2}, all[3:]},
		{"after the last", "", ItemKey{Mailbox: "a@x.test", ID: i1}, nil},
		{"one mailbox, any case", "A@X.TEST", ItemKey{}, []string{all[1], all[4]}},
		{"one mailbox after a cursor", "c@x.test", ItemKey{Mailbox: "c@x.test", ID: i3}, []string{all[3]}},
		{"a mailbox that holds nothing", "d@x.test", ItemKey{}, nil},
	}
	for _, tc := range cases {
		if got := keysOf(t, s, tc.mailbox, tc.after, 100); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := keysOf(t, s, "", ItemKey{}, 2); len(got) != 2 {
		t.Errorf("stopping early: %v", got)
	}
	if items, err := s.ItemsByID(i2); err != nil || len(items) != 3 {
		t.Errorf("ItemsByID: %v %v", items, err)
	}
}

func TestDeleteMailboxItemsKeepsReferencedBodies(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shared := deliverTo(t, s, "a@x.test", "b@x.test")
	// A message delivered to one mailbox with a recipient still queued: its record needs the body.
	queued, _ := s.NextID()
	m := msg(queued, "a@x.test", "far@other.example")
	m.Recipients[0].Status, m.Recipients[0].Mailbox = StatusDelivered, "a@x.test"
	if err := s.Submit(Submission{Message: m, Body: []byte("x"), Deliveries: []MailboxItem{{Mailbox: "a@x.test", ID: queued}}}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		keys       []ItemKey
		n          int
		body       uint64
		bodyExists bool
	}{
		{[]ItemKey{{"A@x.test", shared}}, 1, shared, true},         // b@ still holds it
		{[]ItemKey{{"a@x.test", shared}}, 0, shared, true},         // gone already
		{[]ItemKey{{"b@x.test", shared}}, 1, shared, false},        // the last copy
		{[]ItemKey{{"a@x.test", queued}}, 1, queued, true},         // the queue record keeps it
		{[]ItemKey{{"x@x.test", 1}, {"y@x.test", 2}}, 0, 0, false}, // nothing there
	}
	for i, st := range steps {
		n, err := s.DeleteMailboxItems(st.keys)
		if err != nil || n != st.n {
			t.Errorf("step %d: deleted %d, %v; want %d", i, n, err, st.n)
		}
		if st.body == 0 {
			continue
		}
		if _, err := s.Body(st.body); (err == nil) != st.bodyExists || err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("step %d: body %d: %v, want exists %v", i, st.body, err, st.bodyExists)
		}
	}
}

func TestWatchSeesCommittedDeliveries(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deliverTo(t, s, "a@x.test") // nobody watches: nothing to see later
	ch, lost, cancel := s.Watch(1)
	id := deliverTo(t, s, "a@x.test", "b@x.test") // two items, buffer of one
	if it := <-ch; it.ID != id || it.Mailbox != "a@x.test" {
		t.Errorf("first item: %+v", it)
	}
	if !lost() {
		t.Error("the second item did not fit, but lost() is false")
	}
	cancel()
	cancel() // twice is fine
	deliverTo(t, s, "a@x.test")
	select {
	case it := <-ch:
		t.Errorf("after cancel: %+v", it)
	default:
	}
	if n := s.watch.n.Load(); n != 0 {
		t.Errorf("%d watchers left", n)
	}
}

func TestTrimMailboxes(t *testing.T) {
	base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		keep   int
		cutoff time.Time
		want   string // what is left: a's ids, then b's (1..5 in delivery order; 3 is in both)
		gone   int
	}{
		{"no bound", 0, time.Time{}, "a[1 2 3 4] b[3 5]", 0},
		{"keep 2", 2, time.Time{}, "a[3 4] b[3 5]", 2},
		{"keep 1", 1, time.Time{}, "a[4] b[5]", 4},
		{"older than the third minute", 0, base.Add(3 * time.Minute), "a[3 4] b[3 5]", 2},
		{"both", 1, base.Add(2 * time.Minute), "a[4] b[5]", 4},
		{"a cutoff before everything", 0, base, "a[1 2 3 4] b[3 5]", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ids := map[uint64]int{}
			for i, mbs := range [][]string{{"a@x.test"}, {"a@x.test"}, {"a@x.test", "b@x.test"}, {"a@x.test"}, {"b@x.test"}} {
				id, err := s.NextID()
				if err != nil {
					t.Fatal(err)
				}
				ids[id] = i + 1
				at := base.Add(time.Duration(i+1) * time.Minute)
				m := &Message{ID: id, Arrived: at}
				var items []MailboxItem
				for _, mb := range mbs {
					m.Recipients = append(m.Recipients, Recipient{Address: mb, Status: StatusDelivered, Mailbox: mb})
					items = append(items, MailboxItem{Mailbox: mb, ID: id, To: []string{mb}, Received: at})
				}
				if err := s.Submit(Submission{Message: m, Body: []byte("Subject: x\r\n\r\nbody\r\n"), Deliveries: items}); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.TrimMailboxes(c.keep, c.cutoff)
			if err != nil || n != c.gone {
				t.Errorf("removed %d (%v), want %d", n, err, c.gone)
			}
			left := ""
			for _, mb := range []string{"a@x.test", "b@x.test"} {
				var got []int
				_ = s.ScanMailboxItems(mb, ItemKey{}, func(it MailboxItem) bool {
					got = append([]int{ids[it.ID]}, got...)
					// The body of every item left is still there.
					if _, _, err := s.MailboxContent(mb, it.ID); err != nil {
						t.Errorf("%s/%d: %v", mb, it.ID, err)
					}
					return true
				})
				left += fmt.Sprintf(" %s%v", mb[:1], got)
			}
			if left[1:] != c.want {
				t.Errorf("left %s, want %s", left[1:], c.want)
			}
		})
	}
}
