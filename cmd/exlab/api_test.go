package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
)

// TestAPIv1EndToEnd drives /api/v1 of the real binary: a wait and an event stream opened
// before the delivery, the parsed message, its tracking events, and exlab mailbox list/clear
// through the API and, once the server stopped, in its data directory.
func TestAPIv1EndToEnd(t *testing.T) {
	// The tracking log outside the data directory (MessageTrackingLogPath): exlab tracking
	// search finds it only through the running server.
	trackDir := t.TempDir()
	s := startServer(t, labConfig(func(y string) string {
		y = strings.Replace(y, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n    MessageTrackingLogPath: "+trackDir+
			"\n    MailboxDeliveryConnectorProtocolLoggingLevel: Verbose", 1)
		// The hub's Default connector logs too, so every receiving hop has a session.
		i := strings.Index(y, "  - Name: Default EX01")
		j := i + strings.Index(y[i:], "    ProtocolLoggingLevel: None")
		return y[:j] + "    ProtocolLoggingLevel: Verbose" + y[j+len("    ProtocolLoggingLevel: None"):]
	}), "", "--admin-token", "lab-token-1")
	if b, _ := os.ReadFile(filepath.Join(s.data, adminapi.TokenFile)); strings.TrimSpace(string(b)) != "lab-token-1" {
		t.Errorf("admin.token holds %q, not the --admin-token", b)
	}
	c := adminapi.Dial(s.data)
	if c == nil {
		t.Fatal("no admin listener")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The event stream, opened before the delivery.
	addr, _ := os.ReadFile(filepath.Join(s.data, adminapi.AddrFile))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+strings.TrimSpace(string(addr))+adminapi.PathV1Events, nil)
	req.Header.Set("Authorization", "Bearer lab-token-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %v %v", resp, err)
	}
	defer resp.Body.Close()
	events := make(chan string, 4)    // data of delivery events
	exchange := make(chan string, 4)  // data of Exchange events
	tracking := make(chan string, 64) // data of tracking events
	go func() {
		sc := bufio.NewScanner(resp.Body)
		kind := ""
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				kind = k
			}
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				switch kind {
				case "exchange":
					exchange <- d
				case "tracking":
					select {
					case tracking <- d:
					default:
					}
				default:
					events <- d
				}
			}
		}
	}()
	// The wait, opened before the delivery too; the alias names the administrator's mailbox.
	waited := make(chan adminapi.MessageSummary, 1)
	waitErr := make(chan error, 1)
	go func() {
		m, err := c.WaitMessage(ctx, adminapi.Filter{Mailbox: "admin@contoso.test", Subject: "e2e api"}, 30*time.Second)
		waitErr <- err
		waited <- m
	}()
	time.Sleep(50 * time.Millisecond)
	body := "From: a@example.org\r\nTo: admin@contoso.test\r\nSubject: e2e api\r\nMessage-ID: <e2e-api-1@example.org>\r\n\r\nhello\r\n"
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"admin@contoso.test"}, body); err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; err != nil {
		t.Fatal(err)
	}
	m := <-waited
	if m.Mailbox != "administrator@contoso.test" || m.MessageID != "<e2e-api-1@example.org>" {
		t.Errorf("waited for: %+v", m)
	}
	select {
	case d := <-events:
		if !strings.Contains(d, `"MessageID":"<e2e-api-1@example.org>"`) {
			t.Errorf("event: %s", d)
		}
	case <-time.After(10 * time.Second):
		t.Error("no delivery event")
	}
	// The hub's tracking events on the same stream, as its log writes them.
	waitUntil(t, 15*time.Second, "a RECEIVE tracking event on the stream", func() bool {
		select {
		case d := <-tracking:
			return strings.Contains(d, `"event-id":"RECEIVE"`) && strings.Contains(d, `"message-id":"<e2e-api-1@example.org>"`)
		default:
			return false
		}
	})
	// An Exchange event on the same stream: Event 1003 for a configuration that does not load.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("Organization: [\n"), 0o600)
	if err := c.ApplyConfig(bad); err == nil {
		t.Error("an invalid configuration was applied")
	}
	select {
	case d := <-exchange:
		if !strings.Contains(d, `"EventID":1003`) {
			t.Errorf("exchange event: %s", d)
		}
	case <-time.After(10 * time.Second):
		t.Error("no Exchange event on the stream")
	}
	full, err := c.Message(ctx, m.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if full.Headers[0].Name != "Received" || !strings.Contains(full.Headers[0].Value, "via Mailbox Transport") || full.Root.Text == nil || *full.Root.Text != "hello\r\n" {
		t.Errorf("parsed: %+v", full)
	}
	// The hub's tracking log is written every second.
	waitUntil(t, 15*time.Second, "tracking events", func() bool {
		es, err := c.MessageTracking(ctx, m.ID, "")
		return err == nil && len(es) > 0 && es[0]["message-id"] == "<e2e-api-1@example.org>"
	})
	// Its protocol-log sessions: the frontend's, the hub's and the Mailbox Transport Delivery
	// service's, with the 250 2.6.0 that names the message; the pooled sessions' lines come
	// within a second or so although those sessions sit idle (smtpreceive's plogWait).
	waitUntil(t, 15*time.Second, "protocol-log sessions", func() bool {
		ss, err := c.MessageProtocolLog(ctx, m.ID, "")
		seen := map[string]bool{}
		for _, x := range ss {
			// From its start; the client's session has ended, the pooled hub and Mailbox
			// Delivery sessions stay open for the next message.
			whole := len(x.Lines) > 2 && x.Lines[0].Event == "+" && (x.Service != "FrontEnd" || x.Lines[len(x.Lines)-1].Event == "-")
			named := false
			for _, l := range x.Lines {
				named = named || strings.HasPrefix(l.Data, "250 2.6.0 <e2e-api-1@example.org>")
			}
			seen[x.Service+"/"+x.Log] = whole && named
		}
		return err == nil && seen["FrontEnd/SmtpReceive"] && seen["Hub/SmtpReceive"] && seen["Mailbox/SmtpReceive"]
	})
	if out, _, code := exlab(t, "tracking", "search", "--data", s.data, "--message-id", "<e2e-api-1@example.org>", "--event-id", "RECEIVE"); code != 0 || !strings.Contains(out, "RECEIVE") {
		t.Errorf("tracking search through the server: %d\n%s", code, out)
	}
	if out, _, _ := exlab(t, "mailbox", "list", "admin@contoso.test", "--data", s.data); !strings.Contains(out, "1 message(s)") || !strings.Contains(out, "e2e api") {
		t.Errorf("mailbox list:\n%s", out)
	}
	if out, _, code := exlab(t, "mailbox", "clear", "admin@contoso.test", "--data", s.data); code != 0 || out != "1 message(s) deleted\n" {
		t.Errorf("mailbox clear: %d %q", code, out)
	}
	if l, err := c.ListMessages(ctx, adminapi.Filter{}, 0, ""); err != nil || len(l.Messages) != 0 {
		t.Errorf("after clear: %+v %v", l, err)
	}

	// With the server stopped, clear works on the data directory.
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"}, body); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitMessage(ctx, adminapi.Filter{Mailbox: "user1@contoso.test"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.stop()
	if out, _, code := exlab(t, "mailbox", "clear", "--data", s.data); code != 0 || out != "1 message(s) deleted\n" {
		t.Errorf("mailbox clear of a stopped server: %d %q", code, out)
	}
	if out, _, _ := exlab(t, "mailbox", "list", "--data", s.data); !strings.Contains(out, "0 message(s)") {
		t.Errorf("mailbox list after clear:\n%s", out)
	}
}

// TestAdminBeyondLoopbackNeedsToken: exlab serve refuses an admin address beyond loopback
// without a token set explicitly (it stops before binding anything).
func TestAdminBeyondLoopbackNeedsToken(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "org.yaml")
	if err := os.WriteFile(cfg, []byte(labConfig(nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := exlab(t, "serve", "--config", cfg, "--data", t.TempDir(), "--admin", "0.0.0.0:0")
	if code != 1 || !strings.Contains(errOut, "--admin 0.0.0.0:0 listens beyond loopback: set the admin token explicitly (--admin-token or EXLAB_ADMIN_TOKEN)") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

// TestAPIv1DeleteDuringDelivery empties every mailbox again and again while a client sends
// through the real binary: afterwards every message still listed reads whole (nothing half
// deleted), and every message sent was either deleted or is still there.
func TestAPIv1DeleteDuringDelivery(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	c := adminapi.Dial(s.data)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const n = 40
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			body := "From: a@example.org\r\nSubject: race " + strconv.Itoa(i) + "\r\n\r\nx\r\n"
			if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test", "admin@contoso.test"}, body); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	deleted := 0
	for done := false; !done; {
		select {
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		k, err := c.DeleteMessages(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		deleted += k
	}
	// The hub may still be handing the last messages to Mailbox Delivery.
	var left []adminapi.MessageSummary
	waitUntil(t, 20*time.Second, "every item deleted or stored", func() bool {
		var err error
		left, err = c.AllMessages(ctx, adminapi.Filter{})
		return err == nil && deleted+len(left) >= 2*n
	})
	for _, m := range left {
		if raw, err := c.RawMessage(ctx, m.ID, m.Mailbox); err != nil || !strings.Contains(string(raw), "Subject: race") {
			t.Errorf("%s/%d does not read whole: %v", m.Mailbox, m.ID, err)
		}
	}
	if deleted+len(left) != 2*n {
		t.Errorf("deleted %d + left %d, want %d items", deleted, len(left), 2*n)
	}
}

// TestMailboxRetention: MaxMessagesPerMailbox keeps the newest messages of each mailbox and
// MessageRetention removes the old ones, while the server runs; exlab config apply changes them.
func TestMailboxRetention(t *testing.T) {
	cfg := labConfig(func(y string) string {
		return strings.Replace(y, "  Name: Contoso Lab\n", "  Name: Contoso Lab\n  MaxMessagesPerMailbox: 3\n", 1)
	})
	s := startServer(t, cfg, "")
	c := adminapi.Dial(s.data)
	if c == nil {
		t.Fatal("no admin listener")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 8 {
		body := "From: a@example.org\r\nTo: user1@contoso.test\r\nSubject: keep " + strconv.Itoa(i) + "\r\n\r\nx\r\n"
		for _, rcpt := range []string{"user1@contoso.test", "admin@contoso.test"} {
			if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{rcpt}, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, mb := range []string{"user1@contoso.test", "administrator@contoso.test"} {
		waitUntil(t, 20*time.Second, mb+" trimmed to its newest 3", func() bool {
			ms, err := c.AllMessages(ctx, adminapi.Filter{Mailbox: mb})
			var subjects []string
			for _, m := range ms {
				subjects = append(subjects, m.Subject)
			}
			return err == nil && strings.Join(subjects, ",") == "keep 7,keep 6,keep 5"
		})
	}
	// MessageRetention of a second, applied to the running server: everything goes.
	path := filepath.Join(t.TempDir(), "org.yaml")
	_ = os.WriteFile(path, []byte(strings.Replace(cfg, "  MaxMessagesPerMailbox: 3\n", "  MessageRetention: \"00:00:01\"\n", 1)), 0o600)
	if err := c.ApplyConfig(path); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "every message older than a second removed", func() bool {
		l, err := c.ListMessages(ctx, adminapi.Filter{}, 0, "")
		return err == nil && len(l.Messages) == 0
	})
}

// TestLabPasswordWarning: exlab serve warns about the lab passwords when a connector that offers
// AUTH listens beyond loopback, and not when everything is on 127.0.0.1.
func TestLabPasswordWarning(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(string) string
		warn bool
	}{
		{"loopback only", nil, false},
		{"Client Frontend on every address", func(y string) string {
			i := strings.Index(y, "  - Name: Client Frontend EX01")
			j := i + strings.Index(y[i:], `Bindings: ["127.0.0.1:0"]`)
			return y[:j] + `Bindings: ["0.0.0.0:0"]` + y[j+len(`Bindings: ["127.0.0.1:0"]`):]
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, labConfig(c.edit), "")
			got := strings.Contains(s.stderr(), "lab passwords: these connectors offer AUTH beyond loopback")
			if got != c.warn {
				t.Errorf("warning printed: %v, want %v\n%s", got, c.warn, s.stderr())
			}
			if c.warn && !strings.Contains(s.stderr(), `EX01\\Client Frontend EX01 0.0.0.0:0`) {
				t.Errorf("the warning does not name the connector:\n%s", s.stderr())
			}
		})
	}
}
