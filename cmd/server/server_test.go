package server

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
)

func TestPickHub(t *testing.T) {
	srv := &config.Server{Name: "EX01"}
	rc := func(name string, groups ...config.PermissionGroup) *config.ReceiveConnector {
		return &config.ReceiveConnector{Name: name, PermissionGroups: groups}
	}
	def, cp := rc("Default EX01", config.ExchangeServers), rc("Client Proxy EX01", config.ExchangeServers)
	other, closed := rc("Other EX01", config.ExchangeServers), rc("Closed EX01", config.AnonymousUsers)
	v4, v6 := netip.MustParseAddrPort("127.0.0.1:2525"), netip.MustParseAddrPort("[::1]:2525")
	for _, tc := range []struct {
		name  string
		hub   string
		cands []hubCandidate
		want  *config.ReceiveConnector
		addr  netip.AddrPort
	}{
		{"Default over another", defaultHub, []hubCandidate{{other, v4}, {def, v4}}, def, v4},
		{"another when Default is missing", defaultHub, []hubCandidate{{cp, v4}, {closed, v4}, {other, v4}}, other, v4},
		{"never Client Proxy for inbound mail", defaultHub, []hubCandidate{{cp, v4}}, nil, netip.AddrPort{}},
		{"only open to Exchange servers", defaultHub, []hubCandidate{{closed, v4}}, nil, netip.AddrPort{}},
		{"IPv4 of the preferred one", defaultHub, []hubCandidate{{def, v6}, {def, v4}}, def, v4},
		{"the preferred one on IPv6 only", defaultHub, []hubCandidate{{other, v4}, {def, v6}}, def, v6},
		{"Client Proxy", clientProxy, []hubCandidate{{def, v4}, {cp, v6}}, cp, v6},
		{"no Client Proxy", clientProxy, []hubCandidate{{def, v4}, {other, v4}}, nil, netip.AddrPort{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pickHub(srv, tc.hub, tc.cands)
			if ok != (tc.want != nil) || got.rc != tc.want || got.addr != tc.addr {
				t.Errorf("got %v %v %v", ok, got.rc, got.addr)
			}
		})
	}
}

func TestConfiguredHub(t *testing.T) {
	org := config.Default()
	srv := &org.Servers[0]
	if got := configuredHub(org, srv, 10000, defaultHub); got != "127.0.0.1:12525" {
		t.Errorf("Default: %q", got)
	}
	if got := configuredHub(org, srv, 0, clientProxy); got != "127.0.0.1:465" {
		t.Errorf("Client Proxy: %q", got)
	}
}

func TestCheckPortOffset(t *testing.T) {
	org := config.Default()
	srv := &org.Servers[0]
	for _, tc := range []struct {
		offset int
		want   string
	}{{0, ""}, {10000, ""}, {63010, ""}, {63011, `EX01\Default EX01 would bind 0.0.0.0:2525 to port 65536`}, {-24, ""},
		{-25, `EX01\Default Frontend EX01 would bind [::]:25 to port 0`}} {
		err := CheckPortOffset(org, srv, tc.offset)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("offset %d: %v, want %q", tc.offset, err, tc.want)
		}
	}
	for _, tc := range []struct{ flag, want string }{{"off", ""}, {"", "127.0.0.1:8471"}, {"127.0.0.1:0", "127.0.0.1:0"}} {
		if got, err := AdminAddress(tc.flag, 1); err != nil || got != tc.want {
			t.Errorf("--admin %q: %q %v", tc.flag, got, err)
		}
	}
	for _, flag := range []string{"nonsense", "127.0.0.1:http", "127.0.0.1:70000"} {
		if _, err := AdminAddress(flag, 0); err == nil {
			t.Errorf("--admin %q accepted", flag)
		}
	}
	if _, err := AdminAddress("", 60000); err == nil {
		t.Error("the default admin port shifted out of range was accepted")
	}
}

// syncBuffer is Run's stderr, read by the test while the services write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (s *syncBuffer) wait(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(s.String(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in\n%s", text, s.String())
		}
	}
}

// TestRun starts both services in process on ephemeral ports, talks to the admin listener,
// re-reads the configuration and stops.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "org.yaml")
	y := regexp.MustCompile(`(?m)^(\s*)Bindings: .*$`).ReplaceAllString(string(config.DefaultYAML), `${1}Bindings: ["127.0.0.1:0"]`)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var stderr syncBuffer
	reload := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfg, DataDir: data, Admin: "127.0.0.1:0", LogLevel: "warn", Frontend: true, Hub: true,
			Stderr: &stderr, Reload: reload})
	}()
	// five configured connectors and the Mailbox Transport ports 475-477
	stderr.wait(t, "every connector listens (8 bindings)")
	for _, c := range []string{"Default Frontend EX01", "Client Frontend EX01", "Outbound Proxy Frontend EX01", "Default EX01", "Client Proxy EX01"} {
		if !strings.Contains(stderr.String(), `exlab: EX01\`+c+" listening on 127.0.0.1:") {
			t.Errorf("%s does not listen:\n%s", c, stderr.String())
		}
	}
	cl := adminapi.Dial(data)
	if cl == nil {
		t.Fatalf("no admin listener:\n%s", stderr.String())
	}
	if qs, err := cl.Queues(); err != nil || len(qs) == 0 {
		t.Errorf("Get-Queue: %v %v", qs, err)
	}
	if st, err := cl.SetMaintenance(true); err != nil || st.State != "Inactive" {
		t.Errorf("maintenance on: %v %v", st, err)
	}
	if err := cl.MessageAction("suspend", `EX01\Nowhere\1`, transport.WithoutNDR); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("suspending a message that does not exist: %v", err)
	}
	if err := cl.ApplyConfig(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "admin listener: 422") {
		t.Errorf("applying a missing file: %v", err)
	}
	reload <- struct{}{}
	stderr.wait(t, "exlab: configuration "+cfg+" applied")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("Run did not return")
	}
	if !strings.Contains(stderr.String(), "context canceled: stopping") || !strings.HasSuffix(stderr.String(), "exlab: stopped\n") {
		t.Errorf("no clean stop:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, adminapi.AddrFile)); !os.IsNotExist(err) {
		t.Errorf("admin.addr left behind: %v", err)
	}
}

func TestCheckAdminExposure(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"", "", true}, // off
		{"127.0.0.1:8470", "", true},
		{"127.0.0.2:8470", "", true},
		{"[::1]:8470", "", true},
		{"localhost:8470", "", true},
		{"0.0.0.0:8470", "", false},
		{"[::]:8470", "", false},
		{"192.0.2.10:8470", "", false},
		{":8470", "", false}, // every address
		{"0.0.0.0:8470", "set", true},
		{"192.0.2.10:8470", "set", true},
	} {
		if err := CheckAdminExposure(c.addr, c.token); (err == nil) != c.ok {
			t.Errorf("%q token %q: %v", c.addr, c.token, err)
		}
	}
}
