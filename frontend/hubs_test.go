package frontend

import (
	"errors"
	"testing"

	"github.com/exlab/exlab/transport/smtpsend"
)

// TestFailoverAndRetry: which failed hops go to the next hub: at the session's set-up (Begin)
// a connection failure or any 4xx; with the message read whole, also a 4xx to the envelope or
// a session that broke before the end of the data, never a hub's 5xx or a failure at the end
// of the data (the hub may have queued it).
func TestFailoverAndRetry(t *testing.T) {
	r := func(code int) *smtpsend.HubReply { return &smtpsend.HubReply{Code: code, Text: "x"} }
	for _, tc := range []struct {
		name                  string
		err                   error
		failover, retry, down bool
	}{
		{"connection refused", &smtpsend.Error{PRX: smtpsend.PRXConnect, Step: "connect", Err: errors.New("refused")}, true, true, true},
		{"no hub known", &smtpsend.Error{PRX: smtpsend.PRXNoDestination, Step: "connect", Err: smtpsend.ErrNoHub}, true, true, false},
		{"EHLO 421", &smtpsend.Error{PRX: smtpsend.PRXSessionSetup, Step: "hello", Hub: r(421)}, true, true, false},
		{"X-EXPS refused 535", &smtpsend.Error{PRX: smtpsend.PRXSessionSetup, Step: "auth", Hub: r(535)}, false, false, false},
		{"XPROXYFROM broken", &smtpsend.Error{PRX: smtpsend.PRXProtocol, Step: "xproxyfrom", Err: errors.New("EOF")}, true, true, false},
		{"MAIL 452 back pressure", &smtpsend.Error{Step: "mail", Hub: r(452)}, true, true, false},
		{"MAIL 550", &smtpsend.Error{Step: "mail", Hub: r(550)}, false, false, false},
		{"RCPT 451", &smtpsend.Error{PRX: smtpsend.PRXProtocol, Step: "rcpt", Hub: r(451)}, true, true, false},
		{"end of data broken", &smtpsend.Error{PRX: smtpsend.PRXProtocol, Step: "end-of-data", Err: errors.New("EOF")}, true, false, false},
		{"end of data 451", &smtpsend.Error{Step: "end-of-data", Hub: r(451)}, true, false, false},
		{"not a proxy error", errors.New("client gone"), false, false, false},
	} {
		if got := failover(tc.err); got != tc.failover {
			t.Errorf("%s: failover %v, want %v", tc.name, got, tc.failover)
		}
		if got := retryable(tc.err); got != tc.retry {
			t.Errorf("%s: retryable %v, want %v", tc.name, got, tc.retry)
		}
		if got := unreachable(tc.err); got != tc.down {
			t.Errorf("%s: unreachable %v, want %v", tc.name, got, tc.down)
		}
	}
}
