package adminapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/exlab/exlab/queue"
)

// fill stores n mailbox items without syncing (a bench fixture: Apply Unsynced, 1,000 items
// a batch): every one but two in user1's mailbox, two in administrator's, the small mailbox
// of the issue ("a mailbox holding 2" among many).
func fill(b *testing.B, a *apiServer, n int) {
	b.Helper()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var batch []queue.MailboxItem
	for i := range n {
		id, err := a.store.NextID()
		if err != nil {
			b.Fatal(err)
		}
		mb := "user1@contoso.test"
		if i == n/3 || i == 2*n/3 {
			mb = "administrator@contoso.test"
		}
		batch = append(batch, queue.MailboxItem{Mailbox: mb, ID: id, MessageID: fmt.Sprintf("<%d@example.org>", i), From: "sender@example.org",
			To: []string{mb}, Subject: fmt.Sprintf("message %d", i), Received: t0.Add(time.Duration(i) * time.Millisecond), Size: 1024})
		if len(batch) == 1000 || i == n-1 {
			m := &queue.Message{ID: id, Recipients: []queue.Recipient{{Status: queue.StatusDelivered}}}
			if err := a.store.Apply(queue.Update{Message: m, Deliveries: batch}, queue.Unsynced); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkListMailbox lists one mailbox over the API (real loopback socket, JSON decoded by
// the client) with the store holding 1,000 or 100,000 messages: the time and allocations of a
// page must not grow with the store (issue 15: under 50 ms at 100,000, memory flat).
func BenchmarkListMailbox(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		a := newAPIServer(b)
		a.c.http.Transport = nil // measure the API, not the validator
		fill(b, a, n)
		ctx := context.Background()
		for _, c := range []struct {
			name string
			f    Filter
			want int
		}{
			{"big mailbox first page", Filter{Mailbox: "user1@contoso.test"}, DefaultPageSize},
			{"small mailbox", Filter{Mailbox: "administrator@contoso.test"}, 2},
			{"small mailbox by sender", Filter{Mailbox: "administrator@contoso.test", Sender: "sender@"}, 2},
		} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					l, err := a.c.ListMessages(ctx, c.f, 0, "")
					if err != nil || len(l.Messages) != c.want {
						b.Fatalf("%d messages, %v", len(l.Messages), err)
					}
				}
			})
		}
	}
}
