package format

import (
	"bytes"
	"strings"
	"testing"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport"
)

type rec struct {
	Identity string
	To       []string
	Count    int
}

func TestRecords(t *testing.T) {
	recs := []rec{{"EX01\\1", []string{"a@x", "b@x"}, 2}}
	for _, tc := range []struct {
		format string
		recs   []rec
		want   string
	}{
		{Table, recs, "Identity  To\nEX01\\1    {a@x, b@x}\n"},
		{List, recs, "Identity : EX01\\1\nTo       : {a@x, b@x}\nCount    : 2\n\n"},
		{JSON, nil, "[]\n"},
		{JSON, recs, "[\n  {\n    \"Identity\": \"EX01\\\\1\",\n    \"To\": [\n      \"a@x\",\n      \"b@x\"\n    ],\n    \"Count\": 2\n  }\n]\n"},
	} {
		var b bytes.Buffer
		if err := Records(&b, tc.format, tc.recs, []string{"Identity", "To"}); err != nil || b.String() != tc.want {
			t.Errorf("%s: %v\n%q\nwant\n%q", tc.format, err, b.String(), tc.want)
		}
	}
	if err := Records(&bytes.Buffer{}, "xml", recs, nil); err == nil || err.Error() != `--format: "xml" is not table, list or json` {
		t.Errorf("xml: %v", err)
	}
}

func TestTrackingFaultsRelays(t *testing.T) {
	var b bytes.Buffer
	e := transport.TrackingEntry{"event-id": "RECEIVE", "source": "SMTP", "sender-address": "a@x", "recipient-address": "b@x;c@x", "message-subject": "hi"}
	if err := Tracking(&b, Table, []transport.TrackingEntry{e}); err != nil || !strings.Contains(b.String(), "RECEIVE  SMTP    a@x     {b@x, c@x}  hi") {
		t.Errorf("tracking table: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := Faults(&b, Table, nil); err != nil || b.String() != "no fault rules\n" {
		t.Errorf("no faults: %v %q", err, b.String())
	}
	b.Reset()
	if err := Faults(&b, JSON, []adminapi.Fault{{Name: "f1", Step: "Rcpt"}}); err != nil || !strings.HasPrefix(b.String(), `[{"Action":"","Connector":"","Count":"","Detail":"","Fired":"","Match":"","Name":"f1"`) {
		t.Errorf("faults as JSON: %v %s", err, b.String())
	}
	if err := Faults(&b, List, nil); err == nil {
		t.Error("fault list --format list was accepted")
	}
	b.Reset()
	Relays(&b, []routing.RelayFinding{{Connector: `EX01\Relay`, Bindings: []string{"0.0.0.0:25"}, Problems: []string{"10.0.0.0/16 is wider than a /24"}}})
	if !strings.Contains(b.String(), `EX01\Relay  0.0.0.0:25`) || !strings.Contains(b.String(), "10.0.0.0/16 is wider than a /24") {
		t.Errorf("relays:\n%s", b.String())
	}
	b.Reset()
	Relays(&b, nil)
	if b.String() != "no receive connector lets anonymous clients relay\n" {
		t.Errorf("no relays: %q", b.String())
	}
}
