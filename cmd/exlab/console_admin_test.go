package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The admin pages of the console (mail flow, queues, message trace, events, fault rules,
// server health), each driven in Chromium against a running exlab: what the page does is
// checked on the live server too (an SMTP session, the admin API).

// clickRow clicks the first row of the table in container whose text contains want, waiting
// up to d for it to appear.
func (b *consoleBrowser) clickRow(container, want string, d time.Duration) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const r = [...document.querySelectorAll(%q + ' tbody tr')].find(r => r.textContent.includes(%q)); if (r) r.click(); return !!r; })()`, container, want)
	deadline := time.Now().Add(d)
	for !evalJS[bool](b, js) {
		if time.Now().After(deadline) {
			b.screenshot("no-row")
			b.t.Fatalf("no row with %q in %s", want, container)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// confirmYes answers the page's confirmation dialog with Yes.
func (b *consoleBrowser) confirmYes() {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS("dialog.confirm")), chromedp.Click(chromedp.CSS("dialog.confirm button.primary")))
}

// commandsRun is the text of the "Commands run" panel.
func (b *consoleBrowser) commandsRun() string {
	b.t.Helper()
	return evalJS[string](b, `document.getElementById('cmdlets-list').textContent`)
}

// TestConsoleAdminPages: every admin page loads on a running server and shows what it is
// about, without a console error (one screenshot each).
func TestConsoleAdminPages(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	for _, p := range []struct{ hash, sel, want string }{
		{"mailflow", "#mf-list tbody tr", "Default Frontend EX01"},
		{"mailflow/send", "#mf-list table", "Name"},
		{"mailflow/domains", "#mf-list tbody tr", "contoso.test"},
		{"queues", "#q-list tbody tr", "Submission"},
		{"trace", "#trace-results table", "Event ID"},
		{"events", "#ev-list table", "Event ID"},
		{"faults", "#fault-list table", "There are no fault rules."},
		{"health", "#health-components tbody tr", "HubTransport"},
	} {
		b.page(p.hash, p.sel)
		b.waitText("main", p.want, 10*time.Second)
		b.screenshot(strings.ReplaceAll(p.hash, "/", "-"))
	}
	b.noErrors()
}

// TestConsoleMailflowEditReceiveConnector: the receive connector's edit form runs
// Set-ReceiveConnector, shown under Commands run; the live connector answers with the new
// banner; a refused value shows the shell's error text and changes nothing; a send connector
// is created and edited (New-/Set-SendConnector); New- and Remove- (after the page's
// confirmation) create and delete an accepted domain.
func TestConsoleMailflowEditReceiveConnector(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	addr := s.address("Default Frontend EX01")
	b.page("mailflow", "#mf-list tbody tr")
	b.clickRow("#mf-list", "Default Frontend EX01", 10*time.Second)
	b.do(chromedp.WaitVisible(chromedp.CSS(`#mf-edit input[name=Banner]`)))
	b.waitText("#mf-details", "ProtocolLoggingLevel", 5*time.Second) // every property
	const banner = "220 console-banner.contoso.test ready"
	b.do(chromedp.SetValue(chromedp.CSS(`#mf-edit input[name=Banner]`), banner), chromedp.Click(chromedp.CSS(`#mf-edit button[type=submit]`)))
	b.waitText("#status", "was saved", 10*time.Second)
	if got := b.commandsRun(); !strings.Contains(got, `Set-ReceiveConnector -Identity 'EX01\Default Frontend EX01' -Banner '`+banner+`'`) {
		t.Errorf("Commands run: %q", got)
	}
	waitUntil(t, 10*time.Second, "the new banner on the live connector", func() bool { return bannerOf(t, addr) == banner })
	b.waitText("#mf-details dl", banner, 5*time.Second)
	b.screenshot("mailflow-saved")

	// A refused value: the shell's error, and the live connector keeps its size.
	b.do(chromedp.SetValue(chromedp.CSS(`#mf-edit input[name=MaxMessageSize]`), "lots"), chromedp.Click(chromedp.CSS(`#mf-edit button[type=submit]`)))
	b.waitText("#mf-error", "is not a size", 10*time.Second)
	c := adminapi.Dial(s.data)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := c.Shell(ctx, `(Get-ReceiveConnector 'EX01\Default Frontend EX01').MaxMessageSize`, "")
	if err != nil || !strings.Contains(r.Output, "36 MB") {
		t.Errorf("after a refused edit MaxMessageSize is %q (%v)", r.Output, err)
	}
	b.screenshot("mailflow-refused")

	// A send connector: New-SendConnector from the form, then Set-SendConnector.
	b.do(chromedp.Click(chromedp.CSS(`.tabs button[data-kind=send]`)))
	b.waitText("#mf-list", "There are no items", 10*time.Second)
	b.do(chromedp.Click(chromedp.ID("mf-new")), chromedp.WaitVisible(chromedp.CSS(`#mf-create input[name=Name]`)),
		chromedp.SetValue(chromedp.CSS(`#mf-create input[name=Name]`), "To Fabrikam"),
		chromedp.SetValue(chromedp.CSS(`#mf-create input[name=AddressSpaces]`), "SMTP:fabrikam.test;1"),
		chromedp.SetValue(chromedp.CSS(`#mf-create input[name=SmartHosts]`), "[127.0.0.1]:2999"),
		chromedp.Click(chromedp.CSS(`#mf-create button[type=submit]`)))
	b.clickRow("#mf-list", "To Fabrikam", 10*time.Second)
	b.do(chromedp.WaitVisible(chromedp.CSS(`#mf-edit select[name=Enabled]`)), chromedp.SetValue(chromedp.CSS(`#mf-edit select[name=Enabled]`), "False"),
		chromedp.SetValue(chromedp.CSS(`#mf-edit input[name=MaxMessageSize]`), "10 MB"), chromedp.Click(chromedp.CSS(`#mf-edit button[type=submit]`)))
	b.waitText("#mf-list", "Disabled", 10*time.Second)
	if r, err := c.Shell(ctx, `$c = Get-SendConnector 'To Fabrikam'; "$($c.Enabled) $($c.MaxMessageSize) $($c.SmartHosts)"`, ""); err != nil ||
		strings.TrimSpace(r.Output) != "False 10 MB (10,485,760 bytes) [127.0.0.1]:2999" {
		t.Errorf("the send connector after the page's edits: %q %v", r.Output, err)
	}
	if got := b.commandsRun(); !strings.Contains(got, `Set-SendConnector -Identity 'To Fabrikam' -Enabled $false -MaxMessageSize '10 MB'`) {
		t.Errorf("Commands run: %q", got)
	}

	// New-AcceptedDomain, then Remove-AcceptedDomain once the page asked.
	b.do(chromedp.Click(chromedp.CSS(`.tabs button[data-kind=domains]`)))
	b.waitText("#mf-list", "contoso.test", 10*time.Second)
	b.do(chromedp.Click(chromedp.ID("mf-new")), chromedp.WaitVisible(chromedp.CSS(`#mf-create input[name=Name]`)),
		chromedp.SetValue(chromedp.CSS(`#mf-create input[name=Name]`), "console.test"),
		chromedp.SetValue(chromedp.CSS(`#mf-create input[name=DomainName]`), "console.test"),
		chromedp.Click(chromedp.CSS(`#mf-create button[type=submit]`)))
	b.waitText("#mf-list", "console.test", 10*time.Second)
	domains := func() string {
		r, _ := c.Shell(ctx, `(Get-AcceptedDomain).DomainName`, "")
		return r.Output
	}
	if got := domains(); !strings.Contains(got, "console.test") {
		t.Errorf("New-AcceptedDomain from the page: the server has %q", got)
	}
	b.clickRow("#mf-list", "console.test", 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("mf-remove")))
	b.confirmYes()
	b.waitText("#status", "was removed", 10*time.Second)
	if got := domains(); strings.Contains(got, "console.test") {
		t.Errorf("Remove-AcceptedDomain from the page: the server still has %q", got)
	}
	if got := b.commandsRun(); !strings.Contains(got, `Remove-AcceptedDomain -Identity 'console.test' -Confirm:$false`) {
		t.Errorf("Commands run: %q", got)
	}
	b.noErrors()
}

// TestConsoleQueuesSuspendResume: a message held for an unreachable smart host shows in its
// queue (Get-Message view); Retry-Queue from the page makes a new attempt, Suspend-Queue and
// Resume-Queue change the live queue's status.
func TestConsoleQueuesSuspendResume(t *testing.T) {
	dead := freePort(t)
	cfg := deadSmartHostConfig(dead)
	s := startServer(t, cfg, "")
	sub := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	if err := sub.SendMail("user1@contoso.test", []string{"ann@tailspin.test"}, strings.NewReader("Subject: held for the console\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	hop := fmt.Sprintf(`[127.0.0.1]:%d`, dead)
	c := adminapi.Dial(s.data)
	q := "" // EX01\<number>, as Exchange names a delivery queue
	status := func() string {
		qs, _ := c.Queues()
		for _, x := range qs {
			if x.NextHopDomain == hop {
				q = x.Identity
				return x.Status
			}
		}
		return ""
	}
	if !waitFor(15*time.Second, func() bool { return status() == "Retry" }) {
		qs, err := c.Queues()
		t.Fatalf("no queue to %s in Retry: %+v %v", hop, qs, err)
	}
	b := openConsole(t, s)
	b.page("queues", "#q-list tbody tr")
	b.clickRow("#q-list", q, 10*time.Second)
	b.waitText("#q-messages", "held for the console", 10*time.Second)
	// Retry-Queue: a new attempt now (the glitch retry interval is 10 minutes).
	lastRetry := func() time.Time {
		qs, _ := c.Queues()
		for _, x := range qs {
			if x.Identity == q {
				return x.LastRetryTime
			}
		}
		return time.Time{}
	}
	before := lastRetry()
	b.do(chromedp.Click(chromedp.ID("q-retry")))
	waitUntil(t, 10*time.Second, "a new attempt after Retry-Queue", func() bool { return lastRetry().After(before) })
	// The server may start the attempt before the page has its reply and lists the cmdlet.
	waitUntil(t, 5*time.Second, "Retry-Queue under Commands run", func() bool {
		return strings.Contains(b.commandsRun(), "Retry-Queue -Identity '"+q+"'")
	})
	b.do(chromedp.Click(chromedp.ID("q-suspend")))
	b.waitText("#status", "was suspended", 10*time.Second)
	waitUntil(t, 5*time.Second, "the queue Suspended", func() bool { return status() == "Suspended" })
	b.waitText("#q-list", "Suspended", 5*time.Second) // the 2 s refresh shows it too
	b.screenshot("queue-suspended")
	b.do(chromedp.Click(chromedp.ID("q-resume")))
	b.waitText("#status", "was resumed", 10*time.Second)
	waitUntil(t, 5*time.Second, "the queue out of Suspended", func() bool { st := status(); return st != "Suspended" && st != "" })
	if got := b.commandsRun(); !strings.Contains(got, "Suspend-Queue -Identity '"+q+"'") || !strings.Contains(got, "Resume-Queue -Identity '"+q+"'") {
		t.Errorf("Commands run: %q", got)
	}
	// The message actions: suspend and resume the held message, then remove it with an NDR,
	// which reaches its sender.
	msgStatus := func() string {
		ms, _ := c.Messages(q)
		if len(ms) != 1 {
			return fmt.Sprintf("%d messages", len(ms))
		}
		return ms[0].Status
	}
	b.clickRow("#q-messages", "held for the console", 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("m-suspend")))
	waitUntil(t, 5*time.Second, "the message Suspended", func() bool { return msgStatus() == "Suspended" })
	b.waitText("#q-messages tbody", "Suspended", 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("m-resume")))
	waitUntil(t, 5*time.Second, "the message out of Suspended", func() bool { st := msgStatus(); return st != "Suspended" && !strings.HasSuffix(st, "messages") })
	b.do(chromedp.Click(chromedp.ID("m-remove-ndr")))
	b.confirmYes()
	b.waitText("#status", "was removed", 10*time.Second)
	waitUntil(t, 5*time.Second, "the message gone from its queue", func() bool { ms, _ := c.Messages(q); return len(ms) == 0 })
	if out := waitMailbox(t, s.data, "user1@contoso.test", 1); !strings.Contains(out, "Undeliverable") {
		t.Errorf("Remove-Message -WithNDR $true: the sender's mailbox has\n%s", out)
	}
	for _, cmd := range []string{"Suspend-Message -Identity '", "Resume-Message -Identity '", "-WithNDR $true -Confirm:$false"} {
		if got := b.commandsRun(); !strings.Contains(got, cmd) {
			t.Errorf("Commands run has no %q: %q", cmd, got)
		}
	}
	b.screenshot("queue-removed")
	b.noErrors()
}

// TestConsoleTraceFindsAMessage: a message sent over SMTP to Default Frontend is found by
// its sender; its timeline has every hop and links to the mailbox reader and protocol log.
func TestConsoleTraceFindsAMessage(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	from := fmt.Sprintf("trace-%d@example.org", time.Now().UnixNano())
	if err := sendMail(t, s.address("Default Frontend EX01"), from, []string{"user1@contoso.test"}, "Subject: console trace\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	b := openConsole(t, s)
	b.page("trace", "#trace-form")
	b.do(chromedp.SetValue(chromedp.CSS(`#trace-form input[name=sender]`), from), chromedp.Click(chromedp.CSS(`#trace-form button[type=submit]`)))
	b.waitText("#trace-results", "console trace", 10*time.Second)
	b.clickRow("#trace-results", "RECEIVE", 5*time.Second)
	b.waitText("#trace-steps", "DELIVER", 10*time.Second)
	steps := evalJS[[]string](b, `[...document.querySelectorAll('#trace-steps li strong')].map(x => x.textContent)`)
	if len(steps) < 3 || steps[0] != "RECEIVE" || steps[len(steps)-1] != "DELIVER" {
		t.Errorf("timeline %q: not every hop from RECEIVE to DELIVER", steps)
	}
	links := evalJS[[]string](b, `[...document.querySelectorAll('#trace-links a')].map(a => a.getAttribute('href'))`)
	if len(links) != 2 || !strings.HasPrefix(links[0], "#/mailboxes/user1%40contoso.test/") || !strings.HasPrefix(links[1], "#/protocollog/") {
		t.Errorf("links %q", links)
	}
	b.screenshot("trace-timeline")
	// By message id and event id: that message's one DELIVER.
	mid := strings.TrimPrefix(b.text("#trace-timeline h2"), "Timeline of ")
	evalJS[bool](b, `(document.querySelector('#trace-form input[name=sender]').value = '') === ''`)
	b.do(chromedp.SetValue(chromedp.CSS(`#trace-form input[name=messageId]`), mid),
		chromedp.SetValue(chromedp.CSS(`#trace-form select[name=eventId]`), "DELIVER"), chromedp.Click(chromedp.CSS(`#trace-form button[type=submit]`)))
	b.waitText("#trace-count", "1 event(s)", 10*time.Second)
	if got := b.text("#trace-results tbody"); !strings.Contains(got, "DELIVER") || !strings.Contains(got, from) {
		t.Errorf("by message id %s and DELIVER: %q", mid, got)
	}
	b.noErrors()
}

// TestConsoleFaultRule: a rule added from the form is in the list, fires on an SMTP session
// (its reply takes the banner's place; Fired rises), and Clear all removes it.
func TestConsoleFaultRule(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	b.page("faults", "#fault-form")
	b.do(chromedp.SetValue(chromedp.CSS(`#fault-form input[name=Name]`), "console-fault"),
		chromedp.SetValue(chromedp.CSS(`#fault-form input[name=Connector]`), "Default Frontend EX01"),
		chromedp.SetValue(chromedp.CSS(`#fault-form select[name=Step]`), "Connect"),
		chromedp.SetValue(chromedp.CSS(`#fault-form select[name=Action]`), "ReplyId"),
		chromedp.SetValue(chromedp.CSS(`#fault-form input[name=Value]`), string(smtpwire.R64)),
		chromedp.Click(chromedp.CSS(`#fault-form button[type=submit]`)))
	b.waitText("#fault-list", "console-fault", 10*time.Second)
	fired := func() string {
		return evalJS[string](b, `(() => { const t = document.querySelector('#fault-list table'); const i = [...t.tHead.rows[0].cells].findIndex(c => c.textContent === 'Fired');
			const r = [...t.tBodies[0].rows].find(r => r.textContent.includes('console-fault')); return r ? r.cells[i].textContent : ''; })()`)
	}
	if got := fired(); got != "0" {
		t.Errorf("Fired before a session: %q", got)
	}
	if got, want := bannerOf(t, s.address("Default Frontend EX01")), smtpwire.Fixed(smtpwire.R64).Text; got != want {
		t.Errorf("banner with the rule: %q, want %q", got, want)
	}
	waitUntil(t, 10*time.Second, "Fired 1 in the page", func() bool { return fired() == "1" })
	b.screenshot("faults-fired")
	b.do(chromedp.Click(chromedp.ID("fault-clear")))
	b.confirmYes()
	b.waitText("#fault-list", "There are no fault rules.", 10*time.Second)
	if fs, err := adminapi.Dial(s.data).Faults(); err != nil || len(fs) != 0 {
		t.Errorf("after Clear all the server has %v (%v)", fs, err)
	}
	if got := bannerOf(t, s.address("Default Frontend EX01")); !strings.HasPrefix(got, "220 ") {
		t.Errorf("banner after clearing: %q", got)
	}
	b.noErrors()
}

// TestConsoleHealthTakenPort: with one connector's port taken by this test before the server
// starts, the health page shows that binding not listening, owned by this process, and every
// other binding listening; /readyz's text says not ready.
func TestConsoleHealthTakenPort(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().String()
	cfg := labConfig(func(s string) string {
		s = strings.Replace(s, `Bindings: ["127.0.0.1:0"]`, `Bindings: ["`+busy+`"]`, 1) // Default Frontend EX01
		return strings.Replace(s, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n    BindRetryInterval: \"00:01:00\"", 1)
	})
	s := startServer(t, cfg, "")
	var health struct {
		Bindings []struct {
			Connectors []string
			Binding    string
			Listening  bool
			Owner      *struct{ PID int }
		}
	}
	if code := getAdmin(t, s, "/api/v1/health", &health); code != http.StatusOK {
		t.Fatalf("GET /api/v1/health: %d", code)
	}
	b := openConsole(t, s)
	b.page("health", "#health-bindings table")
	b.waitText("#health-bindings", "Not listening", 10*time.Second)
	rows := evalJS[[][]string](b, `[...document.querySelectorAll('#health-bindings tbody tr')].map(r => [...r.cells].map(c => c.textContent))`)
	if len(rows) != len(health.Bindings) || len(rows) < 5 {
		t.Fatalf("the page shows %d bindings, the API %d", len(rows), len(health.Bindings))
	}
	for _, r := range rows {
		down := strings.Contains(strings.Join(r, "|"), busy)
		switch {
		case down && (r[4] != "Not listening" || !strings.Contains(r[5], fmt.Sprintf("PID %d", os.Getpid()))):
			t.Errorf("the taken binding: %q (this test is PID %d)", r, os.Getpid())
		case !down && r[4] != "Listening":
			t.Errorf("a free binding: %q", r)
		}
	}
	b.waitText("#health-ready", "not ready", 5*time.Second)
	b.screenshot("health-taken")
	b.noErrorsBut("status of 503 (Service Unavailable) (" + b.base + "/readyz)") // not ready is what /readyz answers here
}

// noErrorsBut is noErrors where the errors containing allowed (a response the test expects,
// which Chromium logs as an error) do not count.
func (b *consoleBrowser) noErrorsBut(allowed string) {
	b.t.Helper()
	b.mu.Lock()
	var rest []string
	for _, e := range b.errors {
		if !strings.Contains(e, allowed) {
			rest = append(rest, e)
		}
	}
	b.errors = rest
	b.mu.Unlock()
	b.noErrors()
}

// waitFor polls cond every 50 ms for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// getAdmin GETs path on s's admin API with its token into out and returns the status.
func getAdmin(t *testing.T, s *server, path string, out any) int {
	t.Helper()
	addr, _ := os.ReadFile(filepath.Join(s.data, adminapi.AddrFile))
	token, _ := os.ReadFile(filepath.Join(s.data, adminapi.TokenFile))
	req, _ := http.NewRequest("GET", "http://"+strings.TrimSpace(string(addr))+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode
}

// TestConsoleKeyboardFaultForm: the fault form is reached with Tab alone, filled from the
// keyboard and submitted with Enter; the rule is on the server.
func TestConsoleKeyboardFaultForm(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	b.page("faults", "#fault-form")
	focused := func() string {
		return evalJS[string](b, `document.activeElement ? (document.activeElement.name || document.activeElement.id || document.activeElement.tagName) : ''`)
	}
	for i := 0; focused() != "Name"; i++ {
		if i > 40 {
			t.Fatalf("Tab never reached the form's Name field (at %q)", focused())
		}
		b.do(chromedp.KeyEvent("\t"))
	}
	// Name, Connector, Step, Action (type-ahead "D" picks Delay), Value.
	b.do(chromedp.KeyEvent("kbd-rule"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("D"), chromedp.KeyEvent("\t"))
	if got := focused(); got != "Value" {
		t.Fatalf("four Tabs from Name reach %q, not Value", got)
	}
	if got := evalJS[string](b, `document.querySelector('#fault-form select[name=Action]').value`); got != "Delay" {
		t.Fatalf("typing D on Action chose %q", got)
	}
	b.do(chromedp.KeyEvent("00:00:01"), chromedp.KeyEvent("\r"))
	b.waitText("#fault-list", "kbd-rule", 10*time.Second)
	fs, err := adminapi.Dial(s.data).Faults()
	if err != nil || len(fs) != 1 || fs[0].Name != "kbd-rule" || fs[0].Action != "Delay" {
		t.Fatalf("the server has %v (%v)", fs, err)
	}
	b.screenshot("keyboard-fault")
	b.noErrors()
}

// TestConsoleEventsLive: an Exchange event raised while the events page is shown (1035, a
// failed AUTH LOGIN on Client Frontend) arrives without a reload, newest first, and the
// filters by event id and level keep it; the server's event log has it too.
func TestConsoleEventsLive(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	b.page("events", "#ev-list table")
	b.waitText("#ev-count", "event(s)", 5*time.Second)
	time.Sleep(500 * time.Millisecond) // the event stream is open once the page subscribed
	sub, err := smtp.DialStartTLS(s.address("Client Frontend EX01"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Auth(sasl.NewLoginClient("user1@contoso.test", "not-the-password")); err == nil {
		t.Fatal("AUTH with a wrong password succeeded")
	}
	b.waitText("#ev-list tbody tr:first-child", "1035", 10*time.Second)
	b.do(chromedp.SetValue(chromedp.CSS(`#ev-filter input[name=eventId]`), "1035"), chromedp.SetValue(chromedp.CSS(`#ev-filter select[name=level]`), "Warning"),
		chromedp.Click(chromedp.CSS(`#ev-filter button[type=submit]`)))
	rows := evalJS[[]string](b, `[...document.querySelectorAll('#ev-list tbody tr')].map(r => r.textContent)`)
	if len(rows) != 1 || !strings.Contains(rows[0], "1035") || !strings.Contains(rows[0], "Warning") {
		t.Errorf("filtered to 1035/Warning the page shows %q", rows)
	}
	b.clickRow("#ev-list", "1035", 5*time.Second)
	b.waitText("#ev-details", "Event 1035", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := adminapi.Dial(s.data).EventLog(ctx)
	found := false
	for _, e := range evs {
		found = found || fmt.Sprint(e["EventID"]) == "1035"
	}
	if err != nil || !found {
		t.Errorf("the server's event log: %v %v", evs, err)
	}
	b.screenshot("events-live")
	b.noErrors()
}
