package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exlab/exlab/cmd/adminapi"
)

// The web console's tests run in a real browser: Debian's headless Chromium driven by chromedp
// (.ci/run installs chromium when it is missing). Each test keeps its screenshots under
// $EXLAB_SCREENSHOTS (default: a temporary directory, named in the test's log) as artifacts.

// chromiumPath finds the system browser; the tests skip without one unless CI is set, where a
// missing browser fails them (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium)")
	return ""
}

// consoleBrowser is one headless Chromium tab on a running exlab's console, signed in.
type consoleBrowser struct {
	t    *testing.T
	ctx  context.Context
	base string // http://127.0.0.1:PORT
	shot string // the screenshot directory

	mu     sync.Mutex
	errors []string // console errors and uncaught exceptions
}

// openConsole starts a browser on s's admin listener and signs in with the token in its data
// directory. The context ends with the test (at most 3 minutes).
func openConsole(t *testing.T, s *server) *consoleBrowser {
	t.Helper()
	path := chromiumPath(t)
	addr, err := os.ReadFile(filepath.Join(s.data, adminapi.AddrFile))
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(s.data, adminapi.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("EXLAB_SCREENSHOTS")
	if dir == "" {
		dir, err = os.MkdirTemp("", "exlab-console-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
		if err != nil {
			t.Fatal(err)
		}
	} else {
		dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		_ = os.MkdirAll(dir, 0o755)
	}
	t.Logf("screenshots in %s", dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("headless", "new"), chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	b := &consoleBrowser{t: t, ctx: ctx, base: "http://" + strings.TrimSpace(string(addr)), shot: dir}
	messages := chromedp.Console(ctx) // subscribed now: nothing the pages log is lost
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			// The first request before sign-in is refused, as it must be.
			if m.Source == "network" && strings.Contains(m.Text, "401 (Unauthorized)") {
				continue
			}
			b.mu.Lock()
			b.errors = append(b.errors, m.String()+" ("+m.URL+")")
			b.mu.Unlock()
		}
	}()
	b.do(chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("login-token")),
		chromedp.SendKeys(chromedp.ID("login-token"), strings.TrimSpace(string(token))),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")), chromedp.WaitNotVisible(chromedp.ID("login")))
	return b
}

// do runs actions, failing the test (with a screenshot) when one fails.
func (b *consoleBrowser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.screenshot("failed")
		b.t.Fatalf("browser: %v", err)
	}
}

// page opens #/<page>/<args> and waits for sel to be visible.
func (b *consoleBrowser) page(hash, sel string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+"/#/"+hash), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// text is the text content of the first element sel matches.
func (b *consoleBrowser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.screenshot("failed")
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitText waits until the text of sel contains want.
func (b *consoleBrowser) waitText(sel, want string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if strings.Contains(s, want) {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("waited")
			b.t.Fatalf("waited %v for %q in %s; it reads %q", d, want, sel, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot keeps a full-page PNG named name.png in the screenshot directory.
func (b *consoleBrowser) screenshot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644)
}

// noErrors fails the test when the pages logged an error or threw.
func (b *consoleBrowser) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Errorf("the console logged errors:\n%s", strings.Join(b.errors, "\n"))
	}
}

// evalJS evaluates a JavaScript expression in the page (a promise is awaited) and decodes
// its value as T.
func evalJS[T any](b *consoleBrowser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.screenshot("failed")
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// TestConsoleSignIn: the console is served from the binary at /, asks for the admin token, and
// once signed in shows the server it runs on; its assets come from exlab itself (the page's
// Content-Security-Policy allows nothing else).
func TestConsoleSignIn(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	b.waitText("#server", "Server EX01", 10*time.Second)
	for _, src := range evalJS[[]string](b, `[...document.scripts].map(s => s.src).filter(Boolean)`) {
		if !strings.HasPrefix(src, b.base+"/") {
			t.Errorf("script %s is not served by exlab", src)
		}
	}
	b.screenshot("signed-in")
	b.noErrors()
}

// TestConsoleAccessibility walks every page of the navigation and checks what a screen reader
// needs of its forms: every control has a label, every button and link a name, tables have
// header cells, and the page has one h1; and that the navigation works from the keyboard alone.
func TestConsoleAccessibility(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	b := openConsole(t, s)
	pages := evalJS[[]string](b, `[...document.querySelectorAll('#nav a')].map(a => a.dataset.page)`)
	if len(pages) < 9 {
		t.Fatalf("navigation: %v", pages)
	}
	for _, p := range pages {
		b.page(p, "main h1")
		time.Sleep(300 * time.Millisecond) // the page's first API answers
		problems := evalJS[[]string](b, `(() => {
			const out = [];
			const name = e => (e.getAttribute('aria-label') || e.getAttribute('title') || e.textContent || '').trim();
			for (const e of document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')) {
				if (!e.labels?.length && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')) out.push('unlabelled ' + e.outerHTML.slice(0, 80));
			}
			for (const e of document.querySelectorAll('main button, main a[href]')) {
				if (!name(e)) out.push('nameless ' + e.outerHTML.slice(0, 80));
			}
			for (const e of document.querySelectorAll('main table:not(.u-legend)')) { // uPlot's legend is its chart's key; the figures are in text beside it
				if (!e.querySelector('th')) out.push('table without th');
			}
			if (document.querySelectorAll('main h1').length !== 1) out.push(document.querySelectorAll('main h1').length + ' h1');
			return out;
		})()`)
		for _, pr := range problems {
			t.Errorf("%s: %s", p, pr)
		}
	}
	// Keyboard: from the skip link, Tab reaches the navigation; Enter on "Server health" opens it.
	b.page("dashboard", "main h1")
	b.do(chromedp.Focus(chromedp.CSS(`#nav a[data-page="health"]`)), chromedp.KeyEvent("\r"))
	b.waitText("main h1", "health", 10*time.Second)
	if got := evalJS[string](b, `document.activeElement.dataset.page || ''`); got != "health" {
		t.Errorf("focus after Enter: %q", got)
	}
	b.noErrors()
}
