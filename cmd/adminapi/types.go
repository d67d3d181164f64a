// Package adminapi is the admin listener's HTTP API: the request and response types, the
// http.Handler a running server serves (Handler) and the Client the exlab commands use, so that
// both ends share one definition of every path and body. It owns no state of its own: queues,
// mailboxes, fault rules and the configuration belong to the hub, the queue database and the
// server it is given. It is what Exchange's remote PowerShell endpoint is to the cmdlets
// (Get-Queue, Get-Message, Set-ServerComponentState …), on a loopback listener with a token.
//
// Every refusal has one JSON shape, {"error": {"code": "...", "message": "..."}}, with the
// codes below; /livez and /readyz answer plain text for health checks, /metrics Prometheus'
// text format and /mailbox/content the message as message/rfc822.
package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/exlab/exlab/queue"
)

// Paths of the API (kept as they were before it was typed: scripts and tests use them).
const (
	PathMailbox        = "/mailbox"
	PathMailboxContent = "/mailbox/content"
	PathQueues         = "/queues"
	PathQueuesRetry    = "/queues/retry"
	PathQueuesSuspend  = "/queues/suspend" // Suspend-Queue; /queues/resume is Resume-Queue
	PathQueuesResume   = "/queues/resume"
	PathMessages       = "/messages"
	PathConfigApply    = "/config/apply"
	PathFaults         = "/faults"
	PathMaintenance    = "/maintenance"
	PathMetrics        = "/metrics"
	PathLivez          = "/livez"
	PathReadyz         = "/readyz"
)

// Error codes of ErrorBody.
const (
	CodeNotFound     = "not_found"    // no such queue, message or mailbox item (404)
	CodeBadRequest   = "bad_request"  // a parameter cannot be read (400)
	CodeInvalid      = "invalid"      // a configuration or rule that does not validate (422)
	CodeUnauthorized = "unauthorized" // the token is missing or wrong (401)
	CodeInternal     = "internal"     // anything else (500)
)

// Error is the one error shape of the API.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  string `json:"-"` // the HTTP status line, filled in by the Client
}

func (e *Error) Error() string {
	if e.Status != "" {
		return "admin listener: " + e.Status + ": " + e.Message
	}
	return e.Message
}

// Is makes a not_found refusal match queue.ErrNotFound, so callers treat a refusal of the
// running server like the error of a read from a stopped server's data directory.
func (e *Error) Is(target error) bool {
	return e.Code == CodeNotFound && errors.Is(target, queue.ErrNotFound)
}

// ErrorBody is the JSON body of every refusal.
type ErrorBody struct {
	Error Error `json:"error"`
}

// RetryResult answers POST /queues/retry (Retry-Queue).
type RetryResult struct{ Messages int }

// ActionResult answers POST /messages/{suspend,resume,remove}.
type ActionResult struct{ Identity string }

// FaultsSet answers POST /faults.
type FaultsSet struct{ Set int }

// FaultsCleared answers DELETE /faults.
type FaultsCleared struct{ Cleared int }

// ComponentState answers GET and PUT /maintenance (Get-/Set-ServerComponentState).
type ComponentState struct {
	Component string
	State     string
}

// Fault is one fault rule as GET /faults lists it, every value printed as the configuration
// writes it. The fields are in alphabetical order, the order the list had as a JSON object.
type Fault struct {
	Action      string
	Connector   string
	Count       string
	Detail      string
	Fired       string
	Match       string
	Name        string
	Probability string
	Remaining   string
	Step        string
}

// Column is the value of the field named name (the columns of exlab fault list).
func (f Fault) Column(name string) string {
	return map[string]string{"Action": f.Action, "Connector": f.Connector, "Count": f.Count, "Detail": f.Detail,
		"Fired": f.Fired, "Match": f.Match, "Name": f.Name, "Probability": f.Probability, "Remaining": f.Remaining, "Step": f.Step}[name]
}

// FaultRule is one rule for POST /faults as exlab fault set's flags give it; Body writes it as
// the configuration's Faults entry, which the server checks (config.ParseFaults).
type FaultRule struct {
	File                                                           string // a YAML or JSON file of Faults entries instead of the fields below
	Step                                                           string // Connect, Ehlo, StartTls, Auth, Mail, Rcpt, Data, EndOfData, Proxy
	Reply, ReplyId, Delay, BytesPerSecond                          string // the action: exactly one of these or Disconnect
	Disconnect                                                     bool
	Name, Connector, Probability, Sender, Recipient, RemoteIPRange string
	Count                                                          int
}

// Body is the rule as JSON; an error when Step is missing or not exactly one action is given.
func (r FaultRule) Body() ([]byte, error) {
	if r.File != "" {
		return os.ReadFile(r.File)
	}
	if r.Step == "" {
		return nil, fmt.Errorf("fault set: --step is required (or --file)")
	}
	m := map[string]any{"Step": r.Step}
	actions := 0
	for _, a := range []struct {
		on        bool
		action, k string
		v         string
	}{{r.Reply != "", "Reply", "Reply", r.Reply}, {r.ReplyId != "", "Reply", "ReplyId", r.ReplyId}, {r.Delay != "", "Delay", "Delay", r.Delay},
		{r.Disconnect, "Disconnect", "", ""}, {r.BytesPerSecond != "", "Bandwidth", "BytesPerSecond", r.BytesPerSecond}} {
		if a.on {
			actions++
			m["Action"] = a.action
			if a.k != "" {
				m[a.k] = a.v
			}
		}
	}
	if actions != 1 {
		return nil, fmt.Errorf("fault set: give exactly one of --reply, --reply-id, --delay, --disconnect, --bandwidth")
	}
	for k, v := range map[string]string{"Name": r.Name, "Connector": r.Connector, "Probability": r.Probability, "Sender": r.Sender, "Recipient": r.Recipient} {
		if v != "" {
			m[k] = v
		}
	}
	if r.Count != 0 {
		m["Count"] = strconv.Itoa(r.Count)
	}
	if r.RemoteIPRange != "" {
		m["RemoteIPRanges"] = []string{r.RemoteIPRange}
	}
	return json.Marshal(m)
}
