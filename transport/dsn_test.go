package transport

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpwire"
)

var update = flag.Bool("update", false, "rewrite testdata/dsn/*.golden from the DSN writer's output")

// TestDSNGolden renders one DSN of each kind Exchange sends and compares it byte for byte with
// testdata/dsn/<name>.golden (go test ./transport -run DSNGolden -update rewrites them). The
// GUIDs count up and the clock and time zone are fixed, so the output is stable.
func TestDSNGolden(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	arrived := time.Date(2024, 3, 13, 9, 1, 17, 0, time.UTC)
	now := arrived.Add(4*time.Hour + 3*time.Minute)
	body := []byte("Received: from mta.example (203.0.113.7) by ex01.contoso.test\r\nFrom: <sender@example.org>\r\n" +
		"To: <rcpt@contoso.test>\r\nSubject: Quarterly figures\r\nMessage-ID: <q1@example.org>\r\n\r\nThe figures.\r\n")
	msg := func(ret string, rcpts ...queue.Recipient) *queue.Message {
		return &queue.Message{ID: 100, MessageID: "<q1@example.org>", From: "sender@example.org", Subject: "Quarterly figures",
			Arrived: arrived, LastRetryTime: now.Add(-5 * time.Minute), ClientHostname: "mta.example", Return: ret,
			EnvelopeID: "env-1", Size: int64(len(body)), Recipients: rcpts}
	}
	rcpt := func(addr, lastError, host string) queue.Recipient {
		return queue.Recipient{Address: addr, Status: queue.StatusFailed, LastError: lastError, LastHost: host}
	}
	fabrikam5xx := "550 5.1.1 <b@fabrikam.example>: Recipient address rejected: User unknown in virtual mailbox table"
	for _, tc := range []struct {
		name  string
		kind  dsnKind
		ret   string
		rcpts []queue.Recipient
	}{
		{"ndr-recipient-not-found", dsnFailed, "", []queue.Recipient{rcpt("nobody@contoso.test", smtpwire.Fixed(smtpwire.R74).Text, "")}},
		{"ndr-size-limit", dsnFailed, "HDRS", []queue.Recipient{rcpt("b@fabrikam.example", smtpwire.Fixed("X10").Text, "")}},
		{"ndr-expired", dsnFailed, "", []queue.Recipient{rcpt("b@fabrikam.example", expiredError, "[127.0.0.1]:2500"),
			rcpt("c@fabrikam.example", expiredError, "[127.0.0.1]:2500")}},
		{"ndr-admin-removal", dsnFailed, "", []queue.Recipient{rcpt("b@fabrikam.example", removedError, "")}},
		{"ndr-next-hop-5xx", dsnFailed, "FULL", []queue.Recipient{
			{Address: "b@fabrikam.example", Status: queue.StatusFailed, LastError: fabrikam5xx, LastHost: "[127.0.0.1]:2500",
				OrcptType: "RFC822", OrcptAddress: "B@fabrikam.example"}}},
		{"delay", dsnDelayed, "", []queue.Recipient{{Address: "b@fabrikam.example", Status: queue.StatusPending, RetryCount: 3,
			LastHost: "[127.0.0.1]:2500", LastError: "451 4.4.0 Primary target IP address responded with: \"421 4.3.2 Service not available.\" " +
				"Attempted failover to alternate host, but that did not succeed. Either there are no alternate hosts, or delivery failed to " +
				"all alternate hosts. The last endpoint attempted was [127.0.0.1]:2500"}}},
		{"delivered", dsnDelivered, "", []queue.Recipient{{Address: "user1@contoso.test", Status: queue.StatusDelivered,
			Mailbox: "user1@contoso.test", Notify: []string{"SUCCESS"}}}},
		{"relayed", dsnRelayed, "", []queue.Recipient{{Address: "b@fabrikam.example", Status: queue.StatusDelivered,
			LastHost: "[127.0.0.1]:2500", Notify: []string{"SUCCESS", "FAILURE"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := msg(tc.ret, tc.rcpts...)
			notify := dsnOwed(m, tc.rcpts, tc.kind)
			if len(notify) != len(tc.rcpts) {
				t.Fatalf("owed to %d of %d recipients", len(notify), len(tc.rcpts))
			}
			n := 0
			dw := dsnWriter{Fqdn: "ex01.contoso.test", Domain: "contoso.test", Expiration: 48 * time.Hour, Loc: loc,
				NewGUID: func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }}
			got := dw.write(m, body, notify, tc.kind, now, 200)
			if got.Message.ID != 200 || !got.Message.IsDSN || got.Message.From != "" ||
				len(got.Message.Recipients) != 1 || got.Message.Recipients[0].Address != "sender@example.org" ||
				got.Message.Size != int64(len(got.Body)) || got.Message.Subject != dsnKinds[tc.kind].subject+"Quarterly figures" {
				t.Errorf("message %+v", got.Message)
			}
			path := filepath.Join("testdata", "dsn", tc.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got.Body, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got.Body) != string(want) {
				t.Errorf("%s differs (-update rewrites it):\n%s", path, firstDiff(string(got.Body), string(want)))
			}
		})
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\r\n"), strings.Split(want, "\r\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	return "(same lines, different line ends)"
}

// TestDSNOwed is who gets a DSN of each kind (RFC 3461 NOTIFY; a null sender or a DSN gets none).
func TestDSNOwed(t *testing.T) {
	r := func(notify ...string) queue.Recipient { return queue.Recipient{Address: "x@y", Notify: notify} }
	for _, tc := range []struct {
		from  string
		isDSN bool
		rcpt  queue.Recipient
		kind  dsnKind
		owed  bool
	}{
		{"s@x", false, r(), dsnFailed, true},
		{"s@x", false, r(), dsnDelayed, true},
		{"s@x", false, r(), dsnDelivered, false},
		{"s@x", false, r("SUCCESS"), dsnDelivered, true},
		{"s@x", false, r("SUCCESS"), dsnFailed, false},
		{"s@x", false, r("FAILURE", "DELAY"), dsnDelayed, true},
		{"s@x", false, r("NEVER"), dsnFailed, false},
		{"", false, r(), dsnFailed, false},
		{"s@x", true, r(), dsnFailed, false},
	} {
		m := &queue.Message{From: tc.from, IsDSN: tc.isDSN}
		if got := len(dsnOwed(m, []queue.Recipient{tc.rcpt}, tc.kind)) == 1; got != tc.owed {
			t.Errorf("from %q dsn %v notify %v kind %d: owed %v, want %v", tc.from, tc.isDSN, tc.rcpt.Notify, tc.kind, got, tc.owed)
		}
	}
}
