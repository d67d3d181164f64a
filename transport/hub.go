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

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
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
	opt  Options
	recv *smtpreceive.Server
	cat  *Categorizer
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
	h.cat = newCategorizer(o.Store, o.Resolver, o.Server, o.Logger)
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
	return h.opt.Org.ConnectorsOf(h.opt.Server.Name, config.HubTransport)
}

// Listen binds the hub connectors (ports shifted by portOffset).
func (h *Hub) Listen(portOffset int) ([]smtpreceive.Listening, []*smtpreceive.BindError) {
	return h.recv.Listen(h.Connectors(), portOffset, h.opt.Server.BindingConflictMode == config.BindingShared)
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
	return err
}

// ServeConn serves a connection from an in-process frontend (a smtpreceive.Pipe) on the
// connector rc, as if it had come in on rc's binding.
func (h *Hub) ServeConn(nc net.Conn, rc *config.ReceiveConnector) {
	h.recv.ServeConn(nc, []*config.ReceiveConnector{rc})
}

// Drained reports whether the categorizer has nothing left to do (for tests and tools).
func (h *Hub) Drained() bool { return h.cat.idle() }

// localAddr is the address printed in Received: headers for the hub end of a session.
func localAddr(ap netip.AddrPort) string { return ap.Addr().Unmap().String() }
