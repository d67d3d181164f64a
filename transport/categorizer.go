package transport

import (
	"strings"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The categorizer (Exchange's categorizer: resolver and router). It is pure: given a message and
// the organization's resolver it decides, for every recipient not yet routed, a mailbox delivery,
// a failure owed an NDR, a next hop (the send connector whose delivery queue it waits in), or
// the Unreachable queue. It touches no store, network or log; the hub's pipeline (pipeline.go)
// commits what it decides, writes the tracking events and asks the DSN writer for the reports.

// noRouteError is the LastError of a recipient that no connector can route (the Unreachable
// queue). Exlab's wording [I]; send connectors arrive with issue 5. Not an SMTP reply.
const noRouteError = "There is currently no route to the mail recipient."

// categorized is what the categorizer decided for one message.
type categorized struct {
	// Deliveries are the mailbox items: one per mailbox however many of its addresses were named.
	Deliveries []queue.MailboxItem
	// Failed are the recipients failed with R74, owed an NDR.
	Failed []queue.Recipient
	// Delivered are the recipients delivered to a mailbox that asked for a DSN (NOTIFY).
	Delivered []queue.Recipient
	// Events are the tracking log's FAIL events, in the order the recipients were decided.
	Events []trackEvent
}

// categorize resolves every pending, unrouted recipient of m (routing.Resolve) and records the
// result in m's recipients: local mailboxes are delivered, unknown recipients of authoritative
// domains fail with R74, the rest get the send connector of server that routes their domain as
// NextHop, or wait as Unreachable when there is none.
func categorize(m *queue.Message, resolver *routing.Resolver, server string) categorized {
	return categorizeWith(m, resolver, server, "")
}

// categorizeWith is categorize with the hub's mailbox delivery queue: localHop non-empty
// routes local mailboxes to it and mailboxes homed on another server to the queue of their
// database (NextHop, the recipient stays Pending until Mailbox Delivery has written it,
// mailboxdelivery.go); empty delivers every mailbox in the categorizer's result.
func categorizeWith(m *queue.Message, resolver *routing.Resolver, server, localHop string) categorized {
	var out categorized
	var delivered map[string]int // mailbox → index in out.Deliveries
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.Status != queue.StatusPending || r.NextHop != "" {
			continue
		}
		disp, mb := resolver.Resolve(r.Address)
		switch disp {
		case routing.DeliverToMailbox:
			if localHop != "" {
				r.NextHop, r.Mailbox = localHop, mb.PrimarySmtpAddress
				if home, db := resolver.Home(mb); home != nil && !strings.EqualFold(home.Name, server) {
					// Homed on another server: the delivery queue of its database, delivered
					// to that server's Mailbox Transport Delivery (spec §8.1, SmtpDeliveryToMailbox).
					r.NextHop = mailboxHop(db)
				}
				continue
			}
			r.Status, r.Mailbox = queue.StatusDelivered, mb.PrimarySmtpAddress
			if len(r.Notify) > 0 {
				out.Delivered = append(out.Delivered, *r)
			}
			key := strings.ToLower(mb.PrimarySmtpAddress)
			if j, ok := delivered[key]; ok {
				out.Deliveries[j].To = append(out.Deliveries[j].To, r.Address)
				continue
			}
			if delivered == nil {
				delivered = map[string]int{}
			}
			delivered[key] = len(out.Deliveries)
			out.Deliveries = append(out.Deliveries, queue.MailboxItem{Mailbox: mb.PrimarySmtpAddress, ID: m.ID,
				MessageID: m.MessageID, From: m.From, To: []string{r.Address}, Subject: m.Subject, Received: m.Arrived,
				Size:         int64(len(m.HeaderPrefix)+len(m.HeaderSuffix)) + m.Size,
				HeaderPrefix: m.HeaderPrefix, HeaderSuffix: m.HeaderSuffix, HeaderEnd: m.HeaderEnd})
		case routing.RecipientNotFound:
			r.Status = queue.StatusFailed
			r.LastError = smtpwire.Fixed(smtpwire.R74).Text
			out.Failed = append(out.Failed, *r)
			out.Events = append(out.Events, trackEvent{ID: "FAIL", Source: "ROUTING", Msg: m, Recipients: []string{r.Address}, Status: r.LastError})
		case routing.RouteOut:
			if sc := resolver.SendConnectorFor(server, routing.Domain(r.Address)); sc != nil && (len(sc.SmartHosts) > 0 || sc.DNSRoutingEnabled) {
				r.NextHop = sc.Name // delivered by the scheduler's workers after the commit
				continue
			}
			if sc := resolver.SendConnectorElsewhere(server, routing.Domain(r.Address)); localHop != "" && sc != nil && (len(sc.SmartHosts) > 0 || sc.DNSRoutingEnabled) {
				// Another server's connector: relayed to one of its source servers, which
				// sends it out (mailboxdelivery.go, SmtpRelayToConnectorSourceServers).
				r.NextHop = relayHop(sc.Name)
				continue
			}
			// No connector: the Unreachable queue.
			r.Status = queue.StatusUnreachable
			r.LastError = noRouteError
		}
	}
	return out
}

// unrouted says whether m has recipients the categorizer has not routed yet.
func unrouted(m *queue.Message) bool {
	for _, r := range m.Recipients {
		if r.Status == queue.StatusPending && r.NextHop == "" {
			return true
		}
	}
	return false
}

// outbound says whether m has recipients waiting for a send connector.
func outbound(m *queue.Message) bool {
	for _, r := range m.Recipients {
		if r.Status == queue.StatusPending && r.NextHop != "" {
			return true
		}
	}
	return false
}

func waitingRecipients(m *queue.Message) []queue.Recipient {
	var out []queue.Recipient
	for _, r := range m.Recipients {
		if r.Status == queue.StatusPending || r.Status == queue.StatusUnreachable {
			out = append(out, r)
		}
	}
	return out
}

func pendingAddresses(m *queue.Message) []string {
	var out []string
	for _, r := range waitingRecipients(m) {
		out = append(out, r.Address)
	}
	return out
}
