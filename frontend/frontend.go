// Package frontend is exlab's Front End Transport service: the FrontendTransport receive
// connectors (Default Frontend <SERVER> on 25, Client Frontend <SERVER> on 587, Outbound Proxy
// Frontend <SERVER> on 717). It answers EHLO, MAIL and RCPT itself with routing's decisions, as
// Exchange does, and proxies each accepted message to a hub over SMTP (transport/smtpsend),
// returning the hub's own final reply. It keeps no state and never queues: a message it cannot
// hand to a hub gets Exchange's PRX reply, never a 250 of its own. It does not import the hub
// or the queue. Its Exchange counterpart is the Microsoft Exchange Frontend Transport service
// (MSExchangeFrontEndTransport).
package frontend

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Options configure a Frontend.
type Options struct {
	Org      *config.Organization
	Server   *config.Server
	Resolver *routing.Resolver
	AuthKey  []byte
	TLS      *smtpreceive.TLSPolicy
	// HubAddr returns the address of the hub's Default <SERVER> connector.
	HubAddr func() string
	// DialHub, when set, connects to the hub instead of a TCP dial to HubAddr (exlab serve
	// passes an in-process pipe when it runs both services).
	DialHub func(ctx context.Context) (net.Conn, error)
	// ClientProxyAddr and DialClientProxy reach the hub's Client Proxy <SERVER> connector for
	// authenticated sessions; when both are nil those go to Default <SERVER> too.
	ClientProxyAddr func() string
	DialClientProxy func(ctx context.Context) (net.Conn, error)
	Logger          *slog.Logger
	// ProtocolLog and SendProtocolLog are the Front End Transport service's SmtpReceive and
	// SmtpSend protocol logs (nil: none); the send log has the outbound proxy's next-hop
	// sessions of send connectors with ProtocolLoggingLevel Verbose.
	ProtocolLog     *smtpwire.ProtocolLog
	SendProtocolLog *smtpwire.ProtocolLog
	// Metrics records the engine's measurements and the proxy hop (nil: none).
	Metrics *smtpreceive.Metrics
	// Tracer, when set, opens the session and message spans and the proxy hop's span, whose
	// traceparent travels to the hub in XPROXYFROM.
	Tracer trace.Tracer
	// Faults are the process's fault-injection rules and maintenance switch (nil: none).
	Faults *smtpreceive.Faults
}

// Frontend is one server's Front End Transport service.
type Frontend struct {
	opt    Options
	state  atomic.Pointer[orgState]
	offset int
	recv   *smtpreceive.Server
	proxy  *smtpsend.Proxy // to the hub's Default <SERVER>: inbound mail
	// clientProxy reaches the hub's Client Proxy <SERVER> (465): authenticated client
	// sessions, carrying the user (spec §6.3).
	clientProxy *smtpsend.Proxy
	// hubs are the site's hubs the proxy chooses among (hubs.go); stop ends their probes.
	hubs atomic.Pointer[hubSet]
	stop chan struct{}
}

// orgState is the organization a session decides by; Reconfigure replaces it for new sessions.
type orgState struct {
	org      *config.Organization
	srv      *config.Server
	resolver *routing.Resolver
}

// New makes a frontend; Listen and Start run it.
func New(o Options) *Frontend {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Resolver == nil {
		o.Resolver = routing.New(o.Org)
	}
	f := &Frontend{opt: o}
	f.state.Store(&orgState{org: o.Org, srv: o.Server, resolver: o.Resolver})
	f.stop = make(chan struct{})
	f.proxy = f.newProxy(o.HubAddr, o.DialHub)
	if o.Server.IntraOrgConnectorProtocolLoggingLevel == config.LoggingVerbose {
		// The frontend's implicit send connector to the hub logs by default (spec §7.1, MS-PL).
		f.proxy.ProtocolLog = o.SendProtocolLog.Writer()
	}
	f.clientProxy = f.proxy
	if o.ClientProxyAddr != nil || o.DialClientProxy != nil {
		f.clientProxy = f.newProxy(o.ClientProxyAddr, o.DialClientProxy)
		f.clientProxy.ProtocolLog = f.proxy.ProtocolLog
	}
	f.hubs.Store(f.buildHubs(o.Org, o.Server, nil))
	f.recv = &smtpreceive.Server{
		Role:          config.FrontendTransport,
		Version:       o.Server.Version,
		TLS:           o.TLS,
		Select:        routing.SelectConnector,
		Logger:        o.Logger,
		ProtocolLog:   o.ProtocolLog,
		Metrics:       o.Metrics,
		Tracer:        o.Tracer,
		Faults:        o.Faults,
		RetryInterval: o.Server.BindRetryInterval.Duration(),
		NewSession: func(ci *smtpreceive.ConnInfo) smtpreceive.Session {
			st := f.state.Load()
			s := &session{f: f, st: st, ci: ci, rc: ci.Connector, principal: routing.Anonymous}
			s.rights = routing.SessionRights(s.rc, s.principal, st.org.ADPermissions)
			return s
		},
	}
	return f
}

// newProxy is a pooled, X-EXPS-authenticated client to one hub connector.
func (f *Frontend) newProxy(addr func() string, dial func(context.Context) (net.Conn, error)) *smtpsend.Proxy {
	o := f.opt
	return &smtpsend.Proxy{
		Addr:           addr,
		Dial:           dial,
		HeloName:       o.Server.Fqdn,
		AuthKey:        o.AuthKey,
		ConnectTimeout: o.Server.ProxyConnectTimeout.Duration(),
		CommandTimeout: o.Server.ProxyCommandTimeout.Duration(),
		PoolSize:       o.Server.ProxyPoolSize,
		IdleTimeout:    time.Minute, // well under the hub's ConnectionInactivityTimeout
	}
}

// Connectors returns the frontend's enabled receive connectors.
func (f *Frontend) Connectors() []*config.ReceiveConnector {
	st := f.state.Load()
	return st.org.ConnectorsOf(st.srv.Name, config.FrontendTransport)
}

// Listen binds the frontend connectors (ports shifted by portOffset).
func (f *Frontend) Listen(portOffset int) ([]smtpreceive.Listening, []*smtpreceive.BindError) {
	f.offset = portOffset
	return f.recv.Listen(f.Connectors(), portOffset, f.state.Load().srv.BindingConflictMode == config.BindingShared)
}

// Reconfigure applies a new organization to the running service: new sessions decide by it,
// connectors are added, removed and rebound, sessions on unchanged bindings go on (issue 4).
// The proxy's settings (timeouts, pool) keep their values until a restart.
func (f *Frontend) Reconfigure(org *config.Organization, srv *config.Server, resolver *routing.Resolver) ([]smtpreceive.Listening, []*smtpreceive.BindError) {
	f.state.Store(&orgState{org: org, srv: srv, resolver: resolver})
	f.hubs.Store(f.buildHubs(org, srv, f.hubs.Load()))
	return f.recv.Reconfigure(f.Connectors(), f.offset, srv.BindingConflictMode == config.BindingShared)
}

// Start accepts connections.
func (f *Frontend) Start() { f.recv.Serve() }

// Shutdown stops accepting and lets sessions that are sending a message finish.
func (f *Frontend) Shutdown(ctx context.Context) error {
	err := f.recv.Shutdown(ctx)
	close(f.stop)
	for _, h := range f.hubs.Load().list {
		if !h.self {
			h.proxy.Close()
			h.clientProxy.Close()
		}
	}
	f.proxy.Close()
	if f.clientProxy != f.proxy {
		f.clientProxy.Close()
	}
	return err
}

// session is the frontend's policy for one client session.
type session struct {
	f        *Frontend
	st       *orgState
	user     string            // the authenticated mailbox (primary address), or ""
	proxyTo  []string          // XPROXYTO next hops of the transaction (a hub's outbound proxy)
	nextHop  *smtpsend.NextHop // the session to the next hop while relaying for the hub
	sendOpts smtpsend.SendOptions
	// authDomain is the partner domain of a Domain Secure session.
	authDomain string
	ci         *smtpreceive.ConnInfo
	rc         *config.ReceiveConnector
	principal  routing.Principal
	rights     routing.Rights
	seq        int

	env smtpsend.Envelope
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
func (s *session) Close() { s.Reset() }

func (s *session) Reset() {
	if s.nextHop != nil {
		s.nextHop.Close()
		s.nextHop = nil
	}
	s.proxyTo = nil
	s.env.From = ""
	s.env.Mail = smtp.MailOptions{}
	s.env.Recipients = s.env.Recipients[:0]
}

func (s *session) SizeLimit() int64 {
	if s.rights.Has(routing.BypassMessageSizeLimit) {
		return 0
	}
	return int64(s.rc.MaxMessageSize)
}

func (s *session) Mail(ctx context.Context, from string, opts *smtpreceive.MailOptions) *smtpwire.Reply {
	if s.proxyTo != nil {
		// Relaying for a hub: the next hop answers, starting here (spec §6.4).
		nh, fail := smtpsend.OpenNextHop(ctx, s.proxyTo, s.sendOpts, from)
		if nh == nil {
			return remoteReply(fail)
		}
		s.nextHop = nh
		s.env.From = from
		return nil
	}
	v := s.st.resolver.CheckSender(s.rc, s.rights, s.st.srv.Version, s.user, from)
	if !v.OK {
		return smtpwire.Fixed(smtpwire.ReplyID(v.Reply))
	}
	s.env.From = from
	s.env.Mail = smtp.MailOptions{Body: smtp.BodyType(opts.Body), Size: opts.Size, UTF8: opts.SMTPUTF8,
		Return: smtp.DSNReturn(opts.Return), EnvelopeID: opts.EnvelopeID}
	return nil
}

func (s *session) Rcpt(ctx context.Context, to string, opts *smtpreceive.RcptOptions) *smtpwire.Reply {
	if s.nextHop != nil {
		if res := s.nextHop.Rcpt(to); res.Code/100 != 2 {
			return remoteReply(res)
		}
		s.env.Recipients = append(s.env.Recipients, smtpsend.Recipient{Address: to})
		return nil
	}
	v := s.st.resolver.CheckRecipient(s.rc, s.rights, s.st.srv.Version, to)
	if !v.OK {
		return smtpwire.Fixed(smtpwire.ReplyID(v.Reply))
	}
	r := smtpsend.Recipient{Address: to}
	if len(opts.Notify) > 0 || opts.OrcptAddress != "" {
		ro := &smtp.RcptOptions{OriginalRecipientType: smtp.DSNAddressType(opts.OrcptType), OriginalRecipient: opts.OrcptAddress}
		for _, n := range opts.Notify {
			ro.Notify = append(ro.Notify, smtp.DSNNotify(n))
		}
		r.Options = ro
	}
	s.env.Recipients = append(s.env.Recipients, r)
	return nil
}

// Data proxies the message to the hub while the client sends it: the hub session is taken
// when the data starts (spec §6.1), the envelope replayed, the frontend's Received: line
// written, the body streamed, and the hub's final reply returned unchanged.
func (s *session) Data(ctx context.Context, r io.Reader) *smtpwire.Reply {
	if s.nextHop != nil {
		return s.relayOut(ctx, r)
	}
	if rep, handled := s.ci.Engine.InjectFault(config.StepProxy); handled {
		// A fault in place of the hop to the hub: the message is read and dropped, the
		// client gets the injected reply (a PRX reply counts as that proxy failure).
		_, _ = io.Copy(io.Discard, r)
		if rep != nil {
			s.f.opt.Metrics.Proxy(s.rc, prxCode(rep.Text))
		}
		return rep
	}
	s.seq++
	authSrc := "Internal"
	switch s.principal {
	case routing.Anonymous:
		authSrc = "Anonymous"
	case routing.Partner:
		authSrc = "Partner"
	}
	traceParent := ""
	if t := s.f.opt.Tracer; t != nil {
		var span trace.Span
		ctx, span = t.Start(ctx, "smtp.proxy", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("smtp.connector", s.rc.Identity()), attribute.Bool("smtp.client_proxy", s.user != "")))
		defer span.End()
		traceParent = smtpreceive.TraceParent(ctx)
	}
	s.env.ProxyFrom = proxyFrom(s.ci, s.seq, s.rights, authSrc, s.user, s.authDomain, traceParent)
	if s.ci.Engine.Logging() {
		s.ci.Engine.Info("", "Proxy destination(s) obtained from OnProxyInboundMessage event. Correlation Id:"+smtpwire.NewGUID())
	}
	hopStart := time.Now()
	tlsDesc := ""
	if st := s.ci.TLS; st != nil {
		tlsDesc = smtpreceive.TLSDescription(st.Version, tls.CipherSuiteName(st.CipherSuite))
	}
	stamp := smtpreceive.ReceivedHeader(s.ci.Helo, s.ci.Remote.Addr().String(), s.rc.Fqdn,
		s.ci.Local.Addr().Unmap().String(), tlsDesc, s.st.srv.Version, true, s.ci.Started.Local())
	// With more than one hub to try, a message of up to retryBodySize is read whole before the
	// hop, so that a hub refusing its envelope with a 4xx (back pressure's R34 at MAIL) or a
	// session that turns out dead can be passed over for the next hub with the same message; a
	// larger one, or any with one hub, streams to the hub that takes its session.
	order := s.hubOrder(s.f.hubs.Load())
	var body []byte
	whole := false
	if len(order) > 1 {
		buf := bodyBufs.Get().(*bytes.Buffer)
		buf.Reset()
		defer bodyBufs.Put(buf)
		if _, err := io.CopyN(buf, r, retryBodySize+1); err != nil && err != io.EOF {
			return smtpwire.ReplyFor(err) // the client's side failed (too large, gone): the engine answers for it
		}
		body, whole = buf.Bytes(), buf.Len() <= retryBodySize
	}
	var err error
	for i, h := range order {
		last := i == len(order)-1
		proxy := h.proxy
		if s.user != "" {
			proxy = h.clientProxy
		}
		var t *smtpsend.Transaction
		if t, err = proxy.Begin(ctx, &s.env); err != nil {
			if unreachable(err) {
				s.f.markDown(h, err)
			}
			if failover(err) && !last {
				continue
			}
			return s.proxyFailed(err)
		}
		if _, err = io.WriteString(t, stamp); err == nil && len(body) > 0 {
			_, err = t.Write(body)
		}
		if err != nil {
			t.Abort()
			if whole && retryable(err) && !last {
				continue
			}
			return s.proxyFailed(err)
		}
		if !whole {
			if _, err = t.ReadFrom(r); err != nil {
				t.Abort()
				var pe *smtpsend.Error
				if errors.As(err, &pe) {
					return s.proxyFailed(err)
				}
				// The client's side failed (too large, gone): the engine answers for it.
				return smtpwire.ReplyFor(err)
			}
		}
		var rep *smtpsend.HubReply
		if rep, err = t.End(); err != nil {
			if whole && retryable(err) && !last {
				s.f.opt.Logger.Debug("hub refused the envelope; the next hub of the site gets the message", "server", h.server, "err", err)
				continue
			}
			return s.proxyFailed(err)
		}
		if m := s.f.opt.Metrics; m != nil {
			m.Proxy(s.rc, "")
			m.Phase(s.rc, "proxy", time.Since(hopStart))
		}
		return smtpwire.FromRemote(rep.Code, rep.Text)
	}
	return s.proxyFailed(err)
}

// retryBodySize is the largest message the frontend keeps whole so that another hub can have
// it when the first refuses it before its end (see Data).
const retryBodySize = 256 << 10

var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// proxyFailed turns a failed proxy hop into the client's reply: the hub's own refusal passed
// through, or Exchange's 451 4.7.0 … PRXn (spec §6.1).
func (s *session) proxyFailed(err error) *smtpwire.Reply {
	var pe *smtpsend.Error
	m := s.f.opt.Metrics
	if !errors.As(err, &pe) {
		m.Proxy(s.rc, "PRX7")
		return smtpwire.Fixed("R67")
	}
	if pe.PRX == 0 && pe.Hub != nil {
		m.Proxy(s.rc, "")
		return smtpwire.FromRemote(pe.Hub.Code, pe.Hub.Text)
	}
	m.Proxy(s.rc, fmt.Sprintf("PRX%d", pe.PRX))
	s.f.opt.Logger.Warn("proxy to hub failed", "connector", s.rc.Identity(), "session", s.ci.SessionID,
		"PRX", pe.PRX, "step", pe.Step, "err", pe.Err)
	id := map[int]smtpwire.ReplyID{
		smtpsend.PRXNoDestination: "R62", smtpsend.PRXDNS: "R63", smtpsend.PRXConnect: "R64",
		smtpsend.PRXSessionSetup: "R65", smtpsend.PRXTLS: "R66", smtpsend.PRXProtocol: "R67",
	}[pe.PRX]
	if id == "" {
		id = "R67"
	}
	return smtpwire.Fixed(id)
}

// prxCode is the PRXn at the end of a reply ("… PRX3"), or "" for none.
func prxCode(text string) string {
	if i := strings.LastIndex(text, "PRX"); i >= 0 {
		end := i + 3
		for end < len(text) && text[end] >= '0' && text[end] <= '9' {
			end++
		}
		if end > i+3 {
			return text[i:end]
		}
	}
	return ""
}

func proxyFrom(ci *smtpreceive.ConnInfo, seq int, rights routing.Rights, authSrc, user, authDomain, traceParent string) string {
	return smtpwire.ProxyFrom{SessionID: ci.SessionID, IP: ci.Remote.Addr().String(), Port: int(ci.Remote.Port()),
		Helo: ci.Helo, Seq: seq, Perms: uint32(rights), AuthSrc: authSrc, User: user, AuthDomain: authDomain, TraceParent: traceParent}.Format()
}

// Auth: AUTH LOGIN and NTLM, and X-EXPS NTLM, check the Mailboxes' lab passwords
// (smtpreceive.Authenticate applies the connector's mechanisms and tarpits; NTLM's target
// information comes from the organization); X-EXPS GSSAPI from another Exchange server (the
// hub's outbound proxy to 717) uses the organization key.
func (s *session) Auth(ctx context.Context, verb, mech string) (smtpreceive.SASL, *smtpwire.Reply) {
	if verb == "AUTH" || mech == "NTLM" {
		target := smtpreceive.NTLMTargetFor(s.st.srv, s.st.resolver.DefaultDomain())
		return smtpreceive.Authenticate(s.rc, mech, smtpreceive.AuthOptions{Verb: verb, TLS: s.ci.TLS != nil,
			Check: s.st.resolver.Authenticate, Accounts: s.st.resolver.NTLMAccount,
			Target: target,
			Done: func(id string, ok bool) {
				if !ok {
					s.f.opt.Logger.Warn(smtpreceive.Event1035(s.rc, smtpreceive.EventMechanism(mech), s.ci.Remote.Addr()), "EventID", 1035,
						"Source", smtpreceive.EventSource(s.rc.TransportRole))
					return
				}
				s.user, s.principal = id, routing.AuthenticatedUser
				s.ci.User = id
				s.rights = routing.SessionRights(s.rc, s.principal, s.st.org.ADPermissions)
				smtpreceive.LogAuthenticated(s.ci.Engine, s.rights.String(), target, id)
			}})
	}
	if mech != "GSSAPI" || len(s.f.opt.AuthKey) == 0 {
		return nil, smtpwire.Fixed("R24")
	}
	return smtpreceive.NewExpsServer(s.f.opt.AuthKey, func(ok bool) {
		if !ok {
			s.f.opt.Logger.Warn(smtpreceive.Event1035(s.rc, "ExchangeAuth", s.ci.Remote.Addr()), "EventID", 1035,
				"Source", smtpreceive.EventSource(s.rc.TransportRole))
			return
		}
		s.principal = routing.ExchangeServer
		s.rights = routing.SessionRights(s.rc, s.principal, s.st.org.ADPermissions)
	}), nil
}

// Extension handles XPROXYTO from a hub whose send connector has FrontendProxyEnabled (spec
// §6.4): the next hops for the following transaction, which this frontend then delivers to
// itself. Only Exchange servers (after X-EXPS) may use it; to anyone else it does not exist.
func (s *session) Extension(ctx context.Context, verb, arg string) (*smtpwire.Reply, bool) {
	if verb != "XPROXYTO" {
		return nil, false
	}
	if !s.rights.Has(routing.AcceptXProxyFrom) {
		return smtpwire.Fixed("R84"), true
	}
	pt, err := smtpwire.ParseProxyTo(arg)
	if err != nil {
		return smtpwire.Fixed("R59"), true
	}
	// The send connector's TLS and authentication settings, from the organization both roles
	// read; one that is gone since leaves opportunistic TLS and no authentication.
	s.sendOpts = smtpsend.SendOptions{Connector: pt.Connector}
	for i := range s.st.org.SendConnectors {
		if sc := &s.st.org.SendConnectors[i]; sc.Name == pt.Connector {
			s.sendOpts = smtpsend.OptionsFor(sc, "", 0, s.f.opt.Logger)
			if sc.ProtocolLoggingLevel == config.LoggingVerbose {
				s.sendOpts.ProtocolLog = s.f.opt.SendProtocolLog.Writer()
			}
		}
	}
	s.sendOpts.Helo, s.sendOpts.Timeout = s.st.srv.Fqdn, s.st.srv.ProxyCommandTimeout.Duration()
	s.proxyTo = pt.Hosts
	return smtpwire.Fixed("X08"), true
}

// relayOut sends a message handed over with XPROXYTO on to the next hop, with this frontend's
// Received: line, and answers with the next hop's own final reply, which the hub keeps.
func (s *session) relayOut(ctx context.Context, r io.Reader) *smtpwire.Reply {
	tlsDesc := ""
	if st := s.ci.TLS; st != nil {
		tlsDesc = smtpreceive.TLSDescription(st.Version, tls.CipherSuiteName(st.CipherSuite))
	}
	stamp := smtpreceive.ReceivedHeader(s.ci.Helo, s.ci.Remote.Addr().String(), s.rc.Fqdn,
		s.ci.Local.Addr().Unmap().String(), tlsDesc, s.st.srv.Version, true, time.Now())
	buf := bytes.NewBufferString(stamp)
	if _, err := buf.ReadFrom(r); err != nil {
		return smtpwire.ReplyFor(err)
	}
	return remoteReply(s.nextHop.Data(buf))
}

// remoteReply is a next hop's reply line (or SmtpSend failure text) as this session's reply.
func remoteReply(r smtpsend.RcptResult) *smtpwire.Reply {
	return smtpwire.FromRemote(r.Code, r.Text[min(4, len(r.Text)):])
}

// Unbound lists the frontend's bindings that do not listen (see smtpreceive.Server.Unbound).
func (f *Frontend) Unbound() []string { return f.recv.Unbound() }

// Bindings reports every binding of the service's receive connectors, listening or not (the
// web console's server health).
func (f *Frontend) Bindings() []smtpreceive.BindingState { return f.recv.Bindings() }

// Sessions is how many sessions each of the service's receive connectors has open.
func (f *Frontend) Sessions() map[*config.ReceiveConnector]int64 { return f.recv.Sessions() }
