package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// scrape reads the server's /metrics (no token needed) and returns the value of the sample
// whose name and labels contain every part of want.
func scrape(t *testing.T, data string) string {
	t.Helper()
	addr, err := os.ReadFile(filepath.Join(data, adminAddr))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + strings.TrimSpace(string(addr)) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func sample(t *testing.T, metrics, name string, labels ...string) float64 {
	t.Helper()
	for _, l := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		ok := true
		for _, want := range labels {
			ok = ok && strings.Contains(l, want)
		}
		if ok {
			v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return -1
}

// TestMetrics: after a known load, /metrics (OpenTelemetry's Prometheus exporter) counts what
// happened: messages and replies per connector, the proxy hops, every phase's histogram, the
// queue depth; /livez and /readyz answer, and exlab readyz exits 0.
func TestMetrics(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	fe := s.address("Default Frontend EX01")
	for i := 0; i < 4; i++ {
		if err := sendMail(t, fe, "a@example.org", []string{"user1@contoso.test"}, fmt.Sprintf("Subject: m%d\r\n\r\nx\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sendMail(t, fe, "a@example.org", []string{"x@elsewhere.example"}, "Subject: relay\r\n\r\nx\r\n"); err == nil {
		t.Fatal("relay accepted")
	}
	m := scrape(t, s.data)
	feL, hubL := `connector="EX01\\Default Frontend EX01"`, `connector="EX01\\Default EX01"`
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"exlab_smtp_messages_accepted_total", []string{feL, `role="FrontendTransport"`}, 4},
		{"exlab_smtp_messages_accepted_total", []string{hubL, `role="HubTransport"`}, 4},
		{"exlab_smtp_sessions_total", []string{feL}, 5},
		{"exlab_smtp_replies_total", []string{feL, `code="550"`, `enhanced_code="5.7.54"`}, 1},
		{"exlab_smtp_replies_total", []string{hubL, `code="250"`, `enhanced_code="2.6.0"`}, 4},
		{"exlab_smtp_commands_total", []string{feL, `command="rcpt"`}, 5},
		{"exlab_proxy_attempts_total", []string{feL}, 4},
		{"exlab_smtp_phase_duration_seconds_count", []string{feL, `phase="data"`}, 4},
		{"exlab_smtp_phase_duration_seconds_count", []string{feL, `phase="proxy"`}, 4},
		{"exlab_smtp_phase_duration_seconds_count", []string{feL, `phase="transfer"`}, 4},
		{"exlab_smtp_phase_duration_seconds_count", []string{hubL, `phase="transfer"`}, 4},
		{"exlab_smtp_phase_duration_seconds_count", []string{feL, `phase="banner"`}, 5},
		{"exlab_smtp_phase_duration_seconds_count", []string{hubL, `phase="queue_commit"`}, 4},
		{"exlab_queue_depth", []string{`queue="EX01\\Submission"`}, 0},
	} {
		if got := sample(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if !regexp.MustCompile(`exlab_smtp_phase_duration_seconds_bucket\{[^}]*phase="mail"[^}]*le="0.001"`).MatchString(m) {
		t.Error("no histogram buckets for the mail phase")
	}
	if t.Failed() {
		t.Log(m)
	}
	for _, p := range []string{"/livez", "/readyz"} {
		addr, _ := os.ReadFile(filepath.Join(s.data, adminAddr))
		resp, err := http.Get("http://" + strings.TrimSpace(string(addr)) + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %v %v", p, err, resp)
		}
	}
	if out, errOut, code := exlab(t, "readyz", "--data", s.data); code != 0 || !strings.Contains(out, "every enabled connector listens") {
		t.Errorf("exlab readyz: %d %s %s", code, out, errOut)
	}
}
