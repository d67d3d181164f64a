package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchLab is the default lab with the submission connectors unthrottled (MessageRateLimit 5
// per user per minute and the auth tarpit, as Exchange ships them, would stop a load test).
func benchLab(t *testing.T) *server {
	cfg := labConfig(func(s string) string {
		s = strings.ReplaceAll(s, "    MessageRateLimit: 5\n", "    MessageRateLimit: Unlimited\n")
		return strings.Replace(s, "  - Name: Client Frontend EX01\n", "  - Name: Client Frontend EX01\n    AuthTarpitInterval: \"00:00:00\"\n", 1)
	})
	return startServer(t, cfg, "")
}

// TestBenchStartTLSAuthMergeReport: exlab bench --starttls --auth through Client Frontend (587)
// gets every message accepted (issue 14 point 5: before, every one failed at DATA and the run
// exited 0); two runs' --json merge with exlab bench merge; --report writes the page.
func TestBenchStartTLSAuthMergeReport(t *testing.T) {
	s := benchLab(t)
	cf := s.address("Client Frontend EX01")
	dir := t.TempDir()
	args := []string{"bench", "--target", cf, "--starttls", "--auth", "user1@contoso.test:P@ssw0rd", "--from", "user1@contoso.test",
		"--to", "user1@contoso.test", "--messages", "10", "--sessions", "2", "--per-session", "5", "--json"}
	var runs []string
	for i, report := range []string{"", filepath.Join(dir, "b.html")} {
		a := args
		if report != "" {
			a = append(append([]string{}, args...), "--report", report)
		}
		out, errOut, code := exlab(t, a...)
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s%s", i, code, out, errOut)
		}
		var res struct {
			Sent, Failed int64
			Replies      map[string]int64
			Latency      map[string]struct{ N int } // a session per 5 messages at most, each with STARTTLS and AUTH
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		var accepted int64
		for k, v := range res.Replies {
			if strings.HasPrefix(k, "250 ") {
				accepted += v
			}
		}
		if res.Sent != 10 || res.Failed != 0 || accepted != 10 || res.Latency["starttls"].N < 2 || res.Latency["auth"].N != res.Latency["starttls"].N {
			t.Fatalf("run %d: %+v\n%s", i, res, errOut)
		}
		name := filepath.Join(dir, []string{"a.json", "b.json"}[i])
		if err := os.WriteFile(name, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, name)
	}
	page, err := os.ReadFile(filepath.Join(dir, "b.html"))
	if err != nil || !strings.Contains(string(page), "<svg") || strings.Contains(string(page), "https://") {
		t.Errorf("--report: %v, %d bytes", err, len(page))
	}
	out, errOut, code := exlab(t, append([]string{"bench", "merge", "--report", filepath.Join(dir, "m.html")}, runs...)...)
	if code != 0 || !strings.Contains(out, ": 20 messages in") || !strings.Contains(out, "starttls") {
		t.Errorf("merge: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.html")); err != nil {
		t.Errorf("merge --report: %v", err)
	}
}

// TestBenchExitStatus: a run refused at MAIL (587 without AUTH: 530 5.7.57) exits 1 and warns
// that it measured refusals; the same run with an --expect naming the refusals exits 0.
func TestBenchExitStatus(t *testing.T) {
	s := benchLab(t)
	cf := s.address("Client Frontend EX01")
	out, errOut, code := exlab(t, "bench", "--target", cf, "--messages", "3", "--sessions", "1", "--per-session", "1")
	if code != 1 || !strings.Contains(out, "530 5.7.57") || !strings.Contains(errOut, "warning:") {
		t.Errorf("refused run: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = exlab(t, "bench", "--target", cf, "--messages", "3", "--sessions", "1", "--per-session", "1", "--expect", "530 5.7.57=3,sent=0")
	if code != 0 {
		t.Errorf("refusals expected: exit %d\n%s", code, errOut)
	}
	out, errOut, code = exlab(t, "bench", "--target", s.address("Default Frontend EX01"), "--duration", "1s", "--sessions", "2", "--per-session", "1")
	if code != 0 || !strings.Contains(out, ", 0 failed") {
		t.Errorf("--duration run: exit %d\n%s%s", code, out, errOut)
	}
}

// TestBenchRamp: a short ramp at small rates against Default Frontend holds a generous bound
// at every step, so the knee is the last one.
func TestBenchRamp(t *testing.T) {
	s := benchLab(t)
	out, errOut, code := exlab(t, "bench", "--target", s.address("Default Frontend EX01"), "--ramp", "10:10:20:1s", "--p99-bound", "3s", "--sessions", "4")
	if code != 0 || !strings.Contains(out, "knee: 20.0 msgs/s offered") || strings.Count(out, " ok\n") != 2 {
		t.Errorf("ramp: exit %d\n%s%s", code, out, errOut)
	}
}
