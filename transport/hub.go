// Package transport is exlab's Transport service, "the hub": the HubTransport receive
// connectors (Default <SERVER> on 2525, Client Proxy <SERVER> on 465), submission into the
// Pebble queue, the categorizer that resolves recipients and delivers them into mailboxes, and
// the NDRs it generates. It reaches the network through transport/smtpreceive, stores through
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
	"sync/atomic"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpsend"
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
}

// Hub is one server's Transport service.
type Hub struct {
	opt    Options
	state  atomic.Pointer[orgState]
	offset int
	recv   *smtpreceive.Server
	cat    *Categorizer
}

// orgState is the organization a session decides by; Reconfigure replaces it for new sessions.
type orgState struct {
	org      *config.Organization
	srv      *config.Server
	resolver *routing.Resolver
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
	h.state.Store(&orgState{org: o.Org, srv: o.Server, resolver: o.Resolver})
	h.cat = newCategorizer(o.Store, o.Resolver, o.Server, o.Logger)
	// Send connectors with FrontendProxyEnabled hand their mail to this server's Outbound Proxy
	// Frontend (717), found in the configuration (spec §6.4).
	h.cat.outProxy = &smtpsend.Proxy{
		Addr: func() string {
			st := h.state.Load()
			for _, rc := range st.org.ConnectorsOf(st.srv.Name, config.FrontendTransport) {
				if rc.Name == "Outbound Proxy Frontend "+st.srv.Name {
					return rc.DialAddress(h.offset)
				}
			}
			return ""
		},
		HeloName: o.Server.Fqdn, AuthKey: o.AuthKey, Respond: smtpreceive.ExchangeAuthResponse,
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
		RetryInterval: o.Server.BindRetryInterval.Duration(),
		NewSession: func(ci *smtpreceive.ConnInfo) smtpreceive.Session {
			return newSession(h, ci)
		},
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
	h.state.Store(&orgState{org: org, srv: srv, resolver: resolver})
	h.cat.resolver.Store(resolver)
	return h.recv.Reconfigure(h.Connectors(), h.offset, srv.BindingConflictMode == config.BindingShared)
}

// Start loads the queued messages left by an earlier run into the categorizer, starts it, and
// starts accepting connections.
func (h *Hub) Start() error {
	if err := h.cat.start(); err != nil {
		return err
	}
	h.recv.Serve()
	return nil
}

// Shutdown stops accepting, lets sessions finish (or answers them with R05), then stops the
// categorizer after the message it is delivering.
func (h *Hub) Shutdown(ctx context.Context) error {
	err := h.recv.Shutdown(ctx)
	h.cat.stop()
	h.cat.outProxy.Close()
	return err
}

// ServeConn serves a connection from an in-process frontend (a smtpreceive.Pipe) on the
// connector rc, as if it had come in on rc's binding.
func (h *Hub) ServeConn(nc net.Conn, rc *config.ReceiveConnector) {
	h.recv.ServeConn(nc, []*config.ReceiveConnector{rc})
}

// Bound lists the hub's endpoints listening now.
func (h *Hub) Bound() []smtpreceive.Listening { return h.recv.Bound() }

// Drained reports whether the categorizer has nothing left to do (for tests and tools).
func (h *Hub) Drained() bool { return h.cat.idle() }

// localAddr is the address printed in Received: headers for the hub end of a session.
func localAddr(ap netip.AddrPort) string { return ap.Addr().Unmap().String() }
