package emshell

import (
	"fmt"
	"sort"
	"strings"

	"github.com/exlab/exlab/cmd/shell"
)

// Get-QueueDigest's default table (spec §11).
var queueDigestView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "GroupByValue"}, {Property: "MessageCount", Right: true},
	{Property: "DeferredMessageCount", Right: true}, {Property: "LockedMessageCount", Right: true}, {Property: "StaleMessageCount", Right: true}, {Property: "Details"}}}

// digestGroupBy are Get-QueueDigest's -GroupBy values, each a property of a queue.
var digestGroupBy = []string{"NextHopDomain", "DeliveryType", "Status", "LastError", "ServerName", "NextHopCategory", "NextHopKey", "RiskLevel", "OutboundIPPool"}

// digestThreshold: without -Filter, Get-QueueDigest shows only queues with this many messages
// or more (spec §11; learn.microsoft.com Get-QueueDigest: "By default, the Get-QueueDigest
// cmdlet displays delivery queues that contain ten or more messages").
const digestThreshold = 10

func (s *Shell) queueDigestCmdlet() *shell.Cmdlet {
	return &shell.Cmdlet{Name: "Get-QueueDigest", Synopsis: "Use the Get-QueueDigest cmdlet to view information about message delivery queues across database availability groups (DAGs) Active Directory sites, or Active Directory forests in your organization.",
		ClassName: "Microsoft.Exchange.Management.QueueDigest.GetQueueDigest", View: queueDigestView,
		Params: []shell.Param{{Name: "Server", Type: shell.Strings, TypeName: "ServerIdParameter[]"}, {Name: "Dag", Type: shell.Strings}, {Name: "Site", Type: shell.Strings},
			{Name: "Forest", Type: shell.Switch},
			{Name: "GroupBy", Type: shell.Enum, Values: digestGroupBy, TypeName: "QueueDigestGroupBy", Help: "the queue property to group by (default NextHopDomain)"},
			{Name: "DetailsLevel", Type: shell.Enum, Values: []string{"None", "Normal", "Verbose"}, TypeName: "DetailsLevel"},
			{Name: "Filter", Type: shell.String, Help: `an OPath filter on the queues, e.g. "MessageCount -gt 0"; without it, queues with 10 or more messages`},
			{Name: "ResultSize", Type: shell.String, Help: "a number or Unlimited (default 1000)"},
			{Name: "Timeout", Type: shell.String, Help: "accepted; exlab answers from one server at once"}},
		Process: func(c *shell.Call) error {
			qs, err := s.b.Queues()
			if err != nil {
				return s.failure(c, err)
			}
			limit, err := s.resultSize(c, 1000)
			if err != nil {
				return err
			}
			groupBy := c.String("GroupBy")
			if groupBy == "" {
				groupBy = "NextHopDomain"
			}
			servers := c.Strings("Server")
			type group struct {
				value   string
				count   int64
				details []any
			}
			var groups []*group
			byValue := map[string]*group{}
			for _, q := range qs {
				srv, _, _ := strings.Cut(q.Identity, `\`)
				if len(servers) > 0 && !contains(servers, srv) {
					continue
				}
				o := queueObject(q)
				o.Set("ServerName", srv)
				if c.IsSet("Filter") {
					if ok, err := s.opath(c, o); err != nil {
						return err
					} else if !ok {
						continue
					}
				} else if q.MessageCount < digestThreshold {
					continue
				}
				v, _ := o.Get(groupBy)
				key := fmt.Sprint(v)
				g := byValue[strings.ToLower(key)]
				if g == nil {
					g = &group{value: key}
					byValue[strings.ToLower(key)] = g
					groups = append(groups, g)
				}
				g.count += int64(q.MessageCount)
				g.details = append(g.details, q.Identity)
			}
			// The largest groups first.
			sort.SliceStable(groups, func(i, j int) bool { return groups[i].count > groups[j].count })
			for i, g := range groups {
				if i >= limit {
					c.WriteWarning("There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.")
					break
				}
				details := g.details
				if strings.EqualFold(c.String("DetailsLevel"), "None") {
					details = nil
				}
				// exlab's queues hold no deferred or locked messages, and a single server's
				// queue data is never stale.
				o := shell.NewObject("Microsoft.Exchange.Data.QueueViewer.AggregatedQueueInfo",
					"GroupByValue", g.value, "MessageCount", g.count, "DeferredMessageCount", int64(0), "LockedMessageCount", int64(0),
					"StaleMessageCount", int64(0), "Details", details)
				o.View = queueDigestView
				c.Write(o)
			}
			return nil
		}}
}
