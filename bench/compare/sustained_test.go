package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRSSStats(t *testing.T) {
	tests := []struct {
		name    string
		samples []int64
		warmup  int
		lo, hi  int64
		flat    bool
	}{
		{name: "flat after warm-up", samples: []int64{10, 50, 100, 100, 105, 95, 100}, warmup: 2, lo: 95, hi: 105, flat: true},
		{name: "growing", samples: []int64{100, 100, 110, 120, 130, 140}, warmup: 1, lo: 100, hi: 140, flat: false},
		{name: "edge: exactly 10% above the mean", samples: []int64{90, 110}, warmup: 0, lo: 90, hi: 110, flat: true},
		{name: "too few samples", samples: []int64{100, 100}, warmup: 2, flat: false},
	}
	for _, tc := range tests {
		lo, hi, flat := rssStats(tc.samples, tc.warmup)
		if lo != tc.lo || hi != tc.hi || flat != tc.flat {
			t.Errorf("%s: rssStats = %d, %d, %v; want %d, %d, %v", tc.name, lo, hi, flat, tc.lo, tc.hi, tc.flat)
		}
	}
}

func TestQueuedMessages(t *testing.T) {
	tests := []struct {
		out     string
		want    int
		wantErr bool
	}{
		{out: `[]`, want: 0},
		{out: `[{"Identity":"EX01\\Submission","DeliveryType":"Undefined","Status":"Ready","MessageCount":3},{"Identity":"EX01\\2","MessageCount":4}]`, want: 7},
		{out: `not json`, wantErr: true},
	}
	for _, tc := range tests {
		got, err := queuedMessages([]byte(tc.out))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("queuedMessages(%s) = %d, %v; want %d, error %v", tc.out, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRefusals(t *testing.T) {
	got := refusals(map[string]int64{"250 2.6.0": 100, "452 4.3.1": 3, "550 5.1.10": 2, "421 4.3.2": 1})
	if got != 6 {
		t.Errorf("refusals = %d, want 6", got)
	}
}

func TestSusConfig(t *testing.T) {
	if _, err := susConfig("Servers: []\n", susSinkAddr); err == nil {
		t.Error("susConfig accepted a config without SendConnectors: []")
	}
	// Against the real embedded default: the result must pass exlab config validate.
	if testing.Short() {
		t.Skip("builds exlab")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "exlab")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/exlab").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
	def, err := exec.Command(bin, "config", "default").Output()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := susConfig(benchConfig(string(def), false), susSinkAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`AddressSpaces: ["SMTP:sink.test;1"]`, `SmartHosts: ["[127.0.0.1]:20029"]`, "MessageRateLimit: Unlimited", "MaxInboundConnectionPerSource: Unlimited"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("sustained config lacks %q", want)
		}
	}
	path := filepath.Join(dir, "sustained.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "validate", path).CombinedOutput(); err != nil {
		t.Errorf("exlab config validate: %v\n%s", err, out)
	}
}
