package mailboxtransport

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// session is the Mailbox Delivery policy of one SMTP session: only an Exchange server
// (X-EXPS) may submit, only to mailboxes of the organization, and each message is written into
// the mailbox store before its 250.
type session struct {
	s         *Service
	st        *orgState
	ci        *smtpreceive.ConnInfo
	rc        *config.ReceiveConnector
	principal routing.Principal
	rights    routing.Rights

	from  string
	rcpts []rcpt

	receivedWords []string // the Received: line's words, the date last (received)
	receivedHelo  string   // the HELO they were made for
	receivedSec   int64    // the second receivedDate shows
	receivedDate  string
}

// rcpt is one accepted recipient and the mailbox it resolved to.
type rcpt struct {
	address, mailbox string
}

func newSession(s *Service, ci *smtpreceive.ConnInfo) *session {
	st := s.state.Load()
	ss := &session{s: s, st: st, ci: ci, rc: ci.Connector, principal: routing.Anonymous}
	ss.rights = routing.SessionRights(ss.rc, ss.principal, st.org.ADPermissions)
	return ss
}

func (s *session) Hello(context.Context) {}

func (s *session) Reset() {
	s.from = ""
	s.rcpts = s.rcpts[:0]
}

func (s *session) Close() {}

// SizeLimit: none. The hub has applied the size limits of the connectors the message came
// through; the store takes what the hub accepted.
func (s *session) SizeLimit() int64 { return 0 }

// Mail takes the sender of a session with the Submit right (an Exchange server, on Default
// Mailbox Delivery only); others get what the hub's connectors answer them (R29).
func (s *session) Mail(_ context.Context, from string, _ *smtpreceive.MailOptions) *smtpwire.Reply {
	if v := s.st.resolver.CheckSender(s.rc, s.rights, s.st.srv.Version, "", from); !v.OK {
		return smtpwire.Fixed(smtpwire.ReplyID(v.Reply))
	}
	s.from = from
	return nil
}

// Rcpt takes a recipient that resolves to a mailbox of the organization; any other address is
// refused with the resolver's text (R74), as the store driver has nowhere to write it.
func (s *session) Rcpt(_ context.Context, to string, _ *smtpreceive.RcptOptions) *smtpwire.Reply {
	disp, mb := s.st.resolver.Resolve(to)
	if disp != routing.DeliverToMailbox {
		return smtpwire.Fixed(smtpwire.R74)
	}
	s.rcpts = append(s.rcpts, rcpt{address: to, mailbox: mb.PrimarySmtpAddress})
	return nil
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Data writes the message into the mailbox store: its Received: line "via Mailbox Transport"
// in front (the line Exchange's Mailbox Transport Delivery service adds, e.g. "… with
// Microsoft SMTP Server (TLS) id 15.0.1210.3 via Mailbox Transport; …" in real headers of
// Exchange 2013-2016 mailboxes: public header dumps of intel.com and amazon.com Exchange
// servers, and a 2016 Japanese lab write-up naming MSExchangeDelivery as its writer), then the
// message as the hub sent it. One item per mailbox, all in one synced commit; the 250 comes
// after it, so a message the hub was told 250 for survives a crash. A failed write answers
// X01 and the hub keeps the message queued.
//
// The items get an InternalMessageId of the store's own (the mailbox database is not the
// queue database; in Exchange they are different stores), so a redelivery after a crash
// between this commit and the hub's record of it writes a second copy: delivery is
// at-least-once, as Exchange's is (its DUPLICATEDELIVER detection is not emulated).
func (s *session) Data(_ context.Context, r io.Reader) *smtpwire.Reply {
	start := time.Now()
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodyPool.Put(buf)
	buf.WriteString(s.received(start))
	if _, err := buf.ReadFrom(r); err != nil {
		return smtpwire.ReplyFor(err)
	}
	content := buf.Bytes()
	h := scanHeaders(content)
	store := s.s.opt.Store
	id, err := store.NextID()
	if err != nil {
		return smtpwire.Fixed("X01")
	}
	m := &queue.Message{ID: id, MessageID: h.messageID, Subject: h.subject, From: s.from, Size: int64(len(content)), Arrived: start.UTC()}
	var items []queue.MailboxItem
	byMailbox := map[string]int{}
	for _, rc := range s.rcpts {
		m.Recipients = append(m.Recipients, queue.Recipient{Address: rc.address, Status: queue.StatusDelivered, Mailbox: rc.mailbox})
		key := strings.ToLower(rc.mailbox)
		if i, ok := byMailbox[key]; ok {
			items[i].To = append(items[i].To, rc.address)
			continue
		}
		byMailbox[key] = len(items)
		items = append(items, queue.MailboxItem{Mailbox: rc.mailbox, ID: id, MessageID: h.messageID, From: s.from,
			To: []string{rc.address}, Subject: h.subject, Received: start.UTC(), Size: int64(len(content)), HeaderEnd: int64(h.end)})
	}
	if err := store.Submit(queue.Submission{Message: m, Body: content, Deliveries: items}); err != nil {
		s.s.opt.Logger.Error("mailbox delivery: the store write failed; answering 451 4.3.0", "InternalMessageId", id,
			"MessageId", h.messageID, "err", err)
		return smtpwire.Fixed("X01")
	}
	if d := s.s.opt.Delivered; d != nil && !strings.EqualFold(s.ci.Helo, s.s.state.Load().srv.Fqdn) {
		// From another server's hub: this server tracks the delivery (DELIVER/STOREDRIVER),
		// with what only that needs (this server's own hub tracks its deliveries itself).
		m.NetworkMessageID = headerField(content[:h.end], networkIDField)
		m.ClientIP, m.ClientHostname = s.ci.Remote.Addr().Unmap().String(), s.ci.Helo
		d(m)
	}
	secs := time.Since(start).Seconds()
	// R48 with the store's id [I]: what 475 answers at the end of data is not captured.
	return smtpwire.QueuedReply(h.messageID, id, s.rc.Fqdn, len(content), secs)
}

// received is the Mailbox Transport Delivery service's Received: line. All of it but the date
// is the session's, so it is put together once per session.
func (s *session) received(now time.Time) string {
	if s.receivedWords == nil || s.receivedHelo != s.ci.Helo {
		words := []string{"Received:", "from", s.ci.Helo, "(" + s.ci.Remote.Addr().Unmap().String() + ")", "by", s.rc.Fqdn,
			"(" + s.ci.Local.Addr().Unmap().String() + ")", "with", "Microsoft", "SMTP", "Server"}
		if st := s.ci.TLS; st != nil {
			words = append(words, strings.Fields(smtpreceive.TLSDescription(st.Version, tls.CipherSuiteName(st.CipherSuite)))...)
		}
		s.receivedWords = append(words, "id", smtpreceive.BuildNumber(s.st.srv.Version), "via", "Mailbox", "Transport;", "")
		s.receivedHelo = s.ci.Helo
	}
	if sec := now.Unix(); sec != s.receivedSec {
		s.receivedSec, s.receivedDate = sec, smtpreceive.BannerDate(now)
	}
	s.receivedWords[len(s.receivedWords)-1] = s.receivedDate
	return smtpreceive.Fold(s.receivedWords) + "\r\n"
}

// Auth answers X-EXPS with exlab's ExchangeServer authentication (as the hub's connectors do);
// the connector offers no AUTH mechanism, so AUTH gets R24.
func (s *session) Auth(_ context.Context, verb, mech string) (smtpreceive.SASL, *smtpwire.Reply) {
	if verb != "X-EXPS" || mech != "GSSAPI" || len(s.s.opt.AuthKey) == 0 {
		return nil, smtpwire.Fixed("R24")
	}
	return smtpreceive.NewExpsServer(s.s.opt.AuthKey, func(ok bool) {
		if !ok {
			s.s.opt.Logger.Warn(smtpreceive.Event1035(s.rc, "ExchangeAuth", s.ci.Remote.Addr()), "EventID", 1035,
				"Source", smtpreceive.EventSource(s.rc.TransportRole))
			return
		}
		s.principal = routing.ExchangeServer
		s.rights = routing.SessionRights(s.rc, s.principal, s.st.org.ADPermissions)
	}), nil
}

// Extension: the Mailbox Delivery connector knows no verbs beyond the engine's.
func (s *session) Extension(context.Context, string, string) (*smtpwire.Reply, bool) {
	return nil, false
}

// headerInfo is what the store keeps of a message's header block.
type headerInfo struct {
	messageID, subject string
	end                int // offset of the blank line that ends the header block
}

// networkIDField is the hub's Network-Message-Id header (spec §9.2).
const networkIDField = "X-MS-Exchange-Organization-Network-Message-Id"

// headerField is the value of the first field called name in a header block, trimmed (not
// unfolded: for one-line values such as a GUID), or "".
func headerField(block []byte, name string) string {
	for line := range bytes.SplitSeq(block, []byte("\r\n")) {
		if n, v, ok := bytes.Cut(line, []byte(":")); ok && len(n) == len(name) && strings.EqualFold(string(n), name) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// scanHeaders reads Message-ID and Subject (unfolded) from the header block of content.
func scanHeaders(content []byte) headerInfo {
	var h headerInfo
	end := bytes.Index(content, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(content)
	} else {
		end += 2
	}
	h.end = end
	block := content[:end]
	var name string
	var value []byte
	flush := func() {
		switch {
		case strings.EqualFold(name, "Message-ID") && h.messageID == "":
			h.messageID = string(bytes.TrimSpace(value))
		case strings.EqualFold(name, "Subject") && h.subject == "":
			h.subject = string(bytes.TrimSpace(value))
		}
		name, value = "", nil
	}
	for line := range bytes.SplitSeq(block, []byte("\r\n")) {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if name != "" {
				value = append(append(value, ' '), bytes.TrimSpace(line)...)
			}
			continue
		}
		flush()
		if n, v, ok := bytes.Cut(line, []byte(":")); ok {
			// Only the two fields kept need their name and value as strings.
			if len(n) == len("Message-ID") || len(n) == len("Subject") {
				name, value = string(n), append([]byte(nil), v...)
			}
		}
	}
	flush()
	return h
}
