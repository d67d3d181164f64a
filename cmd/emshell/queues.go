package emshell

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/transport"
)

// The default tables of the queue viewer cmdlets (spec §8.2 [O]).
var (
	queueView   = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Identity"}, {Property: "DeliveryType"}, {Property: "Status"}, {Property: "MessageCount", Right: true}, {Property: "Velocity", Right: true}, {Property: "LastError"}, {Property: "NextHopDomain"}}}
	messageView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "Identity"}, {Property: "FromAddress"}, {Property: "Status"}, {Property: "Queue"}, {Property: "Subject"}}}
	// Get-MessageTrackingLog: `EventId  Source  Sender  Recipients  MessageSubject` (spec §11, MS-MT).
	trackingView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "EventId"}, {Property: "Source"}, {Property: "Sender"}, {Property: "Recipients"}, {Property: "MessageSubject"}}}
)

func queueObject(q transport.QueueInfo) *shell.Object {
	o := shell.NewObject("Microsoft.Exchange.Data.QueueViewer.ExtensibleQueueInfo",
		"DeliveryType", q.DeliveryType, "NextHopDomain", q.NextHopDomain, "Status", q.Status, "MessageCount", int64(q.MessageCount),
		"LastError", q.LastError, "LastRetryTime", timeOrNull(q.LastRetryTime), "NextRetryTime", timeOrNull(q.NextRetryTime),
		"RiskLevel", "Normal", "OutboundIPPool", int64(0), "Velocity", int64(0), "Identity", q.Identity)
	o.View = queueView
	return o
}

func messageObject(m transport.MessageInfo) *shell.Object {
	rs := make([]any, len(m.Recipients))
	for i, r := range m.Recipients {
		rs[i] = r
	}
	o := shell.NewObject("Microsoft.Exchange.Data.QueueViewer.ExtensibleMessageInfo",
		"DateReceived", m.DateReceived, "ExpirationTime", timeOrNull(m.ExpirationTime), "FromAddress", m.FromAddress,
		"Identity", m.Identity, "InternetMessageId", m.InternetMessageId, "LastError", m.LastError, "Queue", m.Queue,
		"Recipients", rs, "RetryCount", int64(m.RetryCount), "Size", m.Size, "Status", m.Status, "Subject", m.Subject)
	o.View = messageView
	return o
}

func (s *Shell) queueCmdlets() []*shell.Cmdlet {
	const ns = "Microsoft.Exchange.Management.QueueViewerTasks."
	filterParam := shell.Param{Name: "Filter", Type: shell.String, Help: `an OPath filter, e.g. "MessageCount -gt 0"`}
	getQueue := &shell.Cmdlet{Name: "Get-Queue", Synopsis: "Use the Get-Queue cmdlet to view configuration information for queues on Mailbox servers and Edge Transport servers.",
		ClassName: ns + "GetQueueInfo", View: queueView,
		Params: []shell.Param{{Name: "Identity", Type: shell.String, Position: 1, TypeName: "QueueIdentity"}, filterParam, {Name: "Server", Type: shell.String}},
		Process: func(c *shell.Call) error {
			qs, err := s.b.Queues()
			if err != nil {
				return s.failure(c, err)
			}
			id := c.String("Identity")
			found := false
			for _, q := range qs {
				if id != "" && !queueMatches(q, id) {
					continue
				}
				o := queueObject(q)
				if ok, err := s.opath(c, o); err != nil {
					return err
				} else if !ok {
					continue
				}
				found = true
				c.Write(o)
			}
			if !found && id != "" && !strings.ContainsAny(id, "*?") {
				return s.notFound(c, id)
			}
			return nil
		}}
	getMessage := &shell.Cmdlet{Name: "Get-Message", Synopsis: "Use the Get-Message cmdlet to view the details of one or more messages in queues on Mailbox servers or Edge Transport servers.",
		ClassName: ns + "GetMessageInfo", View: messageView,
		Params: []shell.Param{{Name: "Identity", Type: shell.String, Position: 1, TypeName: "MessageIdentity"},
			{Name: "Queue", Type: shell.Any, FromPipeline: true, TypeName: "QueueIdentity"}, filterParam, {Name: "Server", Type: shell.String}},
		Process: func(c *shell.Call) error {
			queue := identityOf(c.Value("Queue"))
			ms, err := s.b.Messages(queue)
			if err != nil {
				return s.failure(c, err)
			}
			id := c.String("Identity")
			for _, m := range ms {
				if id != "" && !strings.EqualFold(m.Identity, id) && !(strings.ContainsAny(id, "*?") && shell.Like(m.Identity, id)) {
					continue
				}
				o := messageObject(m)
				if ok, err := s.opath(c, o); err != nil {
					return err
				} else if ok {
					c.Write(o)
				}
			}
			return nil
		}}
	retry := &shell.Cmdlet{Name: "Retry-Queue", Synopsis: "Use the Retry-Queue cmdlet to force a connection attempt for a queue on a Mailbox server or an Edge Transport server.",
		ClassName: ns + "RetryQueue", SupportsShouldProcess: true,
		Params: []shell.Param{{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "QueueIdentity"}, {Name: "Resubmit", Type: shell.Bool}},
		Process: func(c *shell.Call) error {
			id := identityOf(c.Value("Identity"))
			if !c.ShouldProcess(id, "Retrying queue") {
				return nil
			}
			if _, err := s.b.RetryQueue(id, adminapi.RetryModeOf(c.Bool("Resubmit"))); err != nil {
				return s.queueError(c, id, err)
			}
			return nil
		}}
	out := []*shell.Cmdlet{getQueue, getMessage, retry}
	for _, x := range []struct {
		verb, what string
		suspend    bool
	}{{"Suspend", "Suspending queue", true}, {"Resume", "Resuming queue", false}} {
		out = append(out, &shell.Cmdlet{Name: x.verb + "-Queue", Synopsis: "Use the " + x.verb + "-Queue cmdlet to " + strings.ToLower(x.verb) + " processing on a queue on a Mailbox server or an Edge Transport server.",
			ClassName: ns + x.verb + "Queue", SupportsShouldProcess: true,
			Params: []shell.Param{{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, TypeName: "QueueIdentity"}, filterParam, {Name: "Server", Type: shell.String}},
			Process: func(c *shell.Call) error {
				qs, ok := s.b.(queueSuspender)
				if !ok {
					return s.failure(c, fmt.Errorf("%s-Queue needs the running Transport service", x.verb))
				}
				var ids []string
				if id := identityOf(c.Value("Identity")); id != "" {
					ids = []string{id}
				} else if c.IsSet("Filter") { // -Filter: every queue it selects
					all, err := s.b.Queues()
					if err != nil {
						return s.failure(c, err)
					}
					for _, q := range all {
						if ok, err := s.opath(c, queueObject(q)); err != nil {
							return err
						} else if ok {
							ids = append(ids, q.Identity)
						}
					}
				}
				for _, id := range ids {
					if !c.ShouldProcess(id, x.what) {
						continue
					}
					if err := qs.SuspendQueue(id, x.suspend); err != nil {
						var ae *adminapi.Error
						if errors.As(err, &ae) && ae.Code == adminapi.CodeInvalid {
							rec := shell.NewError(shell.InvalidOperation, "QueueViewerException", "", "%s", ae.Message)
							rec.ErrorID = s.errorID(c, rec.Reason, "7D3A51C8")
							return rec
						}
						return s.queueError(c, id, err)
					}
				}
				return nil
			}})
	}
	for _, x := range []struct{ verb, action, what string }{{"Suspend", "suspend", "Suspending message"}, {"Resume", "resume", "Resuming message"}, {"Remove", "remove", "Removing message"}} {
		params := []shell.Param{{Name: "Identity", Type: shell.Any, Position: 1, FromPipeline: true, Mandatory: true, TypeName: "MessageIdentity"}}
		if x.verb == "Remove" {
			params = append(params, shell.Param{Name: "WithNDR", Type: shell.Bool, Help: "send an NDR to the sender (default $true)"})
		}
		out = append(out, &shell.Cmdlet{Name: x.verb + "-Message", Synopsis: "Use the " + x.verb + "-Message cmdlet on a message in a queue.",
			ClassName: ns + x.verb + "Message", SupportsShouldProcess: true, HighImpact: x.verb == "Remove", Params: params,
			Process: func(c *shell.Call) error {
				id := identityOf(c.Value("Identity"))
				if !c.ShouldProcess(id, x.what) {
					return nil
				}
				withNDR := !c.IsSet("WithNDR") || c.Bool("WithNDR")
				if err := s.b.MessageAction(x.action, id, adminapi.NDRChoiceOf(withNDR)); err != nil {
					return s.queueError(c, id, err)
				}
				return nil
			}})
	}
	tracking := &shell.Cmdlet{Name: "Get-MessageTrackingLog", Synopsis: "Use the Get-MessageTrackingLog cmdlet to search for message delivery information stored in the message tracking log.",
		ClassName: "Microsoft.Exchange.Management.TransportLogSearchTasks.GetMessageTrackingLog", View: trackingView,
		Params: []shell.Param{{Name: "Sender", Type: shell.String}, {Name: "Recipients", Type: shell.Strings}, {Name: "EventId", Type: shell.String},
			{Name: "MessageId", Type: shell.String}, {Name: "InternalMessageId", Type: shell.String}, {Name: "MessageSubject", Type: shell.String},
			{Name: "Start", Type: shell.DateTime}, {Name: "End", Type: shell.DateTime}, {Name: "Server", Type: shell.String},
			{Name: "ResultSize", Type: shell.String, Help: "a number or Unlimited (default 1000)"}},
		Process: func(c *shell.Call) error {
			q := adminapi.TrackingQuery{Sender: c.String("Sender"), EventID: c.String("EventId"), MessageID: c.String("MessageId")}
			if q.MessageID == "" {
				q.MessageID = c.String("InternalMessageId")
			}
			if rs := c.Strings("Recipients"); len(rs) > 0 {
				q.Recipient = rs[0]
			}
			if c.IsSet("Start") {
				q.Start = c.Time("Start")
			}
			if c.IsSet("End") {
				q.End = c.Time("End")
			}
			es, err := s.b.SearchTracking(c.Ctx, q)
			if err != nil {
				return s.failure(c, err)
			}
			limit := 1000
			if rs := c.String("ResultSize"); strings.EqualFold(rs, "Unlimited") {
				limit = len(es)
			} else if c.IsSet("ResultSize") {
				limit = int(c.Int("ResultSize"))
			}
			subj := c.String("MessageSubject")
			n := 0
			for _, e := range es {
				if subj != "" && !strings.Contains(strings.ToLower(e["message-subject"]), strings.ToLower(subj)) {
					continue
				}
				if n >= limit {
					c.WriteWarning("There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.")
					break
				}
				n++
				c.Write(trackingObject(e))
			}
			return nil
		}}
	return append(out, tracking)
}

// trackingObject is one tracking entry with Get-MessageTrackingLog's property names.
func trackingObject(e transport.TrackingEntry) *shell.Object {
	split := func(f string) []any {
		var out []any
		for _, r := range strings.Split(e[f], ";") {
			if r != "" {
				out = append(out, r)
			}
		}
		return out
	}
	o := shell.NewObject("Microsoft.Exchange.Management.TransportLogSearchTasks.MessageTrackingEvent",
		"Timestamp", e["date-time"], "ClientIp", e["client-ip"], "ClientHostname", e["client-hostname"], "ServerIp", e["server-ip"],
		"ServerHostname", e["server-hostname"], "SourceContext", e["source-context"], "ConnectorId", e["connector-id"], "Source", e["source"],
		"EventId", e["event-id"], "InternalMessageId", e["internal-message-id"], "MessageId", e["message-id"], "NetworkMessageId", e["network-message-id"],
		"Recipients", split("recipient-address"), "RecipientStatus", split("recipient-status"), "TotalBytes", e["total-bytes"],
		"RecipientCount", e["recipient-count"], "RelatedRecipientAddress", e["related-recipient-address"], "Reference", split("reference"),
		"MessageSubject", e["message-subject"], "Sender", e["sender-address"], "ReturnPath", e["return-path"], "Directionality", e["directionality"],
		"OriginalClientIp", e["original-client-ip"], "MessageInfo", e["message-info"], "EventData", split("custom-data"))
	o.View = trackingView
	return o
}

// opath applies -Filter, an OPath expression over the object's properties (Exchange's syntax
// is PowerShell's comparison syntax: "MessageCount -gt 0", "Status -eq 'Retry'").
func (s *Shell) opath(c *shell.Call, o *shell.Object) (bool, error) {
	f := c.String("Filter")
	if f == "" {
		return true, nil
	}
	sb, err := shell.NewScriptBlock(opathScript(f))
	if err != nil {
		rec := shell.NewError(shell.InvalidArgument, "ParameterBindingException", "", "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"Invalid filter syntax. For a description of the filter parameter syntax see the command help.\n\"%s\"\"", f)
		rec.ErrorID = s.errorID(c, rec.Reason, "9C1E6B27")
		return false, rec
	}
	v, err := c.InvokeScript(sb, o)
	if err != nil {
		return false, err
	}
	return len(v) > 0 && v[0] == true, nil
}

// opathScript turns an OPath filter's bare property names into $_ properties.
func opathScript(f string) string {
	var b strings.Builder
	inQuote := byte(0)
	for i := 0; i < len(f); i++ {
		ch := f[i]
		switch {
		case inQuote != 0:
			if ch == inQuote {
				inQuote = 0
			}
		case ch == '\'' || ch == '"':
			inQuote = ch
		case (ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z') && (i == 0 || strings.IndexByte(" (!", f[i-1]) >= 0):
			b.WriteString("$_.")
		}
		b.WriteByte(ch)
	}
	return b.String()
}

func (s *Shell) queueError(c *shell.Call, id string, err error) error {
	var ae *adminapi.Error
	if errors.As(err, &ae) && ae.Code == adminapi.CodeNotFound {
		return s.notFound(c, id)
	}
	return s.failure(c, err)
}

// timeOrNull is a time property: $null when unset, as Exchange shows an empty DateTime?.
func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// queueSuspender is a Backend that suspends and resumes queues (*adminapi.Client).
type queueSuspender interface {
	SuspendQueue(identity string, suspend bool) error
}

// queueMatches is Get-Queue's Identity: SERVER\Id or SERVER\NextHopDomain (brackets in a
// smart host's next hop are characters), wildcards * and ? when given.
func queueMatches(q transport.QueueInfo, id string) bool {
	server := q.Identity[:strings.IndexByte(q.Identity+`\`, '\\')]
	for _, name := range []string{q.Identity, server + `\` + q.NextHopDomain} {
		if strings.EqualFold(name, id) || (strings.ContainsAny(id, "*?") && !strings.Contains(id, "[") && shell.Like(name, id)) {
			return true
		}
	}
	return false
}
