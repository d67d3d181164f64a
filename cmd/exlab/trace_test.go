package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTraces: with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a loopback OTLP/HTTP receiver of the
// test, one message gives one trace: the frontend's session and message spans, its proxy hop,
// and under it the hub's message span with its categorize and commit spans and, later, the
// send connector's delivery attempt.
func TestTraces(t *testing.T) {
	var mu sync.Mutex
	var spans []*tracepb.Span
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer rcv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	sh := startSmartHost(t)
	port := 0
	fmt.Sscanf(sh.addr[strings.LastIndexByte(sh.addr, ':')+1:], "%d", &port)
	s := startServer(t, queueLab(port, ""), "")
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test", "joe@fabrikam.test"},
		"Subject: traced\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(sh.messages()) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	waitSessionEnded(t, s.data) // the session span ends when the server sees the connection close
	s.stop()                    // the exporter flushes at shutdown

	mu.Lock()
	defer mu.Unlock()
	byName := map[string][]*tracepb.Span{}
	byID := map[string]*tracepb.Span{}
	for _, sp := range spans {
		byName[sp.Name] = append(byName[sp.Name], sp)
		byID[hex.EncodeToString(sp.SpanId)] = sp
	}
	parentOf := func(sp *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(sp.ParentSpanId)] }
	one := func(name string) *tracepb.Span {
		if len(byName[name]) == 0 {
			t.Fatalf("no %s span; got %v", name, names(spans))
		}
		return byName[name][0]
	}
	proxy, commit, categorize, deliver := one("smtp.proxy"), one("queue.commit"), one("queue.categorize"), one("queue.deliver")
	feMsg := parentOf(proxy)
	if feMsg == nil || feMsg.Name != "smtp.message" || parentOf(feMsg) == nil || parentOf(feMsg).Name != "smtp.session" {
		t.Errorf("the proxy span's ancestors: %v", feMsg)
	}
	hubMsg := parentOf(commit)
	if hubMsg == nil || hubMsg.Name != "smtp.message" || parentOf(hubMsg) != proxy || parentOf(categorize) != hubMsg || parentOf(deliver) != hubMsg {
		t.Errorf("the hub's message span is not under the proxy hop: %v", hubMsg)
	}
	for _, sp := range spans {
		if string(sp.TraceId) != string(proxy.TraceId) && sp.Name != "smtp.session" {
			t.Errorf("span %s is in another trace", sp.Name)
		}
	}
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
