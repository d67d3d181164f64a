package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// session is the hub's policy for one SMTP session.
type session struct {
	h         *Hub
	st        *orgState
	user      string // the authenticated mailbox (primary address), or ""
	ci        *smtpreceive.ConnInfo
	rc        *config.ReceiveConnector
	principal routing.Principal
	rights    routing.Rights
	proxy     *smtpwire.ProxyFrom
	// authDomain is the partner domain of a Domain Secure session.
	authDomain string

	from  string
	mopts smtpreceive.MailOptions
	rcpts []queue.Recipient
	// shadowOf and shadowID: the transaction is a shadow copy (XSHADOWREQUEST) of the primary
	// server shadowOf, whose Network-Message-Id for it is shadowID (shadow.go).
	shadowOf, shadowID string
}

func newSession(h *Hub, ci *smtpreceive.ConnInfo) *session {
	st := h.state.Load()
	s := &session{h: h, st: st, ci: ci, rc: ci.Connector, principal: routing.Anonymous}
	s.rights = routing.SessionRights(s.rc, s.principal, st.org.ADPermissions)
	return s
}

// Hello: after EHLO (so after STARTTLS too), a certificate of a TLSReceiveDomainSecureList
// domain makes the session a Domain Secure partner on a connector that admits Partners.
func (s *session) Hello(ctx context.Context) {
	if s.principal == routing.Anonymous && s.rc.DomainSecureEnabled && s.rc.HasGroup(config.Partners) {
		if d := smtpreceive.DomainSecure(s.ci.TLS, s.st.org.TransportConfig.TLSReceiveDomainSecureList); d != "" {
			s.principal, s.authDomain = routing.Partner, d
			s.rights = routing.SessionRights(s.rc, s.principal, s.st.org.ADPermissions)
		}
	}
}

func (s *session) Reset() {
	s.from = ""
	s.shadowOf, s.shadowID = "", ""
	s.mopts = smtpreceive.MailOptions{}
	s.rcpts = s.rcpts[:0]
}

func (s *session) Close() {}

func (s *session) SizeLimit() int64 {
	if s.rights.Has(routing.BypassMessageSizeLimit) {
		return 0
	}
	return int64(s.rc.MaxMessageSize)
}

func verdictReply(v routing.Verdict) *smtpwire.Reply {
	if v.OK {
		return nil
	}
	return smtpwire.Fixed(smtpwire.ReplyID(v.Reply))
}

func (s *session) Mail(ctx context.Context, from string, opts *smtpreceive.MailOptions) *smtpwire.Reply {
	// Back pressure: an Exchange server's own session (no XPROXYFROM) is an Exchange source;
	// mail a frontend proxies for a client is not.
	if s.h.pressure.refuses(s.principal == routing.ExchangeServer && s.proxy == nil) {
		return smtpwire.Fixed("R34")
	}
	if r := verdictReply(s.st.resolver.CheckSender(s.rc, s.rights, s.st.srv.Version, s.user, from)); r != nil {
		return r
	}
	s.from, s.mopts = from, *opts
	return nil
}

func (s *session) Rcpt(ctx context.Context, to string, opts *smtpreceive.RcptOptions) *smtpwire.Reply {
	v := s.st.resolver.CheckRecipient(s.rc, s.rights, s.st.srv.Version, to)
	if !v.OK {
		return smtpwire.Fixed(smtpwire.ReplyID(v.Reply))
	}
	s.rcpts = append(s.rcpts, queue.Recipient{Address: to, Notify: opts.Notify, OrcptType: opts.OrcptType,
		OrcptAddress: opts.OrcptAddress, Status: queue.StatusPending})
	return nil
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Data reads the whole message, categorizes it, writes it with the categorizer's decisions into
// the queue database in one synced commit, and only then answers 250 2.6.0 (R48; R49 for 2013),
// spec §5.3 and RELIABILITY §1.1.
func (s *session) Data(ctx context.Context, r io.Reader) *smtpwire.Reply {
	start := time.Now()
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		bodyPool.Put(buf)
		return smtpwire.ReplyFor(err)
	}
	body := buf.Bytes()
	hi := scanHeaders(body)
	// MaxHopCount is the receive engine's (it stops the data at the field too many);
	// MaxLocalHopCount needs the organization's servers, so it is checked here (only when there
	// are more Received: fields than local hops allowed: the usual message costs nothing).
	if s.rc.MaxLocalHopCount > 0 && hi.received > s.rc.MaxLocalHopCount && localHops(body[:hi.end], s.st.fqdns) > s.rc.MaxLocalHopCount {
		bodyPool.Put(buf)
		return smtpwire.Fixed("R52")
	}
	id, err := s.h.opt.Store.NextID()
	if err != nil {
		bodyPool.Put(buf)
		return smtpwire.Fixed("X01")
	}
	m := s.record(id, hi, start, int64(len(body)))
	if s.shadowOf != "" {
		rep := s.h.acceptShadow(s, m, body, hi)
		bodyPool.Put(buf)
		return rep
	}
	if m.AuthAs == "Anonymous" {
		// DKIM of mail from anonymous senders (Internet mail), stamped at the top.
		ar := s.st.noDkim
		if hi.dkimSig {
			ar = s.h.keys.authenticationResults(body, true, s.st.srv.Fqdn)
		}
		m.HeaderPrefix = ar + m.HeaderPrefix
	}
	s.h.tracker.track(trackEvent{ID: "RECEIVE", Source: "SMTP", Msg: m, Recipients: recipientAddresses(m), Status: ""})
	err = s.h.accept(ctx, m, body, s.rc, true)
	bodyPool.Put(buf)
	if err == errShadowFailed {
		return smtpwire.Fixed("X42")
	}
	if err != nil {
		s.h.opt.Logger.Error("submission failed; answering 451 4.3.0", "InternalMessageId", id, "err", err)
		return smtpwire.Fixed("X01")
	}
	secs := time.Since(start).Seconds()
	host := s.st.srv.Fqdn
	if s.st.srv.Version == config.Version2013 {
		return smtpwire.Render("R49", "msgid", m.MessageID, "internalid", strconv.FormatUint(id, 10), "hubfqdn", host)
	}
	// The figures are the message as stored, with the headers this hub stamped (its Received:,
	// the X-MS-Exchange-Organization block, a generated Message-ID, Authentication-Results), and
	// the time from the start of the data to this reply (spec §13.19: SANS SEC560's telnet
	// session "1559 bytes in 14.755, 0.103 KB/sec" counts more than the typed message and the
	// typing time; 1559/1024/14.755 = 0.103, so KB is 1024 bytes).
	return smtpwire.QueuedReply(m.MessageID, id, host, len(m.HeaderPrefix)+len(body)+len(m.HeaderSuffix), secs)
}

// errShadowFailed is accept's answer when no shadow copy could be made and
// RejectMessageOnShadowFailure is $true.
var errShadowFailed = errors.New("transport: no shadow copy could be made (RejectMessageOnShadowFailure)")

// accept runs a received message m through the categorizer, delivers this server's mailboxes,
// makes its shadow copy on another hub when shadow is set and recipients are left (spec §8.4),
// writes what is left with the categorizer's decisions into the queue database in one synced
// commit and hands it to the delivery queues. Once it returns nil the message is durable and
// may be acknowledged. rc, the connector it came in on, is nil for a shadow copy resubmitted.
func (h *Hub) accept(ctx context.Context, m *queue.Message, body []byte, rc *config.ReceiveConnector, shadow bool) error {
	span := h.categorizeSpan(ctx, m)
	u := h.categorize(m, body)
	// queue_commit times what makes the message durable before the 250: the hand-over to
	// Mailbox Delivery (475), now, before the hub's own commit, whose synced write then is the
	// message's only one (mailboxdelivery.go explains the choice), the shadow copy, and the
	// hub's commit of whatever is left.
	span = h.commitSpan(ctx, span, &u)
	commitStart := time.Now()
	if h.mbx != nil {
		hop := h.mailboxDeliverySpan(ctx, span)
		if res := h.deliverMailbox(m, body, true); res.Sent {
			h.settle(m, body, res, &u)
		}
		if hop != nil {
			hop.End()
		}
	}
	if shadow && !m.Done() && h.shadowWanted() {
		if !h.makeShadow(ctx, m, body) && h.state.Load().org.TransportConfig.RejectMessageOnShadowFailure {
			if span != nil {
				span.End()
			}
			return errShadowFailed
		}
	}
	var err error
	if !m.Done() || len(u.Deliveries) > 0 || len(u.New) > 0 {
		err = h.opt.Store.Submit(queue.Submission{Message: m, Body: body, Deliveries: u.Deliveries, New: u.New})
	}
	if rc != nil {
		h.opt.Metrics.Phase(rc, "queue_commit", time.Since(commitStart))
	}
	if span != nil {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	if err != nil {
		return err
	}
	h.sched.queueNDRs(u.New)
	if !m.Done() {
		h.sched.hold(m) // out through a send connector, or waiting as Unreachable, after the commit
	}
	return nil
}

// categorizeSpan, commitSpan and mailboxDeliverySpan open accept's spans when tracing (nil
// otherwise). Apart from accept, so that its frame stays small: it is on the deep call chain
// of every submission, whose goroutine a bigger stack costs a copy per connection.
func (h *Hub) categorizeSpan(ctx context.Context, m *queue.Message) trace.Span {
	t := h.opt.Tracer
	if t == nil {
		return nil
	}
	m.TraceParent = smtpreceive.TraceParent(ctx)
	_, span := t.Start(ctx, "queue.categorize", trace.WithAttributes(attribute.Int64("exlab.internal_message_id", int64(m.ID))))
	return span
}

// commitSpan ends the categorize span with what it decided and opens queue.commit.
func (h *Hub) commitSpan(ctx context.Context, categorize trace.Span, u *queue.Update) trace.Span {
	if categorize == nil {
		return nil
	}
	categorize.SetAttributes(attribute.Int("exlab.mailbox_deliveries", len(u.Deliveries)), attribute.Int("exlab.ndrs", len(u.New)))
	categorize.End()
	_, span := h.opt.Tracer.Start(ctx, "queue.commit")
	return span
}

func (h *Hub) mailboxDeliverySpan(ctx context.Context, commit trace.Span) trace.Span {
	if commit == nil {
		return nil
	}
	_, hop := h.opt.Tracer.Start(trace.ContextWithSpan(ctx, commit), "queue.mailbox_delivery", trace.WithSpanKind(trace.SpanKindClient))
	return hop
}

// record builds the queue record of a message, with the headers the hub stamps: its Received:
// line in front, and at the end of the header block a Message-ID when the message had none
// and the X-MS-Exchange-Organization headers of spec §9.2.
func (s *session) record(id uint64, hi headerInfo, arrived time.Time, size int64) *queue.Message {
	fqdn := s.st.srv.Fqdn
	clientIP := s.ci.Remote.Addr().String()
	m := &queue.Message{
		ID: id, NetworkMessageID: smtpwire.NewGUID(), MessageID: hi.messageID, Subject: hi.subject,
		From: s.from, Recipients: append([]queue.Recipient(nil), s.rcpts...),
		Return: s.mopts.Return, EnvelopeID: s.mopts.EnvelopeID, Body: s.mopts.Body, SMTPUTF8: s.mopts.SMTPUTF8,
		Size: size, Arrived: arrived.UTC(), ConnectorID: s.rc.Identity(), SessionID: s.ci.SessionID,
		ClientIP: clientIP, ClientHostname: s.ci.Helo, HeaderEnd: int64(hi.end),
	}
	tlsDesc := ""
	if st := s.ci.TLS; st != nil {
		tlsDesc = smtpreceive.TLSDescription(st.Version, tlsCipherName(st.CipherSuite))
	}
	m.HeaderPrefix = smtpreceive.ReceivedHeader(s.ci.Helo, clientIP, s.rc.Fqdn, localAddr(s.ci.Local), tlsDesc,
		s.st.srv.Version, false, arrived)
	var suffix strings.Builder
	suffix.Grow(640)
	if m.MessageID == "" {
		// Exchange generates <guid@fqdn> for a message without one (spec §5.3).
		m.MessageID = "<" + smtpwire.NewGUID() + "@" + fqdn + ">"
		suffix.WriteString("Message-ID: " + m.MessageID + "\r\n")
	}
	authAs, authSource := "Anonymous", fqdn
	origIP := clientIP
	if p := s.proxy; p != nil {
		origIP, authSource = p.IP, s.ci.Helo
		if p.AuthSrc != "" && p.AuthSrc != "Anonymous" {
			authAs = p.AuthSrc
		}
		if p.User != "" {
			// A client session proxied from 587 (spec §6.3, headers of client-proxied mail).
			suffix.WriteString("X-ClientProxiedBy: " + s.ci.Helo + " (" + clientIP + ") To " + s.rc.Fqdn + " (" + localAddr(s.ci.Local) + ")\r\n")
			suffix.WriteString("X-Originating-IP: [" + p.IP + "]\r\n")
		}
	} else if s.principal == routing.Partner {
		authAs = "Partner"
	} else if s.principal != routing.Anonymous {
		authAs = "Internal"
	}
	authDomain := s.authDomain
	if s.proxy != nil {
		authDomain = s.proxy.AuthDomain
	}
	m.OriginalClientIP, m.AuthAs, m.AuthSource = origIP, authAs, authSource
	h := func(name, value string) {
		suffix.WriteString("X-MS-Exchange-Organization-")
		suffix.WriteString(name)
		suffix.WriteString(": ")
		suffix.WriteString(value)
		suffix.WriteString("\r\n")
	}
	h("OriginalArrivalTime", arrived.UTC().Format("02 Jan 2006 15:04:05.0000 (UTC)"))
	h("Network-Message-Id", m.NetworkMessageID)
	h("OriginalClientIPAddress", origIP)
	h("OriginalServerIPAddress", clientIP)
	suffix.WriteString("X-MS-Exchange-Forest-ArrivalHubServer: " + fqdn + "\r\n")
	h("AuthSource", authSource)
	h("AuthAs", authAs)
	if authDomain != "" {
		h("AuthDomain", authDomain) // set by Domain Secure (spec §9.2)
	}
	if p := s.proxy; p != nil && p.User != "" {
		h("AuthMechanism", "06") // client-proxied SMTP AUTH (spec §9.2)
	}
	h("OriginalSize", strconv.FormatInt(size, 10))
	h("TotalRecipientCount", strconv.Itoa(len(m.Recipients)))
	m.HeaderSuffix = suffix.String()
	return m
}

// Auth answers AUTH LOGIN and NTLM and X-EXPS NTLM against the Mailboxes
// (smtpreceive.Authenticate), and X-EXPS GSSAPI with exlab's ExchangeServer authentication: an
// HMAC-SHA256 challenge over the organization's key (spec §6.1 leaves the mechanism to exlab;
// Exchange uses Kerberos).
func (s *session) Auth(ctx context.Context, verb, mech string) (smtpreceive.SASL, *smtpwire.Reply) {
	if verb == "AUTH" || mech == "NTLM" {
		target := smtpreceive.NTLMTargetFor(s.st.srv, s.st.resolver.DefaultDomain())
		return smtpreceive.Authenticate(s.rc, mech, smtpreceive.AuthOptions{Verb: verb, TLS: s.ci.TLS != nil,
			Check: s.st.resolver.Authenticate, Accounts: s.st.resolver.NTLMAccount,
			Target: target,
			Done: func(id string, ok bool) {
				if !ok {
					s.h.opt.Logger.Warn(smtpreceive.Event1035(s.rc, smtpreceive.EventMechanism(mech), s.ci.Remote.Addr()), "EventID", 1035,
						"Source", smtpreceive.EventSource(s.rc.TransportRole))
					return
				}
				s.user, s.principal = id, routing.AuthenticatedUser
				s.ci.User = id
				s.rights = routing.SessionRights(s.rc, s.principal, s.st.org.ADPermissions)
				smtpreceive.LogAuthenticated(s.ci.Engine, s.rights.String(), target, id)
			}})
	}
	if mech != "GSSAPI" || len(s.h.opt.AuthKey) == 0 {
		return nil, smtpwire.Fixed("R24")
	}
	return smtpreceive.NewExpsServer(s.h.opt.AuthKey, func(ok bool) {
		if !ok {
			s.h.opt.Logger.Warn(smtpreceive.Event1035(s.rc, "ExchangeAuth", s.ci.Remote.Addr()), "EventID", 1035,
				"Source", smtpreceive.EventSource(s.rc.TransportRole))
			return
		}
		s.principal = routing.ExchangeServer
		s.rights = routing.SessionRights(s.rc, s.principal, s.st.org.ADPermissions)
	}), nil
}

// Extension handles XPROXYFROM, which only sessions holding ms-Exch-SMTP-Accept-XProxyFrom may
// use; to anyone else the verb does not exist (R84), so an anonymous client on 2525 can never
// forge a client identity.
func (s *session) Extension(ctx context.Context, verb, arg string) (*smtpwire.Reply, bool) {
	switch verb {
	case "XSHADOWREQUEST", "XQDISCARD":
		return s.shadowVerb(verb, arg), true
	case "XPROXYFROM":
	default:
		return nil, false
	}
	if !s.rights.Has(routing.AcceptXProxyFrom) {
		return smtpwire.Fixed("R84"), true
	}
	if s.from != "" {
		return smtpwire.Fixed("X04"), true
	}
	p, err := smtpwire.ParseProxyFrom(arg)
	if err != nil {
		return smtpwire.Fixed("R59"), true
	}
	s.proxy = &p
	s.ci.User = p.User // MessageRateSource User counts the client's user, not the frontend
	if p.TraceParent != "" {
		s.ci.Engine.SetTraceParent(p.TraceParent)
	}
	return smtpwire.Fixed("X02"), true
}

func tlsCipherName(id uint16) string { return tls.CipherSuiteName(id) }

func recipientAddresses(m *queue.Message) []string {
	out := make([]string, len(m.Recipients))
	for i, r := range m.Recipients {
		out[i] = r.Address
	}
	return out
}
