package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
)

// TestConsoleHealthAndStats: the two sources the web console adds to the API, on the real
// binary. /api/v1/health lists every binding, and names this test process as the owner of the
// port it holds before the server starts (Event 1020's cause). The event stream's stats events
// count the messages sent while it is open: accepted once each (frontend and hub), delivered, and
// the open sessions of the connector that holds one.
func TestConsoleHealthAndStats(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	s := startServer(t, labConfig(func(y string) string {
		i := strings.Index(y, "  - Name: Outbound Proxy Frontend EX01")
		j := i + strings.Index(y[i:], `Bindings: ["127.0.0.1:0"]`)
		return y[:j] + fmt.Sprintf(`Bindings: ["127.0.0.1:%d"]`, port) + y[j+len(`Bindings: ["127.0.0.1:0"]`):]
	}), "", "--admin-token", "console-token")
	addr, _ := os.ReadFile(filepath.Join(s.data, adminapi.AddrFile))
	base := "http://" + strings.TrimSpace(string(addr))
	get := func(ctx context.Context, path string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer console-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := get(context.Background(), adminapi.PathV1Health)
	var h adminapi.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h.Server != "EX01" || h.Ready {
		t.Errorf("health: server %q ready %v", h.Server, h.Ready)
	}
	seen := map[string]adminapi.HealthBinding{}
	for _, b := range h.Bindings {
		for _, c := range b.Connectors {
			seen[c] = b
		}
	}
	for _, c := range []string{`EX01\Default Frontend EX01`, `EX01\Client Frontend EX01`, `EX01\Default EX01`, `EX01\Client Proxy EX01`, `EX01\Default Mailbox Delivery EX01`} {
		if b, ok := seen[c]; !ok || !b.Listening || b.Address == "" {
			t.Errorf("%s: %+v", c, b)
		}
	}
	op := seen[`EX01\Outbound Proxy Frontend EX01`]
	if op.Listening || op.Service != "FrontEnd" || op.Binding != fmt.Sprintf("127.0.0.1:%d", port) || !strings.Contains(op.Error, "in use") {
		t.Errorf("the taken binding: %+v", op)
	}
	if op.Owner == nil || op.Owner.PID != os.Getpid() {
		t.Errorf("the taken port's owner: %+v, want this test (pid %d)", op.Owner, os.Getpid())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp = get(ctx, adminapi.PathV1Events+"?stats=1")
	defer resp.Body.Close()
	stats := make(chan adminapi.Stats, 128)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		kind := ""
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				kind = k
			}
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && kind == "stats" {
				var st adminapi.Stats
				if json.Unmarshal([]byte(d), &st) == nil {
					stats <- st
				}
			}
		}
	}()
	// A session held open on Default Frontend shows as one open session.
	idle, err := net.Dial("tcp", s.address("Default Frontend EX01"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_, _ = bufio.NewReader(idle).ReadString('\n')
	const n = 5
	for i := range n {
		if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"},
			fmt.Sprintf("Subject: stats %d\r\n\r\nbody\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	var last adminapi.Stats
	var rate float64
	openSeen := false
	phases := map[string]int{} // role/phase → the messages their percentiles counted
	for last.Totals.Accepted < n || last.Totals.Delivered < n || !openSeen {
		select {
		case last = <-stats:
			rate += last.Accepted * last.Interval
			for _, c := range last.Connectors {
				openSeen = openSeen || (c.Identity == `EX01\Default Frontend EX01` && c.Open >= 1)
			}
			for _, p := range last.Phases {
				phases[p.Role+"/"+p.Phase] += int(p.Count)
				if p.P50 <= 0 || p.P99 < p.P50 {
					t.Errorf("phase %+v", p)
				}
			}
		case <-ctx.Done():
			t.Fatalf("stats never counted %d messages and the open session: %+v", n, last)
		}
	}
	if last.Totals.Accepted != n || last.Totals.Refused != 0 || last.Queue.Pressure == "" {
		t.Errorf("totals %+v (each message is accepted once: by the hub), queue %+v", last.Totals, last.Queue)
	}
	if rate < n-0.01 || rate > n+0.01 {
		t.Errorf("the per-second rates add up to %.2f messages, want %d", rate, n)
	}
	// Each message ended one data phase on the frontend and one on the hub.
	if phases["FrontendTransport/data"] != n || phases["HubTransport/data"] != n {
		t.Errorf("phases counted %v", phases)
	}
}
