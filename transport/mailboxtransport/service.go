// Package mailboxtransport is exlab's Mailbox Transport Delivery service (MSExchangeDelivery),
// the third transport service of Exchange 2013 and later: it receives SMTP from the Transport
// service (the hub) on its hidden receive connector Default Mailbox Delivery <SERVER> (475) and
// writes each message into the mailbox store, synced before its 250, the way Exchange's store
// driver writes into the mailbox database. It also answers on 476 and 477 as a 2019 server
// does (R94 banner, R95 before EHLO, spec §13.20), with connectors that take no mail [I].
//
// It owns the Mailbox Delivery session policy and the mailbox write; the SMTP bytes are the
// shared engine's (transport/smtpreceive), the durable bytes queue's (its mailbox items),
// recipients are resolved by routing. It does not queue: a message it cannot write is refused
// with a temporary reply and stays in the hub's SmtpDeliveryToMailbox queue. It does not import
// the hub package (transport), which reaches it only over SMTP (an in-process pipe or TCP),
// as Exchange's hub does over 475.
//
// A package of its own rather than files in transport: it is a separate Windows service in
// Exchange with its own connector, protocol log folder and event source, and keeping the hub
// out of its imports proves that the hub's mailbox deliveries really cross the SMTP hop.
//
// The Mailbox Transport Submission service (mail a mailbox user sends, submitted to the hub as
// mailboxtransportsubmissioninternalproxy) is not emulated: exlab has no Outlook-side store.
package mailboxtransport

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Options configure a Service.
type Options struct {
	Org      *config.Organization
	Server   *config.Server
	Store    *queue.Store
	AuthKey  []byte // the organization's ExchangeServer key: the hub proves itself with X-EXPS
	TLS      *smtpreceive.TLSPolicy
	Logger   *slog.Logger
	Resolver *routing.Resolver
	// ProtocolLog is the Mailbox Transport Delivery service's SmtpReceive log
	// (Logs/Mailbox/ProtocolLog/SmtpReceive/Delivery, spec §7.1), nil for none; it is written
	// when MailboxDeliveryConnectorProtocolLoggingLevel is Verbose.
	ProtocolLog *smtpwire.ProtocolLog
	Metrics     *smtpreceive.Metrics
	Tracer      trace.Tracer
	// Faults are the process's fault rules: a rule naming Default Mailbox Delivery <SERVER>
	// holds the hub's mailbox deliveries.
	Faults *smtpreceive.Faults
	// Delivered, when set, is told of each message written for another server's hub (its
	// recipients Delivered), which tracks its own deliveries: the DELIVER events of this
	// server's MSGTRKMD log (spec §7.2).
	Delivered func(m *queue.Message)
}

// Service is one server's Mailbox Transport Delivery service.
type Service struct {
	opt    Options
	state  atomic.Pointer[orgState]
	offset int
	recv   *smtpreceive.Server
}

// orgState is what sessions decide by; Reconfigure replaces it for new sessions.
type orgState struct {
	org      *config.Organization
	srv      *config.Server
	resolver *routing.Resolver
	conns    []*config.ReceiveConnector // Default Mailbox Delivery first, then 476 and 477
}

// New makes the service; Listen and Serve run it.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Resolver == nil {
		o.Resolver = routing.New(o.Org)
	}
	s := &Service{opt: o}
	s.state.Store(&orgState{org: o.Org, srv: o.Server, resolver: o.Resolver, conns: o.Org.MailboxDeliveryConnectors(o.Server)})
	s.recv = &smtpreceive.Server{
		Role:          config.MailboxDelivery,
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
			return newSession(s, ci)
		},
	}
	return s
}

// Connectors returns the service's receive connectors: Default Mailbox Delivery <SERVER> on 475
// first, then those of 476 and 477.
func (s *Service) Connectors() []*config.ReceiveConnector { return s.state.Load().conns }

// Delivery returns Default Mailbox Delivery <SERVER>, the connector the hub delivers to.
func (s *Service) Delivery() *config.ReceiveConnector { return s.state.Load().conns[0] }

// Listen binds the connectors (ports shifted by portOffset).
func (s *Service) Listen(portOffset int) ([]smtpreceive.Listening, []*smtpreceive.BindError) {
	s.offset = portOffset
	return s.recv.Listen(s.Connectors(), portOffset, s.state.Load().srv.BindingConflictMode == config.BindingShared)
}

// Reconfigure applies a new organization: new sessions resolve by it. The connectors are
// implicit, so only their addresses can change (with those of Default <SERVER>).
func (s *Service) Reconfigure(org *config.Organization, srv *config.Server, resolver *routing.Resolver) ([]smtpreceive.Listening, []*smtpreceive.BindError) {
	s.state.Store(&orgState{org: org, srv: srv, resolver: resolver, conns: org.MailboxDeliveryConnectors(srv)})
	return s.recv.Reconfigure(s.Connectors(), s.offset, srv.BindingConflictMode == config.BindingShared)
}

// Serve starts accepting connections.
func (s *Service) Serve() { s.recv.Serve() }

// Shutdown stops accepting and lets the sessions finish (see smtpreceive.Server.Shutdown).
func (s *Service) Shutdown(ctx context.Context) error { return s.recv.Shutdown(ctx) }

// ServeConn serves a connection from this process's hub (a smtpreceive.Pipe) on Default
// Mailbox Delivery <SERVER>, as if it had come in on 475.
func (s *Service) ServeConn(nc net.Conn) {
	s.recv.ServeConn(nc, []*config.ReceiveConnector{s.Delivery()})
}

// Bound lists the endpoints listening now.
func (s *Service) Bound() []smtpreceive.Listening { return s.recv.Bound() }

// Unbound lists the bindings that do not listen (see smtpreceive.Server.Unbound).
func (s *Service) Unbound() []string { return s.recv.Unbound() }

// Bindings reports every binding of the service's receive connectors, listening or not (the
// web console's server health).
func (s *Service) Bindings() []smtpreceive.BindingState { return s.recv.Bindings() }

// Sessions is how many sessions each of the service's receive connectors has open.
func (s *Service) Sessions() map[*config.ReceiveConnector]int64 { return s.recv.Sessions() }
