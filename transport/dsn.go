package transport

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The DSN writer (Postfix's bounce): NDRs, delay DSNs and success DSNs (delivered, relayed) as
// Exchange 2016/2019 writes them (spec §9.3): multipart/report of a multipart/alternative
// human part (text and HTML, each recipient with the explanation of its status), the
// message/delivery-status part and the original's headers or the whole original. Its layout
// follows Exchange's own DSN generator as decompiled in evilashz/exchange-server-27065
// (Microsoft.Exchange.Transport DsnGenerator, Microsoft.Exchange.Extensibility.Internal
// DsnHumanReadableWriter), checked against the published NDRs each text cites. dsnOwed and
// dsnWriter.write are pure; the pipeline (Hub.report) gives them an InternalMessageId and the
// clock, and tracks the result. testdata/dsn/*.golden holds one of each kind and cause.

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
// status word, the Status when the recipient's status has no enhanced code. Delivered and
// Relayed use Exchange's success DSN texts as seen in Outlook [O]; they are not in the spec.
// The prefixes are SystemMessages.FailedSubject, DelayedSubject, DeliveredSubject and
// RelayedSubject (DsnHumanReadableWriter.GetLocalizedSubjectPrefix), whose English texts are
// resources the decompile does not have; "Delivery delayed:" without a space is exlab's earlier
// reading of Outlook's display, not confirmed by a raw header here [I].
var dsnKinds = map[dsnKind]struct{ notify, subject, action, track, status string }{
	dsnFailed:    {"FAILURE", "Undeliverable: ", "failed", "Undeliverable", "5.0.0"},
	dsnDelayed:   {"DELAY", "Delivery delayed:", "delayed", "Delayed", "4.4.7"},
	dsnDelivered: {"SUCCESS", "Delivered: ", "delivered", "Delivered", "2.0.0"},
	dsnRelayed:   {"SUCCESS", "Relayed: ", "relayed", "Relayed", "2.0.0"},
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
	// DNSRouted reports whether a recipient left through a send connector with
	// DNSRoutingEnabled (Exchange's DnsConnectorDelivery, an "external" NDR); nil: none did.
	DNSRouted func(r queue.Recipient) bool

	names map[string]string // display names of the recipients, from the original's To and Cc (write sets it)
}

// parseHeader reads a header block (without the blank line); a block that does not parse
// gives an empty header.
func parseHeader(header []byte) mail.Header {
	msg, err := mail.ReadMessage(bytes.NewReader(append(append([]byte{}, header...), "\r\n\r\n"...)))
	if err != nil {
		return mail.Header{}
	}
	return msg.Header
}

// references is a DSN's References field (DsnGenerator.WriteReferencesHeader): the original's
// References, else its In-Reply-To, followed by its Message-ID.
func references(orig mail.Header, msgID string) string {
	prev := orig.Get("References")
	if prev == "" {
		prev = orig.Get("In-Reply-To")
	}
	return strings.TrimSpace(prev + " " + msgID)
}

// displayNames maps the addresses of a header's To and Cc fields (lower case) to their display
// names: Exchange names a recipient in a DSN by the display name the message gave it
// (DsnGenerator.FillDisplayNameFromRecipientCollection, decompiled transport).
func displayNames(orig mail.Header) map[string]string {
	names := map[string]string{}
	for _, field := range []string{"To", "Cc"} {
		list, _ := orig.AddressList(field)
		for _, a := range list {
			if k := strings.ToLower(a.Address); a.Name != "" && names[k] == "" {
				names[k] = a.Name
			}
		}
	}
	return names
}

// label is how a DSN shows a recipient (WriteEachRecipient): "<display name> (<address>)", or
// the address when the message gave it no name (QA-RELAY's "@gmail.com (@gmail.com)" is a
// recipient whose display name was its address).
func (dw dsnWriter) label(addr string) string {
	if n := dw.names[strings.ToLower(addr)]; n != "" {
		return n + " (" + addr + ")"
	}
	return addr
}

// ndrBlankLines is how many empty lines Exchange leaves between the user information section
// and "Diagnostic information for administrators:" (the rows of its HTML table that have no
// text): 8 in an NDR (NDR-E16: an on-premises 15.1.2507.16 NDR), 7 in a delay DSN (DSN-E13:
// 15.0.1497.42, and the same text from a 2023 mailgun capture, code index id 66703895642).
const (
	ndrBlankLines   = 8
	delayBlankLines = 7
)

// write builds the DSN of kind for the recipients notify of m (see dsnOwed) as an RFC 3464
// multipart/report whose human part follows Exchange 2016/2019's text (spec §9.3) with the
// explanation of each recipient's cause (ndrCauseOf), dated now, with InternalMessageId id.
// RET=FULL returns the whole message with an NDR, RET=HDRS or none the headers; ENVID and
// ORCPT are echoed (RFC 3461). The subject is the original's, decoded, behind the kind's
// prefix, RFC 2047-encoded when it is not ASCII (smtpwire.EncodeSubject).
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
	boundary := guid() // Exchange's MIME boundaries are GUIDs (Guid.NewGuid().ToString())
	msgID := "<" + guid() + "@" + fqdn + ">"
	// The original as Exchange attaches it: with the Received: line this hub stamped
	// (HeaderPrefix; NDR-E16's original headers begin with the hub's), without the
	// organization headers it added (HeaderSuffix), which Exchange's header firewall strips
	// from a DSN's copy (spec §9.2; HeaderFirewall.Filter(~RestrictedHeaderSet.MTA) in the
	// decompiled DsnGenerator).
	if m.HeaderPrefix != "" {
		body = append([]byte(m.HeaderPrefix), body...)
	}
	hi := scanHeaders(body)
	origHeaders := strings.TrimRight(string(body[:hi.end]), "\r\n")
	orig := parseHeader(body[:hi.end])
	dw.names = displayNames(orig)
	origSubject := smtpwire.DecodeSubject(m.Subject)
	subject := smtpwire.EncodeSubject(k.subject + origSubject)

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteString("\r\n") }
	// The header in Exchange's order (DsnGenerator.AddRFC822Headers, then Auto-Submitted),
	// without the X-MS-Exchange-Organization headers it also writes: they never leave the
	// organization, and exlab's hub adds its own when it accepts the DSN.
	w("MIME-Version: 1.0")
	w("From: Microsoft Outlook <%s@%s>", ndrSenderLocal, domain)
	w("To: <%s>", m.From)
	w("Date: %s", smtpreceive.BannerDate(now))
	w("Content-Type: multipart/report; report-type=delivery-status;")
	w("\tboundary=\"%s\"", boundary)
	if kind == dsnFailed {
		w("X-MS-Exchange-Message-Is-Ndr: ")
	}
	w("Content-Language: en-US")
	w("Message-ID: %s", msgID)
	if m.MessageID != "" {
		w("In-Reply-To: %s", m.MessageID)
	}
	if refs := references(orig, m.MessageID); refs != "" {
		w("References: %s", refs)
	}
	if topic := orig.Get("Thread-Topic"); topic != "" {
		w("Thread-Topic: %s", topic)
	}
	w("Subject: %s", subject)
	w("Auto-Submitted: auto-replied")
	w("")
	w("--%s", boundary)
	// The human part as Exchange sends it with InternalDsnSendHtml/ExternalDsnSendHtml (both
	// $true by default): multipart/alternative of the text and the HTML it was made from, each
	// quoted-printable in the charset the text needs (DsnGenerator.AddHumanReadableBodyPart).
	text := dw.humanText(m, notify, kind, now, loc, origSubject, origHeaders)
	page := dw.humanHTML(m, notify, kind, now, loc, origSubject, origHeaders)
	charset := "us-ascii"
	if !isASCII(text) || !isASCII(page) {
		charset = "utf-8"
	}
	alt := guid()
	w("Content-Type: multipart/alternative; differences=Content-Type;")
	w("\tboundary=\"%s\"", alt)
	w("")
	for _, part := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", page}} {
		w("--%s", alt)
		w("Content-Type: %s; charset=\"%s\"", part.typ, charset)
		w("Content-Transfer-Encoding: quoted-printable")
		w("")
		writeQP(&b, part.body)
		if !strings.HasSuffix(b.String(), "\r\n") {
			b.WriteString("\r\n")
		}
	}
	w("--%s--", alt)
	w("")
	expires := m.Arrived.Add(dw.Expiration)
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	// The fields in Exchange's order (DsnGenerator.AddMachineReadableBodyPart and
	// WriteMachineReadableRecipientBlock in the decompiled transport): the envelope id first,
	// the reporting MTA, the client's HELO name, the arrival date; per recipient the ORCPT,
	// Final-Recipient, Action, Status (the status's enhanced code), Diagnostic-Code with the
	// status, Will-Retry-Until for a delay, Remote-MTA when another server answered.
	if m.EnvelopeID != "" {
		w("Original-Envelope-Id: %s", m.EnvelopeID)
	}
	w("Reporting-MTA: dns;%s", fqdn)
	if m.ClientHostname != "" {
		w("Received-From-MTA: dns;%s", m.ClientHostname)
	}
	w("Arrival-Date: %s", smtpreceive.BannerDate(m.Arrived.In(loc)))
	for _, r := range notify {
		w("")
		if r.OrcptAddress != "" {
			w("Original-Recipient: %s;%s", strings.ToLower(r.OrcptType), r.OrcptAddress)
		}
		w("Final-Recipient: rfc822;%s", r.Address)
		w("Action: %s", k.action)
		status, remote := r.LastError, ""
		switch kind {
		case dsnDelayed:
			status = delayedError
		case dsnDelivered, dsnRelayed:
			if !strings.HasPrefix(status, "2") {
				status = ""
			}
			if kind == dsnRelayed {
				remote = remoteHost(r)
			}
		default:
			remote = rejectedBy(r)
		}
		if code := (&smtpwire.Reply{Text: status}).Enhanced(); code != "" {
			w("Status: %s", code)
		} else {
			w("Status: %s", k.status)
		}
		if status != "" {
			w("Diagnostic-Code: smtp;%s", status)
		}
		if kind == dsnDelayed {
			w("Will-Retry-Until: %s", smtpreceive.BannerDate(expires.In(loc)))
		}
		if remote != "" {
			w("Remote-MTA: dns;%s", remote)
		}
		if n := dw.names[strings.ToLower(r.Address)]; n != "" {
			if !isASCII(n) {
				n = "=?utf-8?B?" + base64.StdEncoding.EncodeToString([]byte(n)) + "?="
			}
			w("X-Display-Name: %s", n)
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
		ID: id, NetworkMessageID: guid(), MessageID: msgID, Subject: h.subject,
		From: "", Recipients: []queue.Recipient{{Address: m.From, Status: queue.StatusPending}},
		Size: int64(len(content)), Arrived: now.UTC(), ConnectorID: "", ClientIP: "", ClientHostname: fqdn,
		HeaderEnd: int64(h.end), IsDSN: true,
	}
	return &queue.NewMessage{Message: n, Body: content}
}

// humanText is the DSN's text/plain part (CRLF lines, ending with a blank line): the user
// information section and, for NDRs and delay DSNs, the diagnostic information for
// administrators with the original message headers.
func (dw dsnWriter) humanText(m *queue.Message, notify []queue.Recipient, kind dsnKind, now time.Time, loc *time.Location, subject, origHeaders string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteString("\r\n") }
	blank := func(n int) {
		for range n {
			b.WriteString("\r\n")
		}
	}
	switch kind {
	case dsnDelayed:
		w("Delivery is delayed to these recipients or groups:")
		w("")
		for _, r := range notify {
			w("%s<mailto:%s>", dw.label(r.Address), r.Address)
		}
		w("")
		w("Subject: %s", subject)
		w("")
		w("This message hasn't been delivered yet. Delivery will continue to be attempted.")
		w("")
		w("The server will keep trying to deliver this message for the next %s. You'll be notified if the message can't be delivered by that time.",
			humanSpan(m.Arrived.Add(dw.Expiration).Sub(now)))
		blank(delayBlankLines)
	case dsnDelivered, dsnRelayed:
		if kind == dsnDelivered {
			w("Your message has been delivered to the following recipients:")
		} else {
			w("Delivery to these recipients or groups is complete, but no delivery notification was sent by the destination server:")
		}
		w("")
		for _, r := range notify {
			w("%s<mailto:%s>", dw.label(r.Address), r.Address)
		}
		w("")
		w("Subject: %s", subject)
		w("")
		return b.String()
	default:
		dw.failedText(&b, notify)
		blank(ndrBlankLines - 1)
	}
	w("Diagnostic information for administrators:")
	w("")
	w("Generating server: %s", dw.Fqdn)
	// Exchange's diagnostic block (DsnHumanReadableWriter.WriteDiagnosticBlock in the decompiled
	// transport, evilashz/exchange-server-27065): the first recipient's receiving server under
	// the generating server; per recipient its address, the refusing server when another server
	// refused, "Remote Server [at <receiving server>] returned '<status>'" and the last
	// transient error. DSN-E13 shows it for a delay DSN ("Receiving server: mdb27
	// (172.24.16.149)", "Remote Server at mdb27 (172.24.16.149) returned '400 4.4.7 Message
	// delayed'", "11/01/2023 04:20:14 - Remote Server at … returned '441 4.4.1 …'"), QA-RELAY
	// for a refusal, sisimai for an expiry ("3/09/2016 8:05:56 PM - Remote Server at
	// mydomain.com (10.1.1.3) returned …").
	if len(notify) > 0 {
		if rs := receivingServer(notify[0], kind); rs != "" {
			w("Receiving server: %s", rs)
		}
	}
	w("")
	for _, r := range notify {
		w("%s", r.Address)
		status, history := r.LastError, r.AttemptError
		if kind == dsnDelayed {
			status, history = delayedError, r.LastError
		}
		if host := rejectedBy(r); kind == dsnFailed && host != "" {
			w("%s", host)
		}
		rs := receivingServer(r, kind)
		if rs != "" {
			w("Remote Server at %s returned '%s'", rs, status)
		} else {
			w("Remote Server returned '%s'", status)
		}
		if rs != "" && history != "" {
			w("%s - Remote Server at %s returned '%s'", historyDate(m.LastRetryTime.In(loc)), rs, history)
		}
		w("")
	}
	w("Original message headers:")
	w("")
	b.WriteString(origHeaders)
	b.WriteString("\r\n\r\n")
	return b.String()
}

// The HTML of the human part, as DsnHumanReadableWriter.CreateDsnHumanReadableBody writes it
// (decompiled transport, evilashz/exchange-server-27065), with the font tags of its resource
// strings as a 2023 NDR carries them (a Microsoft Graph capture of an Exchange NDR's HTML body,
// code index id 71377741835: BodyHeaderFontTag, BodyBlockFontTag, EnhancedDsnTextFontTag,
// DiagnosticsFontTag).
const (
	htmlHeaderFont   = `<font color="#000066" size="3" face="Arial">`
	htmlBlockFont    = `<font color="#000000" size="2" face="Tahoma">`
	htmlEnhancedFont = `<font color="#000000" size="3" face="Arial">`
	htmlDiagFont     = `<font color="#808080" size="2" face="Tahoma">`
)

// humanHTML is the text/html part: the same content as humanText, in Exchange's markup.
func (dw dsnWriter) humanHTML(m *queue.Message, notify []queue.Recipient, kind dsnKind, now time.Time, loc *time.Location, subject, origHeaders string) string {
	var b strings.Builder
	esc := htmlEscaper.Replace
	b.WriteString("<html>\r\n<Head></head>")
	body := "<body>\r\n"
	top := func(text string) {
		b.WriteString(body + "<p><b>" + htmlHeaderFont + text + "</font></b></p>\r\n")
		body = ""
	}
	link := func(addr string) {
		b.WriteString(`<p><a href="mailto:` + strings.ReplaceAll(url.PathEscape(addr), "%40", "@") + `">` + esc(dw.label(addr)) + "</a>")
	}
	explain := func(text string) {
		b.WriteString("<br>\r\n</font>\r\n" + htmlEnhancedFont + text + "<br>\r\n</font>\r\n" + htmlBlockFont + "<br>\r\n")
	}
	bottom := func(texts ...string) {
		for _, t := range texts {
			b.WriteString("<p>" + esc(t) + "</p>\r\n")
		}
	}
	switch kind {
	case dsnDelayed:
		top("Delivery is delayed to these recipients or groups:")
		b.WriteString(htmlBlockFont)
		for _, r := range notify {
			link(r.Address)
			b.WriteString("</p>\r\n")
		}
		bottom("Subject: "+subject, "This message hasn't been delivered yet. Delivery will continue to be attempted.",
			fmt.Sprintf("The server will keep trying to deliver this message for the next %s. You'll be notified if the message can't be delivered by that time.",
				humanSpan(m.Arrived.Add(dw.Expiration).Sub(now))))
		b.WriteString("</font>\r\n")
	case dsnDelivered, dsnRelayed:
		if kind == dsnDelivered {
			top("Your message has been delivered to the following recipients:")
		} else {
			top("Delivery to these recipients or groups is complete, but no delivery notification was sent by the destination server:")
		}
		b.WriteString(htmlBlockFont)
		for _, r := range notify {
			link(r.Address)
			b.WriteString("</p>\r\n")
		}
		bottom("Subject: " + subject)
		b.WriteString("</font>\r\n</body>\r\n</html>")
		return b.String()
	default:
		external := func(r queue.Recipient) bool { return rejectedBy(r) != "" && dw.DNSRouted != nil && dw.DNSRouted(r) }
		var hosts []string
		internal := 0
		for _, r := range notify {
			if !external(r) {
				internal++
				if h := rejectedBy(r); h != "" && !slices.Contains(hosts, h) {
					hosts = append(hosts, h)
				}
			}
		}
		if internal > 0 {
			top("Delivery has failed to these recipients or groups:")
			b.WriteString(htmlBlockFont)
			for _, r := range notify {
				if !external(r) {
					link(r.Address)
					explain(ndrCauseOf(r).explain)
					b.WriteString("</p>\r\n")
				}
			}
			for _, h := range hosts {
				bottom("The following organization rejected your message: " + h + ".")
			}
			b.WriteString("</font>\r\n")
		}
		done := map[string]bool{}
		for _, r := range notify {
			host := rejectedBy(r)
			if !external(r) || done[host] {
				continue
			}
			done[host] = true
			top(esc(host) + " rejected your message to the following email addresses:")
			b.WriteString(htmlBlockFont)
			for _, x := range notify {
				if !external(x) || rejectedBy(x) != host {
					continue
				}
				link(x.Address)
				explain(ndrCauseOf(x).explain)
				b.WriteString("\r\n<p><b>" + esc(host) + " gave this error:<br>\r\n")
				for _, word := range strings.Fields(replyDetail(x.LastError)) {
					b.WriteString(esc(word) + " ")
				}
				b.WriteString("<br>\r\n</b></p>\r\n</p>\r\n")
			}
			b.WriteString("</font>\r\n")
		}
	}
	// WriteDiagnosticBlock.
	b.WriteString("<br><br><br><br><br><br>\r\n" + htmlDiagFont + "<p><b>Diagnostic information for administrators:</b></p>\r\n")
	b.WriteString("<p>Generating server: " + esc(dw.Fqdn))
	if len(notify) > 0 {
		b.WriteString("<br>\r\n")
		if rs := receivingServer(notify[0], kind); rs != "" {
			b.WriteString("Receiving server: " + esc(rs) + "<br>\r\n")
		}
	}
	b.WriteString("</p>\r\n")
	for _, r := range notify {
		b.WriteString("<p>" + esc(r.Address) + "<br>\r\n")
		status, history := r.LastError, r.AttemptError
		if kind == dsnDelayed {
			status, history = delayedError, r.LastError
		}
		if host := rejectedBy(r); kind == dsnFailed && host != "" {
			b.WriteString(esc(host) + "<br>\r\n")
		}
		rs := receivingServer(r, kind)
		if rs != "" {
			b.WriteString(esc("Remote Server at "+rs+" returned '"+status+"'") + "<br>\r\n")
			if history != "" {
				b.WriteString(esc(historyDate(m.LastRetryTime.In(loc)) + " - Remote Server at " + rs + " returned '" + history + "'"))
			}
		} else {
			b.WriteString(esc("Remote Server returned '"+status+"'") + "<br>\r\n")
		}
		b.WriteString("</p>\r\n")
	}
	b.WriteString("<p>Original message headers:</p>\r\n<pre>" + esc(origHeaders+"\r\n") + "</pre>\r\n</font>\r\n</body>\r\n</html>")
	return b.String()
}

// htmlEscaper escapes text for Exchange's HTML (its escaper leaves apostrophes alone, as the
// Graph capture's "Remote server returned '550 …'" shows).
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// failedText writes an NDR's user information section as Exchange's DsnHumanReadableWriter
// does (decompiled transport, evilashz/exchange-server-27065): under "Delivery has failed to
// these recipients or groups:" each recipient is its mailto link, which the text part writes
// "<address><mailto:<address>>" (NDR-E16), and the explanation of its status; when a next hop
// refused, "The following organization rejected your message: <host>." follows (an on-premises
// 2013 NDR of 554 5.4.14 on Microsoft Q&A 301350, a 2010 one of 5.7.64 on Q&A 304252, a 2013
// one of 554 5.7.1 quoted by mailroute.net). Recipients a send connector with
// DNSRoutingEnabled delivered to are an "external" NDR: "<host> rejected your message to the
// following email addresses:", and under each recipient "<host> gave this error:" with the
// reply without its codes (QA-RELAY, 15.2.1118: "EXCHANGE.local-domain.local rejected your
// message … gave this error: SMTP; Unable to relay recipient in non-accepted domain"; its
// "@gmail.com (@gmail.com)" is Outlook showing a recipient with a display name, which exlab's
// recipients do not have).
func (dw dsnWriter) failedText(b *strings.Builder, notify []queue.Recipient) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...); b.WriteString("\r\n") }
	external := func(r queue.Recipient) bool {
		return rejectedBy(r) != "" && dw.DNSRouted != nil && dw.DNSRouted(r)
	}
	var internal []queue.Recipient
	var hosts []string // the next hops that refused, in order
	for _, r := range notify {
		if external(r) {
			continue
		}
		internal = append(internal, r)
		if h := rejectedBy(r); h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(internal) > 0 {
		w("Delivery has failed to these recipients or groups:")
		w("")
		for _, r := range internal {
			w("%s<mailto:%s>", dw.label(r.Address), r.Address)
			w("%s", ndrCauseOf(r).explain)
			w("")
		}
		for _, h := range hosts {
			w("The following organization rejected your message: %s.", h)
			w("")
		}
	}
	done := map[string]bool{}
	for _, r := range notify {
		host := rejectedBy(r)
		if !external(r) || done[host] {
			continue
		}
		done[host] = true
		w("%s rejected your message to the following email addresses:", host)
		w("")
		for _, x := range notify {
			if !external(x) || rejectedBy(x) != host {
				continue
			}
			w("%s<mailto:%s>", dw.label(x.Address), x.Address)
			w("%s", ndrCauseOf(x).explain)
			w("")
			w("%s gave this error:", host)
			w("%s", replyDetail(x.LastError))
			w("")
		}
	}
}

// ndrCause is why a recipient failed, as an NDR's user information section explains it.
type ndrCause struct {
	name    string
	explain string
}

// The explanations of Exchange 2016/2019 NDRs. Exchange picks one by the recipient's enhanced
// status code (DsnHumanReadableWriter.GetNDRHumanReadableExplanation): the code itself, then a
// 4.x.y as 5.x.y, then 5.x.0, then 5.0.0. Each text names where it was seen; where no published
// NDR shows it, it says so.
var (
	// 5.1.1, 5.1.10: NDR-E16 (on-premises 15.1.2507.16, 550 5.1.10) and many quoted 2013+ NDRs.
	causeNotFound = ndrCause{"recipient-not-found", "The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message. If the problem continues, please contact your email admin."}
	// 5.4.7 (QUEUE.Expired's 4.4.7): the "User information section" of 550 4.4.7 in Microsoft's
	// NDR articles (MicrosoftDocs/SupportArticles-docs: fix-error-code-5-1-0 quotes it so,
	// -4-4-7 with "Try sending"); Exchange 2007 had "… has been trying to deliver this message
	// without success and has stopped trying. Please try sending this message again".
	causeExpired = ndrCause{"expired", "The server has tried to deliver this message, without success, and has stopped trying. Please try sending this message again. If the problem continues, contact your help desk."}
	// 5.0.0, the last fallback: a 2021 on-premises NDR with an empty status on Microsoft Q&A
	// (code index id 57425207748). QUEUE.Admin's 4.3.2 falls back to it (5.3.2, 5.3.0: no
	// published NDR shows a text for either [I]).
	causeGeneric = ndrCause{"generic", "A problem occurred during the delivery of this message. Please try to resend the message later."}
	// 5.3.4, 5.2.3: a 2026 capture of a 550 5.2.3 RESOLVER.RST.RecipSizeLimit NDR begins "Your
	// message is too large to send" (code index id 70849044225, which elides the limits that
	// follow); exlab writes the sentence it shows.
	causeSize = ndrCause{"size-limit", "Your message is too large to send."}
	// 5.7.1: an Exchange NDR in Microsoft's "How to interpret an Exchange NDR" (code index id
	// 3501418619); a 2013 one quoted by mailroute.net has "may" and "e-mail".
	causePermission = ndrCause{"permission", "Your message wasn't delivered due to a permission or security issue. It might have been rejected by a moderator, the address might only accept email from certain senders, or another restriction might be preventing delivery."}
	// 5.7.54: QA-RELAY, a 2019 (15.2.1118) NDR of 550 5.7.54 SMTP; Unable to relay.
	causeRelay = ndrCause{"relay-denied", "Your message couldn't be sent because the mail server is not ready to accept your message."}
	// 5.4.6, 5.4.14: no published Exchange 2013+ NDR of a loop shows its text [I]: the wording
	// of the 2007/2010 NDRs, with 2016's "email admin".
	causeLoop = ndrCause{"loop", "A configuration error in the email system caused the message to bounce between two servers or to be forwarded between two recipients. Please contact your email admin."}
	// 5.7.0, so every other 5.7.x: an Exchange 2010 NDR of 550 5.7.64 (Q&A 304252) and an
	// Exchange Online one of 550 5.7.501 (a Microsoft Graph capture, code index id 71377741835).
	causeRejected = ndrCause{"rejected", "Your message wasn't delivered because the recipient's email provider rejected it."}
)

// ndrExplanations maps the enhanced codes that have an explanation of their own.
var ndrExplanations = map[string]ndrCause{
	"5.1.1": causeNotFound, "5.1.10": causeNotFound,
	"5.4.7": causeExpired,
	"5.3.4": causeSize, "5.2.3": causeSize,
	"5.7.1": causePermission, "5.7.54": causeRelay, "5.7.0": causeRejected,
	"5.4.6": causeLoop, "5.4.14": causeLoop,
	"5.0.0": causeGeneric,
}

// ndrCauseOf is the explanation of a failed recipient's status, looked up as Exchange does:
// the enhanced code, a 4.x.y as 5.x.y, 5.x.0, 5.0.0. The status texts behind the codes are
// Exchange's AckReason table (decompiled Exchange 2013+ transport,
// evilashz/exchange-server-27065: Microsoft.Exchange.Transport/Exchange/Transport/AckReason.cs):
// MessageExpired "550 4.4.7 QUEUE.Expired; message expired", MessageDeletedByAdmin "550 4.3.2
// QUEUE.Admin; message deleted by administrative action", LocalRecipientAddressUnknown "550
// 5.1.1 RESOLVER.ADR.RecipNotFound; not found", MessageTooLargeForRoute "550 5.3.4
// ROUTING.SizeLimit; …", the RESOLVER.RST.*SizeLimit 5.2.3 family, SMTPSEND.*OverAdvertisedSize
// 5.3.4, ExpansionLoopDetected "550 5.4.6 RESOLVER.FWD.Loop; …".
func ndrCauseOf(r queue.Recipient) ndrCause {
	code := (&smtpwire.Reply{Text: r.LastError}).Enhanced()
	if code == "" {
		return causeGeneric
	}
	if c, ok := ndrExplanations[code]; ok {
		return c
	}
	code = "5" + code[1:]
	if c, ok := ndrExplanations[code]; ok {
		return c
	}
	if i := strings.LastIndexByte(code, '.'); i > 0 {
		if c, ok := ndrExplanations[code[:i]+".0"]; ok {
			return c
		}
	}
	return causeGeneric
}

// remoteHost is the host of the next hop a recipient was last tried at ("[127.0.0.1]:2500" →
// "127.0.0.1"), or "".
func remoteHost(r queue.Recipient) string {
	if r.LastHost == "" {
		return ""
	}
	if h, _, err := net.SplitHostPort(r.LastHost); err == nil {
		return h
	}
	return strings.Trim(r.LastHost, "[]")
}

// rejectedBy is the server that refused a failed recipient, or "" when this server failed it
// itself: expiry and removal keep the host of the last attempt but are the hub's own verdict.
func rejectedBy(r queue.Recipient) string {
	switch r.LastError {
	case expiredError, removedError, smtpwire.Fixed("X10").Text, smtpwire.Fixed(smtpwire.R74).Text:
		return ""
	}
	return remoteHost(r)
}

// dnsRoutedIn is dsnWriter.DNSRouted for an organization: whether the send connector a
// recipient left through (its NextHop) routes by DNS.
func dnsRoutedIn(org *config.Organization) func(queue.Recipient) bool {
	return func(r queue.Recipient) bool {
		for _, sc := range org.SendConnectors {
			if sc.Name == r.NextHop {
				return sc.DNSRoutingEnabled
			}
		}
		return false
	}
}

// receivingServer is Exchange's ReceivingServerDetails of a recipient: the next hop it was
// last tried at, "<host> (<ip>)", when the verdict is this server's own after attempts there
// (a delay, an expiry, a removal); "" when another server refused it (that server is named on
// a line of its own) or it was never tried.
func receivingServer(r queue.Recipient, kind dsnKind) string {
	h := remoteHost(r)
	if h == "" || kind == dsnFailed && rejectedBy(r) != "" {
		return ""
	}
	return remoteAt(h)
}

// remoteAt writes a next hop as Exchange's diagnostic lines do, "<host> (<ip>)". exlab keeps
// only the address it connected to, so both are the address.
func remoteAt(host string) string { return host + " (" + host + ")" }

// replyDetail is a reply without its codes, as the "gave this error:" line shows it
// ("550 5.7.54 SMTP; Unable to relay …" → "SMTP; Unable to relay …").
func replyDetail(reply string) string {
	f := strings.SplitN(reply, " ", 3)
	if len(f) == 3 && statusOf(reply) == f[1] {
		return f[2]
	}
	if len(f) >= 2 && len(f[0]) == 3 {
		return strings.Join(f[1:], " ")
	}
	return reply
}

// historyDate is the local time of a diagnostic history line. Its form follows the server's
// culture (DSN-E13 "11/01/2023 04:20:14" from an en-GB server, sisimai's "3/09/2016 8:05:56 PM");
// exlab's servers are en-US [I].
func historyDate(t time.Time) string { return t.Format("1/2/2006 3:04:05 PM") }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7e {
			return false
		}
	}
	return true
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
