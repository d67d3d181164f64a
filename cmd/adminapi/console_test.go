package adminapi

import (
	"bufio"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// TestConsoleLogin: the console's sign-in takes the admin token and nothing else, sets an
// HttpOnly SameSite=Strict cookie that the API then accepts, and a change made with the cookie
// alone (what a form on another site could send) is refused.
func TestConsoleLogin(t *testing.T) {
	a := newAPIServer(t)
	post := func(path, body string, hdr map[string]string, cookies ...*http.Cookie) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := (&http.Client{Transport: a.val}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(PathV1Login, `{"Token":"wrong"}`, nil); r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 {
		t.Errorf("wrong token: %d %v", r.StatusCode, r.Cookies())
	}
	r := post(PathV1Login, `{"Token":"secret"}`, nil)
	if r.StatusCode != http.StatusNoContent || len(r.Cookies()) != 1 {
		t.Fatalf("login: %d %v", r.StatusCode, r.Cookies())
	}
	ck := r.Cookies()[0]
	if ck.Name != ConsoleCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Errorf("cookie %+v", ck)
	}
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+PathV1EventLog, nil)
	req.AddCookie(ck)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET with the cookie: %d", resp.StatusCode)
	}
	if r := post(PathV1Shell, `{"Script":"Get-Queue"}`, nil, ck); r.StatusCode != http.StatusForbidden {
		t.Errorf("a change with the cookie and without %s: %d, want 403", ConsoleHeader, r.StatusCode)
	}
	// With the header the request passes the token check (this handler has no Shell: 404).
	if r := post(PathV1Shell, `{"Script":"Get-Queue"}`, map[string]string{ConsoleHeader: "1"}, ck); r.StatusCode != http.StatusNotFound {
		t.Errorf("a change with the cookie and the header: %d, want past the token check", r.StatusCode)
	}
	if r := post(PathV1Logout, ``, nil); r.StatusCode != http.StatusNoContent || len(r.Cookies()) != 1 || r.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d %v", r.StatusCode, r.Cookies())
	}
}

func TestQuantile(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1}
	for _, c := range []struct {
		counts []uint64
		q      float64
		want   float64
	}{
		{[]uint64{10, 0, 0, 0}, 0.5, 0.0005},            // half way into the first bucket
		{[]uint64{0, 10, 0, 0}, 0.5, 0.0055},            // half way from 1 ms to 10 ms
		{[]uint64{50, 50, 0, 0}, 0.99, 0.001 + 0.00882}, // 49 of the second bucket's 50
		{[]uint64{0, 0, 0, 4}, 0.5, 0.1},                // beyond the last bound: the last bound
		{[]uint64{1, 0, 0, 1}, 0.5, 0.001},
	} {
		var n uint64
		for _, x := range c.counts {
			n += x
		}
		if got := quantile(c.counts, n, bounds, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.counts, c.q, got, c.want)
		}
	}
}

// TestStatsBetweenSamples: rates are the counters' differences over the interval; the hub's
// acknowledgements make Accepted (a proxied message counts once), every frontend and hub
// refusal makes Refused, and the phase percentiles come from the histogram's difference only.
func TestStatsBetweenSamples(t *testing.T) {
	fe := &config.ReceiveConnector{Name: "Default Frontend EX01", Server: "EX01", TransportRole: config.FrontendTransport}
	hub := &config.ReceiveConnector{Name: "Default EX01", Server: "EX01", TransportRole: config.HubTransport}
	m := smtpreceive.NewMetrics()
	delivered := int64(0)
	src := &StatsSource{Metrics: m, Delivered: func() int64 { return delivered },
		Queue:    func() (string, int64) { return "Normal", 7 },
		Sessions: func() map[*config.ReceiveConnector]int64 { return map[*config.ReceiveConnector]int64{fe: 3, hub: 1} }}
	t0 := time.Unix(1000, 0)
	for range 100 {
		m.Phase(fe, "data", 20*time.Second) // before the interval: must not show in it
	}
	prev := src.sample(t0)
	prev.accepted = map[string]int64{fe.Identity(): 100, hub.Identity(): 100}
	prev.refused = map[string]int64{fe.Identity(): 4}
	prev.replies = map[int]int64{250: 300, 550: 4}
	for range 10 {
		m.Phase(fe, "data", 2*time.Millisecond)
	}
	delivered = 40
	cur := src.sample(t0.Add(2 * time.Second))
	cur.role = map[string]string{fe.Identity(): string(fe.TransportRole), hub.Identity(): string(hub.TransportRole)}
	cur.accepted = map[string]int64{fe.Identity(): 140, hub.Identity(): 140}
	cur.refused = map[string]int64{fe.Identity(): 8, hub.Identity(): 2}
	cur.replies = map[int]int64{250: 380, 550: 10}
	st := src.stats(prev, cur)
	if st.Interval != 2 || st.Accepted != 20 || st.Delivered != 20 || st.Refused != 3 {
		t.Errorf("rates: interval %v accepted %v delivered %v refused %v", st.Interval, st.Accepted, st.Delivered, st.Refused)
	}
	if st.Totals != (StatsTotals{Accepted: 140, Delivered: 40, Refused: 10}) {
		t.Errorf("totals %+v", st.Totals)
	}
	if st.Replies["250"] != 40 || st.Replies["550"] != 3 {
		t.Errorf("replies %v", st.Replies)
	}
	if len(st.Connectors) != 2 || st.Connectors[0].Identity != fe.Identity() || st.Connectors[0].Open != 3 || st.Connectors[0].Accepted != 20 {
		t.Errorf("connectors %+v", st.Connectors)
	}
	if len(st.Phases) != 1 || st.Phases[0].Count != 10 || st.Phases[0].P99 > 0.0025 || st.Phases[0].P50 < 0.001 {
		t.Errorf("phases %+v (the 20 s phases were before the interval)", st.Phases)
	}
	if st.Queue != (QueueStats{Messages: 7, Pressure: "Normal"}) {
		t.Errorf("queue %+v", st.Queue)
	}
}

// TestV1EventsTypes: ?types= sends only the types asked for (a dashboard is not sent every
// delivery of a load test), and refuses a type that does not exist.
func TestV1EventsTypes(t *testing.T) {
	a := newAPIServer(t)
	if r := a.get(t, PathV1Events+"?types=stats,bogus"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("types=bogus: %d", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+PathV1Events+"?types=tracking", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, ":") {
		t.Fatalf("first line %q %v", l, err)
	}
	a.deliver(t, "a@example.org", []string{"user1@contoso.test"}, simple("t1", "not sent", "x"), time.Now().UTC())
	time.Sleep(100 * time.Millisecond) // a delivery event would be written by now
	a.tracking <- transport.TrackingEntry{"event-id": "RECEIVE", "message-id": "<t1@example.org>"}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "event: ") {
			if l != "event: tracking\n" {
				t.Errorf("with types=tracking the stream sent %q", l)
			}
			return
		}
	}
}
