package transport

import (
	"fmt"
	"strings"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The DSN writer (Postfix's bounce): NDRs, delay DSNs and success DSNs (delivered, relayed) as
// Exchange 2016/2019 writes them (spec §9.3). dsnOwed and dsnWriter.write are pure; the
// pipeline (Hub.report) gives them an InternalMessageId and the clock, and tracks the result.
// testdata/dsn/*.golden holds one of each kind.

// ndrSenderLocal is the local part of the address Exchange 2013+ NDRs come from (spec §9.3;
// seen as a real NDR sender).
const ndrSenderLocal = "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e"

// dsnKind is what a DSN reports (RFC 3464 Action).
type dsnKind int

const (
	dsnFailed    dsnKind = iota // an NDR (NDR-E16)
	dsnDelayed                  // a delay DSN after DelayNotificationTimeout (DSN-E13)
	dsnDelivered                // NOTIFY=SUCCESS, delivered to a mailbox
	dsnRelayed                  // NOTIFY=SUCCESS, handed to a next hop that sends no DSN of its own
)

// Per kind: the NOTIFY keyword that asks for it, the subject prefix, the Action, the tracking
// status word. Delivered and Relayed use Exchange's success DSN texts as seen in Outlook [O];
// they are not in the spec.
var dsnKinds = map[dsnKind]struct{ notify, subject, action, track string }{
	dsnFailed:    {"FAILURE", "Undeliverable: ", "failed", "Undeliverable"},
	dsnDelayed:   {"DELAY", "Delivery delayed:", "delayed", "Delayed"},
	dsnDelivered: {"SUCCESS", "Delivered: ", "delivered", "Delivered"},
	dsnRelayed:   {"SUCCESS", "Relayed: ", "relayed", "Relayed"},
}

// dsnOwed lists the recipients of m owed a DSN of kind: none when m has a null sender or is a
// DSN itself, nor a recipient whose NOTIFY leaves the kind out (without NOTIFY, failures and
// delays are reported, successes not; RFC 3461).
func dsnOwed(m *queue.Message, rcpts []queue.Recipient, kind dsnKind) []queue.Recipient {
	if m.From == "" || m.IsDSN {
		return nil
	}
	k := dsnKinds[kind]
	var notify []queue.Recipient
	for _, r := range rcpts {
		if contains(r.Notify, "NEVER") {
			continue
		}
		if contains(r.Notify, k.notify) || (len(r.Notify) == 0 && (kind == dsnFailed || kind == dsnDelayed)) {
			notify = append(notify, r)
		}
	}
	return notify
}

// dsnWriter is the DSN writer: the facts of the organization a DSN states, and the sources of
// what differs between two DSNs (GUIDs), so that it is a pure function of its input.
type dsnWriter struct {
	Fqdn       string         // the generating server (Reporting-MTA)
	Domain     string         // the default accepted domain, for the Microsoft Outlook sender
	Expiration time.Duration  // MessageExpirationTimeout
	Loc        *time.Location // the server's time zone for the dates (nil: time.Local)
	NewGUID    func() string  // boundary, Message-ID, Network Message Id (nil: smtpwire.NewGUID)
}

// write builds the DSN of kind for the recipients notify of m (see dsnOwed) as an RFC 3464
// multipart/report whose human part follows Exchange 2016/2019's text (spec §9.3), dated now,
// with InternalMessageId id. RET=FULL returns the whole message with an NDR, RET=HDRS or none the
// headers; ENVID and ORCPT are echoed (RFC 3461).
func (dw dsnWriter) write(m *queue.Message, body []byte, notify []queue.Recipient, kind dsnKind, now time.Time, id uint64) *queue.NewMessage {
	loc, guid := dw.Loc, dw.NewGUID
	if loc == nil {
		loc = time.Local
	}
	if guid == nil {
		guid = smtpwire.NewGUID
	}
	now = now.In(loc)
	k := dsnKinds[kind]
	fqdn, domain := dw.Fqdn, dw.Domain
	boundary := "_000_" + strings.ReplaceAll(guid(), "-", "") + "_"
	msgID := "<" + guid() + "@" + fqdn + ">"
	hi := scanHeaders(body)
	origHeaders := strings.TrimRight(string(body[:hi.end]), "\r\n")

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteString("\r\n") }
	w("From: Microsoft Outlook <%s@%s>", ndrSenderLocal, domain)
	w("To: <%s>", m.From)
	w("Date: %s", smtpreceive.BannerDate(now))
	subject := k.subject + m.Subject
	w("Subject: %s", subject)
	w("Message-ID: %s", msgID)
	w("In-Reply-To: %s", m.MessageID)
	w("References: %s", m.MessageID)
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	w("Auto-Submitted: auto-replied")
	if kind == dsnFailed {
		w("X-MS-Exchange-Message-Is-Ndr: ")
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=\"us-ascii\"")
	w("")
	expires := m.Arrived.Add(dw.Expiration)
	switch kind {
	case dsnDelayed:
		w("Delivery is delayed to these recipients or groups:")
		w("")
		for _, r := range notify {
			w("%s<mailto:%s>", r.Address, r.Address)
		}
		w("")
		w("Subject: %s", m.Subject)
		w("")
		w("This message hasn't been delivered yet. Delivery will continue to be attempted.")
		w("")
		w("The server will keep trying to deliver this message for the next %s. You'll be notified if the message can't be delivered by that time.",
			humanSpan(expires.Sub(now)))
		w("")
	case dsnDelivered, dsnRelayed:
		if kind == dsnDelivered {
			w("Your message has been delivered to the following recipients:")
		} else {
			w("Delivery to these recipients or groups is complete, but no delivery notification was sent by the destination server:")
		}
		w("")
		for _, r := range notify {
			w("%s (%s)", r.Address, r.Address)
		}
		w("")
		w("Subject: %s", m.Subject)
		w("")
	default:
		w("Delivery has failed to these recipients or groups:")
		w("")
		for _, r := range notify {
			w("%s<mailto:%s>", r.Address, r.Address)
			w("The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message. If the problem continues, please contact your email admin.")
			w("")
		}
		w("")
	}
	if kind == dsnFailed || kind == dsnDelayed {
		w("Diagnostic information for administrators:")
		w("")
		w("Generating server: %s", fqdn)
		w("")
		for _, r := range notify {
			w("%s", r.Address)
			if kind == dsnDelayed {
				if r.LastHost != "" {
					w("Receiving server: %s", r.LastHost)
				}
				w("Remote Server returned '%s'", delayedError)
				if r.LastError != "" {
					w("%s - Remote Server returned '%s'", smtpreceive.BannerDate(m.LastRetryTime.In(loc)), r.LastError)
				}
			} else {
				w("Remote Server returned '%s'", r.LastError)
			}
			w("")
		}
		w("Original message headers:")
		w("")
		b.WriteString(origHeaders)
		b.WriteString("\r\n\r\n")
	}
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns;%s", fqdn)
	if m.EnvelopeID != "" {
		w("Original-Envelope-Id: %s", m.EnvelopeID)
	}
	w("Received-From-MTA: dns;%s", m.ClientHostname)
	w("Arrival-Date: %s", smtpreceive.BannerDate(m.Arrived.In(loc)))
	for _, r := range notify {
		w("")
		if r.OrcptAddress != "" {
			w("Original-Recipient: %s;%s", strings.ToLower(r.OrcptType), r.OrcptAddress)
		}
		w("Final-Recipient: rfc822;%s", r.Address)
		w("Action: %s", k.action)
		switch kind {
		case dsnDelayed:
			w("Status: 4.4.7")
			w("Diagnostic-Code: smtp;%s", delayedError)
			w("Will-Retry-Until: %s", smtpreceive.BannerDate(expires.In(loc)))
		case dsnDelivered, dsnRelayed:
			w("Status: 2.0.0")
			if r.LastHost != "" && kind == dsnRelayed {
				w("Remote-MTA: dns;%s", r.LastHost)
			}
		default:
			w("Status: %s", statusOf(r.LastError))
			w("Diagnostic-Code: smtp;%s", r.LastError)
		}
	}
	w("")
	w("--%s", boundary)
	if m.Return == "FULL" && kind == dsnFailed {
		w("Content-Type: message/rfc822")
		w("")
		b.Write(body)
	} else {
		w("Content-Type: text/rfc822-headers")
		w("")
		b.WriteString(origHeaders)
		b.WriteString("\r\n")
	}
	w("")
	w("--%s--", boundary)

	content := []byte(b.String())
	h := scanHeaders(content)
	n := &queue.Message{
		ID: id, NetworkMessageID: guid(), MessageID: msgID, Subject: subject,
		From: "", Recipients: []queue.Recipient{{Address: m.From, Status: queue.StatusPending}},
		Size: int64(len(content)), Arrived: now.UTC(), ConnectorID: "", ClientIP: "", ClientHostname: fqdn,
		HeaderEnd: int64(h.end), IsDSN: true,
	}
	return &queue.NewMessage{Message: n, Body: content}
}

// humanSpan renders a remaining time as the delay DSN does: "1 days, 19 hours and 56 minutes".
func humanSpan(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	mins := int(d.Round(time.Minute).Minutes())
	return fmt.Sprintf("%d days, %d hours and %d minutes", mins/(24*60), mins/60%24, mins%60)
}

// statusOf extracts the enhanced status code from a reply ("550 5.1.10 …" → "5.1.10").
func statusOf(reply string) string {
	r := smtpwire.Reply{Text: reply}
	if e := r.Enhanced(); e != "" {
		return e
	}
	return "5.0.0"
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if strings.EqualFold(y, x) {
			return true
		}
	}
	return false
}
