// Package transport is exlab's Transport service, "the hub": the HubTransport receive
// connectors (Default <SERVER> on 2525, Client Proxy <SERVER> on 465) and submission into the
// Pebble queue (session.go), then Exchange's stages, each in its own files: the categorizer
// that resolves recipients and picks next hops (categorizer.go, pure), the delivery queues and
// their scheduler (scheduler.go), the SmtpSend driver (send.go), the DSN writer (dsn.go, pure),
// and queue administration (admin.go); pipeline.go runs a message through them and the Hub
// wires them. It reaches the network through transport/smtpreceive, stores through
// queue and decides through routing. It does not import the frontend: frontends reach it over
// SMTP only, proving they are Exchange servers with X-EXPS and carrying the original client
// with XPROXYFROM. Its Exchange counterpart is the Microsoft Exchange Transport service
// (EdgeTransport.exe).
package transport

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Options configure a Hub.
type Options struct {
	Org      *config.Organization
	Server   *config.Server
	Store    *queue.Store
	AuthKey  []byte                 // the organization's ExchangeServer auth key (X-EXPS)
	TLS      *smtpreceive.TLSPolicy // the server certificate for STARTTLS, or nil
	Logger   *slog.Logger
	Resolver *routing.Resolver
	// TrackingDir is where the message tracking log goes when the server's
	// MessageTrackingLogPath is empty ("" and empty: none is written).
	TrackingDir string
	// TrackingFeed, when set, gets every tracking event the hub's logs write (MSGTRK and
	// MSGTRKMD), for the admin API's event stream.
	TrackingFeed *TrackingFeed
	// ReceiveProtocolLog and SendProtocolLog are the Transport service's protocol logs (nil:
	// none): hub receive connectors with ProtocolLoggingLevel Verbose, and send connectors.
	ReceiveProtocolLog *smtpwire.ProtocolLog
	SendProtocolLog    *smtpwire.ProtocolLog
	// Metrics records the engine's measurements and the queue commit; Meter, when set, also
	// gets the queue depth gauge.
	Metrics *smtpreceive.Metrics
	Meter   metric.Meter
	// Tracer, when set, opens the session, message, categorize and commit spans.
	Tracer trace.Tracer
	// Faults are the process's fault-injection rules and maintenance switch (nil: none).
	Faults *smtpreceive.Faults
	// MailboxDelivery is how mailbox deliveries reach the Mailbox Transport Delivery service
	// (mailboxdelivery.go); nil: the hub writes mailbox items itself.
	MailboxDelivery *MailboxDelivery
}

// Hub is one server's Transport service.
type Hub struct {
	opt    Options
	state  atomic.Pointer[orgState]
	offset int
	recv   *smtpreceive.Server
	sched  *scheduler // the delivery queues
	// suspended are the queues Suspend-Queue stopped (queuesuspend.go).
	suspended suspendedQueues
	send      *smtpSend // the SmtpSend driver
	keys      *dkimKeys // DKIM verification of anonymous mail
	tracker   *Tracker  // the message tracking log, or nil
	// mbx is the SmtpSend to Mailbox Delivery (nil: none); mdTracker its MSGTRKMD log.
	mbx    *mbxClient
	mbxHop string // the next hop of mailbox deliveries (the mailbox database), with mbx
	// remoteMbx are the SmtpSend clients to other servers' Mailbox Delivery, by server name
	// (upper case), for mailboxes homed on them (mbxClientFor).
	remoteMu  sync.Mutex
	remoteMbx map[string]*mbxClient
	mdTracker *Tracker
	pressure  *pressure // nil when BackPressure is not Enabled
	shadow    shadowState
}

// orgState is the organization a session decides by; Reconfigure replaces it for new sessions.
type orgState struct {
	org      *config.Organization
	srv      *config.Server
	resolver *routing.Resolver
	fqdns    []string // the organization's servers (MaxLocalHopCount)
	noDkim   string   // the Authentication-Results field of unsigned anonymous mail
	hubs     int      // servers with the HubTransport role (shadow redundancy needs two)
}

func newOrgState(org *config.Organization, srv *config.Server, resolver *routing.Resolver) *orgState {
	st := &orgState{org: org, srv: srv, resolver: resolver}
	st.noDkim = authenticationResultsNone(srv.Fqdn)
	for _, s := range org.Servers {
		st.fqdns = append(st.fqdns, s.Fqdn)
	}
	st.hubs = len(org.Hubs(""))
	return st
}

// New makes a hub; Listen and Start run it.
func New(o Options) *Hub {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Resolver == nil {
		o.Resolver = routing.New(o.Org)
	}
	h := &Hub{opt: o}
	h.state.Store(newOrgState(o.Org, o.Server, o.Resolver))
	trackDir := o.Server.MessageTrackingLogPath
	if trackDir == "" {
		trackDir = o.TrackingDir
	}
	h.tracker = newTracker(trackDir, o.Server, o.Logger, "MSGTRK", o.TrackingFeed)
	if md := o.MailboxDelivery; md != nil {
		h.mbx = newMbxClient(*md, o.Server.Fqdn, o.AuthKey, o.Server.ProxyConnectTimeout.Duration(), o.Server.ProxyCommandTimeout.Duration())
		h.mbxHop = mailboxHop(o.Server.MailboxDatabaseName())
		h.mdTracker = newTracker(trackDir, o.Server, o.Logger, "MSGTRKMD", o.TrackingFeed)
	}
	h.sched = newScheduler(o.Store, o.Server, o.Logger, h.tracker, h.process)
	h.sched.suspendedHold = h.holds
	dns := smtpsend.NewDNS(o.Server.ExternalDNSServers)
	h.keys = &dkimKeys{dns: dns}
	h.send = &smtpSend{server: o.Server, log: o.Logger, dns: dns, sendLog: o.SendProtocolLog, tracker: h.tracker, sessions: smtpsend.NewSessions()}
	// Send connectors with FrontendProxyEnabled hand their mail to this server's Outbound Proxy
	// Frontend (717), found in the configuration (spec §6.4).
	h.send.outProxy = &smtpsend.Proxy{
		Addr: func() string {
			st := h.state.Load()
			for _, rc := range st.org.ConnectorsOf(st.srv.Name, config.FrontendTransport) {
				if rc.Name == "Outbound Proxy Frontend "+st.srv.Name {
					return rc.DialAddress(h.offset)
				}
			}
			return ""
		},
		HeloName: o.Server.Fqdn, AuthKey: o.AuthKey,
		ConnectTimeout: o.Server.ProxyConnectTimeout.Duration(), CommandTimeout: o.Server.ProxyCommandTimeout.Duration(),
		PoolSize: 4, IdleTimeout: time.Minute,
	}
	hubs := 0
	for _, s := range o.Org.Servers {
		for _, r := range s.Roles {
			if r == config.HubTransport {
				hubs++
			}
		}
	}
	h.recv = &smtpreceive.Server{
		Role:          config.HubTransport,
		Version:       o.Server.Version,
		TLS:           o.TLS,
		Shadow:        hubs > 1,
		Select:        routing.SelectConnector,
		Logger:        o.Logger,
		ProtocolLog:   o.ReceiveProtocolLog,
		Metrics:       o.Metrics,
		Tracer:        o.Tracer,
		Faults:        o.Faults,
		RetryInterval: o.Server.BindRetryInterval.Duration(),
		NewSession: func(ci *smtpreceive.ConnInfo) smtpreceive.Session {
			return newSession(h, ci)
		},
	}
	if o.Meter != nil {
		// exlab.queue.depth: messages per queue, as Get-Queue's MessageCount.
		_, err := o.Meter.Int64ObservableGauge("exlab.queue.depth", metric.WithDescription("messages in each of the hub's queues"),
			metric.WithUnit("{message}"), metric.WithInt64Callback(func(_ context.Context, ob metric.Int64Observer) error {
				for _, q := range h.Queues() {
					ob.Observe(int64(q.MessageCount), metric.WithAttributes(attribute.String("queue", q.Identity),
						attribute.String("delivery_type", q.DeliveryType), attribute.String("next_hop_domain", q.NextHopDomain)))
				}
				return nil
			}))
		if err != nil {
			o.Logger.Warn("metrics: queue depth gauge", "err", err)
		}
	}
	return h
}

// Connectors returns the hub's enabled receive connectors.
func (h *Hub) Connectors() []*config.ReceiveConnector {
	st := h.state.Load()
	return st.org.ConnectorsOf(st.srv.Name, config.HubTransport)
}

// Listen binds the hub connectors (ports shifted by portOffset).
func (h *Hub) Listen(portOffset int) ([]smtpreceive.Listening, []*smtpreceive.BindError) {
	h.offset = portOffset
	return h.recv.Listen(h.Connectors(), portOffset, h.state.Load().srv.BindingConflictMode == config.BindingShared)
}

// Reconfigure applies a new organization to the running service (see Frontend.Reconfigure);
// the categorizer resolves by it from now on.
func (h *Hub) Reconfigure(org *config.Organization, srv *config.Server, resolver *routing.Resolver) ([]smtpreceive.Listening, []*smtpreceive.BindError) {
	h.state.Store(newOrgState(org, srv, resolver))
	return h.recv.Reconfigure(h.Connectors(), h.offset, srv.BindingConflictMode == config.BindingShared)
}

// Start loads the queued messages left by an earlier run into the delivery queues, starts
// their workers, and starts accepting connections.
func (h *Hub) Start() error {
	if err := h.sched.start(); err != nil {
		return err
	}
	if bp := h.opt.Server.BackPressure; bp.Enabled {
		h.pressure = &pressure{cfg: bp, log: h.opt.Logger, disk: diskUsed(h.opt.Store.Dir()), queue: h.sched.held64,
			stop: make(chan struct{}), done: make(chan struct{})}
		go h.pressure.run()
	}
	h.startShadow()
	h.recv.Serve()
	return nil
}

// Shutdown stops accepting, lets sessions finish (or answers them with R05), then stops the
// delivery queues' workers after the messages they are running.
func (h *Hub) Shutdown(ctx context.Context) error {
	err := h.recv.Shutdown(ctx)
	if h.pressure != nil {
		close(h.pressure.stop)
		<-h.pressure.done
	}
	h.stopShadow()
	h.sched.stop()
	h.send.outProxy.Close()
	h.send.sessions.Close()
	h.remoteMu.Lock()
	for _, c := range h.remoteMbx {
		c.close()
	}
	h.remoteMu.Unlock()
	if h.mbx != nil {
		h.mbx.close()
	}
	h.tracker.Close()
	h.mdTracker.Close()
	return err
}

// ServeConn serves a connection from an in-process frontend (a smtpreceive.Pipe) on the
// connector rc, as if it had come in on rc's binding.
func (h *Hub) ServeConn(nc net.Conn, rc *config.ReceiveConnector) {
	h.recv.ServeConn(nc, []*config.ReceiveConnector{rc})
}

// Bound lists the hub's endpoints listening now.
func (h *Hub) Bound() []smtpreceive.Listening { return h.recv.Bound() }

// Drained reports whether the delivery queues have nothing left to do (for tests and tools).
func (h *Hub) Drained() bool { return h.sched.idle() }

// localAddr is the address printed in Received: headers for the hub end of a session.
func localAddr(ap netip.AddrPort) string { return ap.Addr().Unmap().String() }

// Unbound lists the hub's bindings that do not listen (see smtpreceive.Server.Unbound).
func (h *Hub) Unbound() []string { return h.recv.Unbound() }

// Delivered is how many recipients the hub has delivered since it started: into mailboxes,
// or taken by the next hop of a send connector.
func (h *Hub) Delivered() int64 { return h.send.delivered.Load() }

// Sessions is how many sessions each of the hub's receive connectors has open.
func (h *Hub) Sessions() map[*config.ReceiveConnector]int64 { return h.recv.Sessions() }

// PressureLevel is the back-pressure state (Normal, Medium, High), "Off" when BackPressure is
// not enabled, and the messages the queues hold.
func (h *Hub) PressureLevel() (string, int64) {
	if h.pressure == nil {
		return "Off", h.sched.held64()
	}
	return levelNames[h.pressure.level.Load()], h.sched.held64()
}

// Bindings reports every binding of the service's receive connectors, listening or not (the
// web console's server health).
func (h *Hub) Bindings() []smtpreceive.BindingState { return h.recv.Bindings() }
