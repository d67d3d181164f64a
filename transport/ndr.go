package transport

import (
	"fmt"
	"strings"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// ndrSenderLocal is the local part of the address Exchange 2013+ NDRs come from (spec §9.3;
// seen as a real NDR sender).
const ndrSenderLocal = "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e"

// ndr builds the non-delivery report for the failed recipients of m, as an RFC 3464
// multipart/report whose human part follows Exchange 2016/2019's text (spec §9.3, NDR-E16). It
// returns nil when no NDR is owed: a null sender or a DSN never gets one, nor a recipient that
// asked NOTIFY without FAILURE.
func (c *Categorizer) ndr(m *queue.Message, body []byte, failed []queue.Recipient) *queue.NewMessage {
	if m.From == "" || m.IsDSN {
		return nil
	}
	var notify []queue.Recipient
	for _, r := range failed {
		if len(r.Notify) == 0 || contains(r.Notify, "FAILURE") {
			notify = append(notify, r)
		}
	}
	if len(notify) == 0 {
		return nil
	}
	id, err := c.store.NextID()
	if err != nil {
		c.log.Error("categorizer: no id for an NDR", "err", err)
		return nil
	}
	fqdn := c.server.Fqdn
	domain := c.resolver.Load().DefaultDomain()
	now := time.Now()
	boundary := "_000_" + strings.ReplaceAll(newGUID(), "-", "") + "_"
	msgID := "<" + newGUID() + "@" + fqdn + ">"
	hi := scanHeaders(body)
	origHeaders := strings.TrimRight(string(body[:hi.end]), "\r\n")

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteString("\r\n") }
	w("From: Microsoft Outlook <%s@%s>", ndrSenderLocal, domain)
	w("To: <%s>", m.From)
	w("Date: %s", smtpreceive.BannerDate(now))
	w("Subject: Undeliverable: %s", m.Subject)
	w("Message-ID: %s", msgID)
	w("In-Reply-To: %s", m.MessageID)
	w("References: %s", m.MessageID)
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	w("Auto-Submitted: auto-replied")
	w("X-MS-Exchange-Message-Is-Ndr: ")
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=\"us-ascii\"")
	w("")
	w("Delivery has failed to these recipients or groups:")
	w("")
	for _, r := range notify {
		w("%s<mailto:%s>", r.Address, r.Address)
		w("The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message. If the problem continues, please contact your email admin.")
		w("")
	}
	w("")
	w("Diagnostic information for administrators:")
	w("")
	w("Generating server: %s", fqdn)
	w("")
	for _, r := range notify {
		w("%s", r.Address)
		w("Remote Server returned '%s'", r.LastError)
		w("")
	}
	w("Original message headers:")
	w("")
	b.WriteString(origHeaders)
	b.WriteString("\r\n\r\n")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns;%s", fqdn)
	if m.EnvelopeID != "" {
		w("Original-Envelope-Id: %s", m.EnvelopeID)
	}
	w("Received-From-MTA: dns;%s", m.ClientHostname)
	w("Arrival-Date: %s", smtpreceive.BannerDate(m.Arrived.Local()))
	for _, r := range notify {
		w("")
		if r.OrcptAddress != "" {
			w("Original-Recipient: %s;%s", r.OrcptType, r.OrcptAddress)
		}
		w("Final-Recipient: rfc822;%s", r.Address)
		w("Action: failed")
		w("Status: %s", statusOf(r.LastError))
		w("Diagnostic-Code: smtp;%s", r.LastError)
	}
	w("")
	w("--%s", boundary)
	if m.Return == "FULL" {
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
		ID: id, NetworkMessageID: newGUID(), MessageID: msgID, Subject: "Undeliverable: " + m.Subject,
		From: "", Recipients: []queue.Recipient{{Address: m.From, Status: queue.StatusPending}},
		Size: int64(len(content)), Arrived: now.UTC(), ConnectorID: "", ClientIP: "", ClientHostname: fqdn,
		HeaderEnd: int64(h.end), IsDSN: true,
	}
	return &queue.NewMessage{Message: n, Body: content}
}

// statusOf extracts the enhanced status code from a reply ("550 5.1.10 …" → "5.1.10").
func statusOf(reply string) string {
	r := smtpreceive.Reply{Text: reply}
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
