package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exlab/exlab/cmd/adminapi"
)

// The console's live pages in a real browser (issue 17 points 2, 3 and 5): the load
// dashboard moving under a short load, a message appearing in the open mailbox list and read
// with its HTML sandboxed and its remote image not fetched, its protocol log on every hop, and
// exlab bench's HTML report.

// dropErrors removes the console errors that contain every one of subs and says how many.
func (b *consoleBrowser) dropErrors(subs ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, kept := 0, b.errors[:0]
	for _, e := range b.errors {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(e, s)
		}
		if all {
			n++
			continue
		}
		kept = append(kept, e)
	}
	b.errors = kept
	return n
}

// waitJS polls a JavaScript expression until it is true.
func (b *consoleBrowser) waitJS(what, expr string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for !evalJS[bool](b, expr) {
		if time.Now().After(deadline) {
			b.screenshot("waited")
			b.t.Fatalf("waited %v for %s (%s)", d, what, expr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestConsoleDashboard: the dashboard draws its three charts from the stats events; a load of
// 200 messages through Default Frontend (exlab bench) moves the accepted total and the charts'
// data, and the mailbox holds them (checked through the API).
func TestConsoleDashboard(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	b.page("dashboard", "#chart-rate canvas")
	b.waitText("#dash-status", "sample(s) since this page opened", 10*time.Second)
	for _, id := range []string{"chart-rate", "chart-latency", "chart-replies"} {
		if !evalJS[bool](b, `!!document.getElementById('`+id+`').uplot && document.getElementById('`+id+`').getAttribute('aria-label') !== ''`) {
			t.Errorf("%s: no uPlot chart with a label", id)
		}
	}
	before := evalJS[float64](b, `Number(document.getElementById('dash-total-accepted').textContent.replace(/,/g, ''))`)
	b.screenshot("dashboard-idle")

	done := make(chan string, 1)
	go func() {
		out, errOut, code := exlab(t, "bench", "--target", s.address("Default Frontend EX01"), "--to", "user1@contoso.test",
			"--messages", "200", "--sessions", "2", "--per-session", "20")
		if code != 0 {
			done <- fmt.Sprintf("bench: exit %d\n%s%s", code, out, errOut)
			return
		}
		done <- ""
	}()
	// The totals card and the chart's window both take the 200 messages in.
	b.waitJS("the accepted total to grow by 200", `Number(document.getElementById('dash-total-accepted').textContent.replace(/,/g, '')) >= `+
		strconv.FormatFloat(before+200, 'f', 0, 64), 30*time.Second)
	if msg := <-done; msg != "" {
		t.Fatal(msg)
	}
	sum := func(id string, series int) float64 {
		return evalJS[float64](b, fmt.Sprintf(`document.getElementById(%q).uplot.data[%d].reduce((a, v) => a + (v || 0), 0)`, id, series))
	}
	b.waitJS("the delivered series to move", `document.getElementById('chart-rate').uplot.data[2].some(v => v > 0)`, 20*time.Second)
	if a := sum("chart-rate", 1); a < 150 {
		t.Errorf("the accepted/s series adds up to %.1f over the window, not about 200", a)
	}
	if r := sum("chart-replies", 1); r < 150 {
		t.Errorf("the 2xx series adds up to %.1f", r)
	}
	if n := evalJS[int](b, `document.getElementById('chart-latency').uplot.series.length`); n < 3 {
		t.Errorf("the latency chart has %d series: no phase came in", n)
	}
	if txt := b.text("#dash-connectors"); !strings.Contains(txt, `Default Frontend EX01`) {
		t.Errorf("sessions per connector: %q", txt)
	}
	if txt := b.text("#dash-latency"); !strings.Contains(txt, "data") {
		t.Errorf("latency table: %q", txt)
	}
	if p := b.text("#dash-pressure"); p != "Normal" && p != "Medium" && p != "High" && p != "Off" {
		t.Errorf("back pressure reads %q", p)
	}
	// The server holds the messages the page counted.
	c := adminapi.Dial(s.data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitUntil(t, 20*time.Second, "200 messages in user1's mailbox", func() bool {
		boxes, _ := c.ListMailboxes(ctx)
		for _, m := range boxes {
			if m.Mailbox == "user1@contoso.test" && m.Count >= 200 {
				return true
			}
		}
		return false
	})
	b.screenshot("dashboard-load")
	// The 200 messages page through the mailbox's list 50 at a time (the API's cursor).
	b.page("mailboxes/user1%40contoso.test", "#message-list tbody tr")
	b.waitText("#message-count", "50 message(s) shown; more are older", 10*time.Second)
	b.do(chromedp.Focus(chromedp.ID("message-more")), chromedp.KeyEvent("\r"))
	b.waitText("#message-count", "100 message(s) shown", 10*time.Second)
	if n := evalJS[int](b, `new Set([...document.querySelectorAll('#message-list tbody tr a')].map(a => a.getAttribute('href'))).size`); n != 100 {
		t.Errorf("%d distinct rows after two pages", n)
	}
	b.noErrors()
}

// canary counts the requests a loopback HTTP server gets: the HTML body's second remote
// image points at it, so a fetch the part's CSP should have blocked is seen for certain.
func canary(t *testing.T) (string, *atomic.Int64) {
	var hits atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String() + "/x.png", &hits
}

// TestConsoleMailboxesAndProtocolLog: with the mailbox list open, a message with a text and an
// HTML body (with remote images) and an attachment appears without a reload; the reader shows
// its headers, its text, the HTML in a sandboxed iframe that fetched no remote image, the
// attachment's link (its content as sent) and the raw source; its protocol log shows the
// sessions that carried it, the Default Frontend session (logged Verbose) naming it.
func TestConsoleMailboxesAndProtocolLog(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	remote, hits := canary(t)
	b.page("mailboxes", "#message-list table")
	b.screenshot("mailboxes-empty")

	const subject = "Console reader check"
	attachment := "%PDF-1.4\nconsole attachment\n"
	body := strings.Join([]string{
		"From: Alice Example <alice@example.org>",
		"To: User One <user1@contoso.test>",
		"Subject: " + subject,
		"Message-ID: <console-reader-1@example.org>",
		"Date: Wed, 02 Dec 2026 23:00:00 +0000",
		"MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="MIX"`,
		"",
		"--MIX",
		`Content-Type: multipart/alternative; boundary="ALT"`,
		"",
		"--ALT",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Hello from the text part.",
		"--ALT",
		"Content-Type: text/html; charset=utf-8",
		"",
		`<html><body><p id="p">Hello from the <b>HTML</b> part.</p><img id="test-net" src="http://192.0.2.1/x.png"><img id="canary" src="` + remote + `"></body></html>`,
		"--ALT--",
		"--MIX",
		`Content-Type: application/pdf; name="report.pdf"`,
		`Content-Disposition: attachment; filename="report.pdf"`,
		"Content-Transfer-Encoding: base64",
		"",
		base64.StdEncoding.EncodeToString([]byte(attachment)),
		"--MIX--",
		"",
	}, "\r\n")
	if err := sendMail(t, s.address("Default Frontend EX01"), "alice@example.org", []string{"user1@contoso.test"}, body); err != nil {
		t.Fatal(err)
	}
	// In the open list, without a reload; the server has it too.
	b.waitText("#message-list", subject, 20*time.Second)
	b.waitText("#mailbox-list", "user1@contoso.test", 10*time.Second)
	c := adminapi.Dial(s.data)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	list, err := c.ListMessages(ctx, adminapi.Filter{Subject: subject}, 0, "")
	if err != nil || len(list.Messages) != 1 {
		t.Fatalf("the API lists %+v, %v", list, err)
	}
	m := list.Messages[0]
	b.screenshot("mailboxes-list")

	// The search finds it, and finds nothing for another subject.
	// (Enter in the field: the form's submit event, as a user's; chromedp.Submit calls form.submit(), which has none.)
	b.do(chromedp.SendKeys(chromedp.ID("q-subject"), "no such subject\r"))
	b.waitText("#message-list", "No message matches.", 10*time.Second)
	b.do(chromedp.SetValue(chromedp.ID("q-subject"), "reader"), chromedp.SendKeys(chromedp.ID("q-subject"), "\r"))
	b.waitText("#message-list", subject, 10*time.Second)

	// Open it with the keyboard: the row takes focus, Enter opens the reader.
	b.do(chromedp.Focus(chromedp.CSS("#message-list tbody tr")), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("msg-subject")))
	if hash := evalJS[string](b, `location.hash`); hash != fmt.Sprintf("#/mailboxes/%s/%d", "user1%40contoso.test", m.ID) {
		t.Errorf("the reader is at %s", hash)
	}
	if got := b.text("#msg-subject"); got != subject {
		t.Errorf("subject %q", got)
	}
	if got := b.text("#msg-from"); !strings.Contains(got, "alice@example.org") {
		t.Errorf("From %q", got)
	}
	if got := b.text("#msg-to"); !strings.Contains(got, "user1@contoso.test") {
		t.Errorf("To %q", got)
	}
	if got := b.text("#msg-date"); !strings.Contains(got, "02 Dec 2026") {
		t.Errorf("Date %q", got)
	}
	b.do(chromedp.Focus(chromedp.CSS("#msg-headers summary")), chromedp.KeyEvent("\r"))
	if got := b.text("#msg-headers table"); !strings.Contains(got, "Received") || !strings.Contains(got, "<console-reader-1@example.org>") {
		t.Errorf("headers: %q", got)
	}
	if got := b.text("#main"); strings.Contains(got, "null") || strings.Contains(got, "undefined") {
		t.Errorf("the reader shows a null or undefined: %.300q", got)
	}
	if got := b.text("#msg-text"); !strings.Contains(got, "Hello from the text part.") {
		t.Errorf("text body %q", got)
	}
	// The HTML iframe: sandboxed with no token (no scripts, no same origin), the part's URL.
	frames := 0
	frame := evalJS[map[string]any](b, `(() => { const f = document.getElementById('msg-html'); return { has: f.hasAttribute('sandbox'), sandbox: f.getAttribute('sandbox'), src: f.getAttribute('src') }; })()`)
	if frame["has"] != true || frame["sandbox"] != "" || !strings.Contains(frame["src"].(string), fmt.Sprintf("/api/v1/messages/%d/parts/", m.ID)) {
		t.Errorf("iframe: %v", frame)
	}
	b.waitJS("the HTML iframe to load", `document.getElementById('msg-html').dataset.loaded === 'true'`, 10*time.Second)
	// The frame's own document, where Chromium runs it as a target of its own (site isolation
	// of sandboxed frames): the text is there, the remote images have no pixels.
	if infos, err := chromedp.Targets(b.ctx); err == nil {
		for _, info := range infos {
			if info.Type != "iframe" || !strings.Contains(info.URL, "/parts/") {
				continue
			}
			fctx, fcancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel()) // cancel detaches: closing the frame target would close the page
			got, err := chromedp.Run(fctx, chromedp.Evaluate[[]any](`[document.getElementById('p').textContent, document.getElementById('test-net').naturalWidth, document.getElementById('canary').naturalWidth]`))
			fcancel()
			frames++
			if err != nil || len(got) != 3 || got[0] != "Hello from the HTML part." || got[1] != 0.0 || got[2] != 0.0 {
				t.Errorf("in the iframe: %v %v", got, err)
			}
		}
	}
	t.Logf("%d iframe target(s) checked from inside", frames)
	time.Sleep(500 * time.Millisecond)
	if n := hits.Load(); n != 0 {
		t.Errorf("the HTML body's remote image was fetched %d time(s): the part's CSP did not block it", n)
	}
	// The browser says why the images stayed out, where it reports the frame's errors.
	if n := b.dropErrors("Refused to load the image", "img-src"); n > 0 {
		t.Logf("%d image(s) refused by the part's Content-Security-Policy", n)
	}
	// The attachment: a download link to the part, whose content is what was sent.
	link := evalJS[map[string]string](b, `(() => { const a = document.querySelector('#msg-attachments a'); return { href: a.getAttribute('href'), download: a.getAttribute('download'), text: a.textContent }; })()`)
	if link["download"] != "report.pdf" || !strings.Contains(link["href"], fmt.Sprintf("/api/v1/messages/%d/parts/2", m.ID)) {
		t.Errorf("attachment link: %v", link)
	}
	if got := evalJS[string](b, `fetch(document.querySelector('#msg-attachments a').href).then(r => r.text())`); got != attachment {
		t.Errorf("the attachment link serves %q", got)
	}
	// The raw source, as stored.
	b.do(chromedp.Focus(chromedp.CSS("#msg-raw-box summary")), chromedp.KeyEvent("\r"))
	b.waitText("#msg-raw", "Message-ID: <console-reader-1@example.org>", 10*time.Second)
	raw, err := c.RawMessage(ctx, m.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := evalJS[string](b, `document.getElementById('msg-raw').textContent`); got != string(raw) {
		t.Errorf("raw source in the page %.300q, the API's %.300q", got, raw)
	}
	if href := evalJS[string](b, `document.getElementById('msg-trace').getAttribute('href')`); href != "#/trace/"+urlEscape("<console-reader-1@example.org>") {
		t.Errorf("trace link %s", href)
	}
	b.screenshot("mailboxes-reader")

	// Its protocol log: wait until the server has the Default Frontend session, then open the
	// page from the reader's link.
	waitUntil(t, 15*time.Second, "the frontend session in the protocol log", func() bool {
		ss, _ := c.MessageProtocolLog(ctx, m.ID, "")
		for _, x := range ss {
			for _, l := range x.Lines {
				if x.Service == "FrontEnd" && strings.HasPrefix(l.Data, "250 2.6.0 <console-reader-1@example.org>") {
					return true
				}
			}
		}
		return false
	})
	// From the keyboard (a click can land on the fixed "Commands run" bar or a notice).
	b.do(chromedp.Focus(chromedp.ID("msg-protocollog")), chromedp.KeyEvent("\r"))
	b.waitText("#main", "Hop 1:", 15*time.Second)
	if got := b.text("#main"); !strings.Contains(got, "FrontEnd Receive") || !strings.Contains(got, "Default Frontend EX01") || !strings.Contains(got, "EHLO client.example") {
		t.Errorf("protocol log page: %.500q", got)
	}
	if got := b.text("table.plog tr.mine"); !strings.Contains(got, "250 2.6.0 <console-reader-1@example.org>") {
		t.Errorf("highlighted line: %q", got)
	}
	b.screenshot("protocollog")
	// The form opens a message by id from the keyboard.
	b.page("protocollog", "#plog-id")
	b.do(chromedp.SendKeys(chromedp.ID("plog-id"), strconv.FormatUint(m.ID, 10)+"\r"))
	b.waitText("#main", "Hop 1:", 15*time.Second)
	if got := b.text("#plog-summary"); !strings.Contains(got, subject) {
		t.Errorf("opened by the form: %q", got)
	}
	b.noErrors()
}

// urlEscape is encodeURIComponent for the characters a Message-ID has.
func urlEscape(s string) string {
	return strings.NewReplacer("<", "%3C", ">", "%3E", "@", "%40").Replace(s)
}

// TestConsoleBenchReport: exlab bench --report writes a page that opens in the same browser
// (file://) with its charts drawn and no console error.
func TestConsoleBenchReport(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	report := filepath.Join(t.TempDir(), "bench.html")
	out, errOut, code := exlab(t, "bench", "--target", s.address("Default Frontend EX01"), "--to", "user1@contoso.test",
		"--duration", "1500ms", "--sessions", "2", "--per-session", "5", "--report", report)
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(report); err != nil {
		t.Fatal(err)
	}
	b := openConsole(t, s)
	b.do(chromedp.Navigate("file://"+report), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h1 := b.text("h1"); !strings.Contains(h1, "exlab bench: "+s.address("Default Frontend EX01")) {
		t.Errorf("title %q", h1)
	}
	got := evalJS[map[string]float64](b, `({ svg: document.querySelectorAll('svg').length, lines: document.querySelectorAll('svg polyline, svg path, svg line').length,
		rows: document.querySelectorAll('table tr').length, width: document.querySelector('svg').getBoundingClientRect().width })`)
	if got["svg"] < 2 || got["lines"] < 2 || got["rows"] < 3 || got["width"] < 100 {
		t.Errorf("the report renders %v", got)
	}
	if txt := b.text("body"); !strings.Contains(txt, "250") || !strings.Contains(txt, "msgs/s") {
		t.Errorf("the report reads %.300q", txt)
	}
	b.screenshot("bench-report")
	b.noErrors()
}
