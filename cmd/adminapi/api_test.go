package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// fakeHub has one queue and no messages.
type fakeHub struct{}

func (fakeHub) Queues() []transport.QueueInfo {
	return []transport.QueueInfo{{Identity: `EX01\Submission`}}
}
func (fakeHub) Messages(q string) ([]transport.MessageInfo, error) {
	if q != "" {
		return nil, transport.ErrNoSuchQueue
	}
	return nil, nil
}
func (fakeHub) RetryQueue(string, transport.RetryMode) (int, error) { return 3, nil }
func (fakeHub) MessageAction(string, string, transport.NDRChoice) error {
	return transport.ErrNoSuchMessage
}

func TestClientAndHandler(t *testing.T) {
	faults := &smtpreceive.Faults{}
	h := Handler(Options{Token: "secret", Hub: fakeHub{}, Faults: faults, Org: config.Default,
		Apply: func(string) error { return errors.New("no such file") }, Unbound: func() []string { return nil }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := NewClient(addr, "secret")

	if qs, err := c.Queues(); err != nil || len(qs) != 1 || qs[0].Identity != `EX01\Submission` {
		t.Errorf("Queues: %v %v", qs, err)
	}
	if n, err := c.RetryQueue(`EX01\Submission`, transport.Resubmit); err != nil || n != 3 {
		t.Errorf("RetryQueue: %d %v", n, err)
	}
	// Refusals have one shape; not_found matches queue.ErrNotFound.
	_, err := c.Messages(`EX01\Nowhere`)
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != CodeNotFound || !errors.Is(err, queue.ErrNotFound) || !strings.HasPrefix(err.Error(), "admin listener: 404 Not Found: ") {
		t.Errorf("Messages of a queue that does not exist: %#v", err)
	}
	if err := c.MessageAction("remove", "x", transport.WithNDR); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("MessageAction: %v", err)
	}
	if err := c.ApplyConfig("/nowhere.yaml"); !errors.As(err, &ae) || ae.Code != CodeInvalid || ae.Message != "no such file" {
		t.Errorf("ApplyConfig: %v", err)
	}
	if _, err := c.SetFault(FaultRule{Step: "Rcpt", ReplyId: "R999"}); !errors.As(err, &ae) || ae.Code != CodeInvalid || !strings.Contains(ae.Message, "ReplyId") {
		t.Errorf("a bad rule: %v", err)
	}
	if n, err := c.SetFault(FaultRule{Step: "Rcpt", Disconnect: true, Name: "cut", Count: 2}); err != nil || n != 1 {
		t.Errorf("SetFault: %d %v", n, err)
	}
	if fs, err := c.Faults(); err != nil || len(fs) != 1 || fs[0].Name != "cut" || fs[0].Action != "Disconnect" || fs[0].Count != "2" || fs[0].Connector != "*" {
		t.Errorf("Faults: %+v %v", fs, err)
	}
	if n, err := c.ClearFaults(""); err != nil || n != 1 {
		t.Errorf("ClearFaults: %d %v", n, err)
	}
	if st, err := c.SetMaintenance(true); err != nil || st != (ComponentState{"HubTransport", "Inactive"}) {
		t.Errorf("SetMaintenance: %v %v", st, err)
	}
	if text, ok, err := Readyz(addr); err != nil || !ok || text != "ok: every enabled connector listens\n" {
		t.Errorf("Readyz: %q %v %v", text, ok, err)
	}

	// Without the token: 401 in the same shape.
	resp, err := http.Get(srv.URL + PathQueues)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusUnauthorized || body.Error.Code != CodeUnauthorized {
		t.Errorf("no token: %d %+v %v", resp.StatusCode, body, err)
	}
}

func TestFaultRuleBody(t *testing.T) {
	for _, tc := range []struct {
		r    FaultRule
		want string
	}{
		{FaultRule{Step: "Mail", Delay: "00:00:01"}, `{"Action":"Delay","Delay":"00:00:01","Step":"Mail"}`},
		{FaultRule{Step: "Rcpt", Reply: "451 4.7.0 x", RemoteIPRange: "10.0.0.0/8", Count: 1},
			`{"Action":"Reply","Count":"1","RemoteIPRanges":["10.0.0.0/8"],"Reply":"451 4.7.0 x","Step":"Rcpt"}`},
		{FaultRule{Step: "Data", BytesPerSecond: "64 KB", Sender: "*@x"}, `{"Action":"Bandwidth","BytesPerSecond":"64 KB","Sender":"*@x","Step":"Data"}`},
		{FaultRule{Step: "Rcpt"}, "error"},
		{FaultRule{Step: "Rcpt", Disconnect: true, Delay: "00:00:01"}, "error"},
		{FaultRule{Disconnect: true}, "error"},
	} {
		b, err := tc.r.Body()
		if got := string(b); (err != nil && tc.want != "error") || (err == nil && got != tc.want) {
			t.Errorf("%+v: %s %v, want %s", tc.r, got, err, tc.want)
		}
	}
}
