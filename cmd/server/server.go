// Package server assembles exlab's services, the way Exchange's service host starts the Front
// End Transport service (MSExchangeFrontEndTransport) and the Transport service
// (MSExchangeTransport): Run loads the organization, opens the queue database, starts the hub,
// the frontend and the admin listener with their protocol logs, metrics and traces, applies a
// changed organization file on request (SIGHUP, exlab config apply) and stops them in order. It
// decides nothing about SMTP itself (frontend, transport and transport/smtpreceive do), and it
// parses no flags: cmd/exlab turns flags into Options. Tests start it in process.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/console"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/frontend"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/mailboxtransport"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Options are what exlab serve, frontend and hub give Run.
type Options struct {
	ConfigPath string // organization file; "" for the embedded default
	DataDir    string // queue database, certificate, keys, logs
	PortOffset int    // added to every binding port and the default admin port
	ServerName string // which server of the organization to run ("" for the first)
	Admin      string // admin listener address; "" for the default shifted by PortOffset, "off" for none
	// AdminToken is the admin listener's token ("" for a new random one at every start); an
	// admin address beyond loopback needs one (AdminAddress).
	AdminToken     string
	LogLevel       string // debug, info, warn or error ("" for info)
	Events         string // also write the Exchange events as JSON lines to this file, or "stderr"
	ProxyTransport string // memory or tcp ("" for memory): how the frontend reaches this process's hub
	Frontend, Hub  bool   // which services run
	Version        string // for traces' service.version
	// Stderr receives the log and the status lines ("… listening on …"); nil for os.Stderr.
	Stderr io.Writer
	// Reload, when it delivers, re-reads the organization file (SIGHUP).
	Reload <-chan struct{}
}

// ErrStoreFailed is Run's error when the queue database failed a write: a failed fsync cannot
// be retried safely (RELIABILITY §4.1), so the services stop and a supervisor should restart
// them on a reopened store. Run has already said so on Stderr.
var ErrStoreFailed = errors.New("the queue database failed a write")

// services is one Run: what it started, for reconfiguration and shutdown.
type services struct {
	o      Options
	stderr io.Writer
	log    *slog.Logger
	srv    *config.Server
	org    atomic.Pointer[config.Organization]
	cfg    string     // the file SIGHUP reads: --config, then what exlab config apply applied
	cfgMu  sync.Mutex // cfg: the loop writes it, /api/v1/organization reads it
	store  *queue.Store
	hub    *transport.Hub
	mbx    *mailboxtransport.Service // the Mailbox Transport Delivery service, with the hub
	events eventFeed                 // the Exchange events, for the admin API's event stream
	// tracking is the hub's tracking events, for the admin API's event stream.
	tracking transport.TrackingFeed
	fe       *frontend.Frontend
	faults   *smtpreceive.Faults
	tls      *smtpreceive.TLSPolicy // the certificates STARTTLS offers
	logs     []*smtpwire.ProtocolLog
	// logDirs name each protocol log's service and kind, for a message's sessions (/api/v1).
	logDirs []adminapi.ProtocolLogDir
	// Where the frontend finds the hub (Default, Client Proxy); Reconfigure may move it.
	target, clientTarget atomic.Pointer[hubCandidate]
}

type applyRequest struct {
	path string
	done chan error
}

// Run starts the services of o and runs them until ctx is done (its cause, a signal, is named
// in the stopping line) or the queue database fails; then it stops them in order and returns.
// Start-up errors (configuration, flags, data directory) are returned before anything listens.
func Run(ctx context.Context, o Options) error {
	s := &services{o: o, stderr: o.Stderr, cfg: o.ConfigPath}
	if s.stderr == nil {
		s.stderr = os.Stderr
	}
	if o.ProxyTransport == "" {
		o.ProxyTransport, s.o.ProxyTransport = "memory", "memory"
	}
	if o.ProxyTransport != "memory" && o.ProxyTransport != "tcp" {
		return fmt.Errorf("--proxy-transport: %q is not memory or tcp", o.ProxyTransport)
	}
	var level slog.Level
	if o.LogLevel != "" {
		if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
			return fmt.Errorf("--log-level: %v", err)
		}
	}
	var events io.Writer
	switch o.Events {
	case "":
	case "stderr":
		events = s.stderr
	default:
		f, err := os.OpenFile(o.Events, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("--events: %v", err)
		}
		defer f.Close()
		events = f
	}
	s.log = slog.New(newEventHandler(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: level}), events, &s.events))
	if os.Getenv("GOGC") == "" {
		// Message buffers are pooled and sessions hold little: trade some heap for less GC
		// work per message (measured with make bench; GOGC in the environment still wins).
		debug.SetGCPercent(200)
	}
	if o.ConfigPath == "" {
		// A server on the embedded default whose organization a cmdlet changed keeps it in
		// the data directory (setOrganization); it runs on that file from then on.
		if p := filepath.Join(o.DataDir, OrganizationFile); fileExists(p) {
			o.ConfigPath, s.o.ConfigPath, s.cfg = p, p, p
			s.log.Info("the organization changed by cmdlets", "file", p)
		}
	}
	org, srv, err := LoadServer(o.ConfigPath, o.ServerName)
	if err != nil {
		return err
	}
	if err := CheckPortOffset(org, srv, o.PortOffset); err != nil {
		return err
	}
	adminAddr, err := AdminAddress(o.Admin, o.PortOffset)
	if err != nil {
		return err
	}
	if err := CheckAdminExposure(adminAddr, o.AdminToken); err != nil {
		return err
	}
	s.srv = srv
	s.org.Store(org)
	logEffectiveConfig(s.log, org, srv)
	warnLabPasswords(s.log, org, srv)
	warnSharedKey(s.log, org)
	return s.run(ctx, adminAddr)
}

func (s *services) run(ctx context.Context, adminAddr string) error {
	o, org, srv := s.o, s.org.Load(), s.srv
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %v", err)
	}
	authKey, err := exchangeAuthKey(org, o.DataDir)
	if err != nil {
		return fmt.Errorf("ExchangeServer auth key: %v", err)
	}
	cert, err := smtpreceive.SelfSignedCertificateFor(filepath.Join(o.DataDir, CertDir), srv.Fqdn, srv.Version)
	if err != nil {
		return fmt.Errorf("certificate: %v", err)
	}
	// Schannel's negotiation on Windows Server 2019 (spec §13.15).
	tlsConf := &smtpreceive.TLSPolicy{Config: smtpreceive.SchannelConfig(cert),
		Leaf: cert.Leaf, Logger: s.log, Certificates: smtpCertificates(org, srv)}
	s.tls = tlsConf
	resolver := routing.New(org)

	// Metrics: OpenTelemetry's metric SDK with its Prometheus exporter, served at /metrics on
	// the admin listener. No exemplars: they cost a look at the trace context on every
	// histogram record.
	registry := prometheus.NewRegistry()
	metrics := smtpreceive.NewMetrics()
	promExporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithProducer(metrics))
	if err != nil {
		return fmt.Errorf("metrics: %v", err)
	}
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(promExporter), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	defer func() { _ = meterProvider.Shutdown(context.Background()) }()
	meter := meterProvider.Meter(smtpreceive.Scope)
	if err := metrics.Register(meter); err != nil {
		return fmt.Errorf("metrics: %v", err)
	}
	// Traces: exported with OTLP/HTTP when the standard OTEL_* variables name an endpoint.
	tracer, stopTracing, err := startTracing(o.Version)
	if err != nil {
		return fmt.Errorf("traces: %v", err)
	}
	defer stopTracing()
	defer s.closeLogs()
	// Fault injection and maintenance mode: the configuration's rules and HubTransport state
	// at start; exlab fault and exlab maintenance change them while the server runs (a
	// configuration applied later leaves them alone).
	s.faults = &smtpreceive.Faults{}
	s.faults.Set(org.Faults...)
	s.faults.SetMaintenance(org.ServerComponentState.HubTransport == config.ComponentInactive)
	if len(org.Faults) > 0 || s.faults.Maintenance() {
		s.log.Warn("fault injection is on", "rules", len(org.Faults), "maintenance", s.faults.Maintenance())
	}
	s.target.Store(&hubCandidate{})
	s.clientTarget.Store(&hubCandidate{})
	var listening []smtpreceive.Listening
	failed := 0
	var dialHub, dialClientProxy func(context.Context) (net.Conn, error)
	var storeFailed <-chan struct{}
	if o.Hub {
		if s.store, err = queue.Open(filepath.Join(o.DataDir, QueueDir), queue.Options{Logger: s.log}); err != nil {
			return err
		}
		storeFailed = s.store.Failed()
		s.mbx = mailboxtransport.New(mailboxtransport.Options{Org: org, Server: srv, Store: s.store, AuthKey: authKey, TLS: tlsConf,
			Logger: s.log, Resolver: resolver, ProtocolLog: s.mailboxProtocolLog(), Faults: s.faults,
			Delivered: func(m *queue.Message) { s.hub.TrackMailboxDelivery(m) }})
		// No Tracer and no Metrics for Mailbox Delivery: its pooled sessions carry many messages
		// and no trace context, and per-command metrics cost about 2% of a message's CPU
		// (pprof under exlab bench); the hub's queue.mailbox_delivery span and queue_commit
		// phase time the hop inside the message's own trace and metrics.
		s.hub = transport.New(transport.Options{Org: org, Server: srv, Store: s.store, AuthKey: authKey, TLS: tlsConf,
			Logger: s.log, Resolver: resolver, TrackingDir: filepath.Join(o.DataDir, TrackingDir),
			ReceiveProtocolLog: s.protocolLog("Hub", false), SendProtocolLog: s.protocolLog("Hub", true),
			Metrics: metrics, Meter: meter, Tracer: tracer, Faults: s.faults, MailboxDelivery: s.mailboxDelivery(srv),
			TrackingFeed: &s.tracking})
		ls, errs := s.hub.Listen(o.PortOffset)
		listening, failed = append(listening, ls...), failed+len(errs)
		ls, errs = s.mbx.Listen(o.PortOffset)
		listening, failed = append(listening, ls...), failed+len(errs)
		s.retarget(org, srv)
		if o.Frontend && o.ProxyTransport == "memory" {
			dialHub, dialClientProxy = s.pipeTo(&s.target), s.pipeTo(&s.clientTarget)
		}
	} else {
		s.retarget(org, srv)
		s.log.Info("the frontend proxies to the hub named by the configuration", "hub", s.target.Load().addrString(),
			"clientProxy", s.clientTarget.Load().addrString())
	}
	if o.Frontend {
		s.fe = frontend.New(frontend.Options{Org: org, Server: srv, Resolver: resolver, AuthKey: authKey, TLS: tlsConf,
			HubAddr: func() string { return s.target.Load().addrString() }, DialHub: dialHub,
			ClientProxyAddr: func() string { return s.clientTarget.Load().addrString() }, DialClientProxy: dialClientProxy, Logger: s.log,
			ProtocolLog: s.protocolLog("FrontEnd", false), SendProtocolLog: s.protocolLog("FrontEnd", true),
			Metrics: metrics, Tracer: tracer, Faults: s.faults})
		ls, errs := s.fe.Listen(o.PortOffset)
		listening, failed = append(listening, ls...), failed+len(errs)
	}
	s.printListening(listening)
	var adm *admin
	applies := make(chan applyRequest)
	if s.hub != nil {
		s.mbx.Serve() // before the hub's workers deliver what an earlier run left
		if err := s.hub.Start(); err != nil {
			_ = s.store.Close()
			return fmt.Errorf("queue: %v", err)
		}
		if adminAddr != "" {
			setOrg := s.setOrganization(applies)
			adm, err = startAdmin(adminAddr, o.DataDir, adminapi.Options{Mailboxes: s.store, Hub: s.hub, Apply: applyVia(applies),
				Metrics: promhttp.HandlerFor(registry, promhttp.HandlerOpts{}), Unbound: s.unbound, Faults: s.faults,
				Org: s.org.Load, Logger: s.log, Store: s.store, TrackingDir: s.trackingDir, ExchangeEvents: s.events.Subscribe,
				TrackingEvents: s.tracking.Subscribe, ProtocolLogDirs: func() []adminapi.ProtocolLogDir { return s.logDirs },
				Organization: s.organizationSource, SetOrganization: setOrg,
				Shell: (&shellSessions{dataDir: o.DataDir}).run, ServerName: s.srv.Name, PortOffset: o.PortOffset,
				EventLog: s.events.Recent, Certificates: s.certificates(tlsConf), NewCertificate: s.newCertificate(setOrg),
				Console: console.Handler(), Health: s.health, Stats: &adminapi.StatsSource{Metrics: metrics, Delivered: s.hub.Delivered,
					Queue: s.hub.PressureLevel, Sessions: s.sessions}}, o.AdminToken, s.log)
			if err != nil {
				s.log.Warn("admin listener not started", "err", err)
			}
		}
	}
	if s.fe != nil {
		s.fe.Start()
	}
	if failed == 0 {
		fmt.Fprintf(s.stderr, "exlab: every connector listens (%d bindings); server %s, data %s\n", len(listening), srv.Name, o.DataDir)
	} else {
		fmt.Fprintf(s.stderr, "exlab: %d of %d bindings listen; see the Event 1020 lines above (retried every %s)\n",
			len(listening), len(listening)+failed, srv.BindRetryInterval)
	}
	stopRetention := func() {}
	if s.store != nil {
		stopRetention = s.retention(retentionInterval)
	}
	runErr := s.loop(ctx, applies, storeFailed)
	stopRetention()
	s.shutdown(adm)
	if runErr == nil && s.store != nil {
		if err := s.store.Close(); err != nil {
			return fmt.Errorf("closing the queue database: %v", err)
		}
	}
	s.closeLogs()
	fmt.Fprintln(s.stderr, "exlab: stopped")
	return runErr
}

// loop serves reload and apply requests until ctx is done or the store fails.
func (s *services) loop(ctx context.Context, applies chan applyRequest, storeFailed <-chan struct{}) error {
	for {
		select {
		case <-s.o.Reload:
			if err := s.reconfigure(s.configFile()); err != nil {
				fmt.Fprintf(s.stderr, "exlab: SIGHUP: the configuration was not applied: %v\n", err)
			}
		case r := <-applies:
			err := s.reconfigure(r.path)
			if err == nil {
				s.cfgMu.Lock()
				s.cfg = r.path // SIGHUP reads it from now on
				s.cfgMu.Unlock()
			}
			r.done <- err
		case <-ctx.Done():
			fmt.Fprintf(s.stderr, "exlab: %v: stopping; sessions receiving a message may finish\n", context.Cause(ctx))
			return nil
		case <-storeFailed:
			fmt.Fprintln(s.stderr, "exlab: the queue database failed a write; stopping")
			return ErrStoreFailed
		}
	}
}

// shutdown stops the frontend first, so nothing new reaches the hub; then the hub, which
// finishes what it is receiving and the delivery in progress; then the admin listener.
func (s *services) shutdown(adm *admin) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.fe != nil {
		_ = s.fe.Shutdown(ctx)
	}
	if s.hub != nil {
		_ = s.hub.Shutdown(ctx)
		_ = s.mbx.Shutdown(ctx) // after the hub, whose deliveries in progress need it
	}
	if adm != nil {
		adm.close()
	}
}

// applyVia is the admin API's apply: a request to the service loop, which applies files one
// at a time.
func applyVia(applies chan<- applyRequest) func(string) error {
	return func(path string) error {
		done := make(chan error, 1)
		applies <- applyRequest{path: path, done: done}
		return <-done
	}
}

func (s *services) protocolLog(role string, send bool) *smtpwire.ProtocolLog {
	l := protocolLog(s.srv, s.o.DataDir, role, send, s.log)
	s.logs = append(s.logs, l)
	kind := "SmtpReceive"
	if send {
		kind = "SmtpSend"
	}
	s.logDirs = append(s.logDirs, adminapi.ProtocolLogDir{Service: role, Log: kind, Path: l.Dir()})
	return l
}

func (s *services) closeLogs() {
	for _, l := range s.logs {
		l.Close()
	}
	s.logs = nil
}

func (s *services) unbound() []string {
	out := append(s.hub.Unbound(), s.mbx.Unbound()...)
	if s.fe != nil {
		out = append(out, s.fe.Unbound()...)
	}
	return out
}

// health is every binding of the server's services (GET /api/v1/health).
func (s *services) health() []adminapi.HealthBinding {
	var out []adminapi.HealthBinding
	add := func(service string, bs []smtpreceive.BindingState) {
		for _, b := range bs {
			out = append(out, adminapi.HealthBinding{Service: service, BindingState: b})
		}
	}
	if s.fe != nil {
		add("FrontEnd", s.fe.Bindings())
	}
	add("Hub", s.hub.Bindings())
	add("Mailbox", s.mbx.Bindings())
	return out
}

// sessions is the open sessions of every receive connector, for the stats events.
func (s *services) sessions() map[*config.ReceiveConnector]int64 {
	out := s.hub.Sessions()
	if s.fe != nil {
		maps.Copy(out, s.fe.Sessions())
	}
	return out
}

func (s *services) printListening(ls []smtpreceive.Listening) {
	for _, l := range ls {
		for _, rc := range l.Connectors {
			fmt.Fprintf(s.stderr, "exlab: %s listening on %s\n", rc.Identity(), l.Addr)
		}
	}
}

// addrString is where the frontend dials the candidate's hub; "" for none.
func (c *hubCandidate) addrString() string {
	if !c.addr.IsValid() {
		return ""
	}
	return c.addr.String()
}

// retarget points the frontend at the hub: this process's listening hub connectors when the
// hub runs here, else the configured ones.
func (s *services) retarget(org *config.Organization, srv *config.Server) {
	for _, t := range []struct {
		p    *atomic.Pointer[hubCandidate]
		name string
	}{{&s.target, defaultHub}, {&s.clientTarget, clientProxy}} {
		c := hubCandidate{}
		if s.hub != nil {
			if h, ok := listeningHub(srv, s.hub.Bound(), t.name); ok {
				c = h
			}
		} else if a := configuredHub(org, srv, s.o.PortOffset, t.name); a != "" {
			c = hubCandidate{addr: netip.MustParseAddrPort(a)} // dialled over TCP: no connector to serve a pipe
		}
		t.p.Store(&c)
	}
}

// pipeTo dials the hub of this process over an in-process pipe instead of a loopback socket
// (same protocol, no system calls) when both services run here.
func (s *services) pipeTo(p *atomic.Pointer[hubCandidate]) func(context.Context) (net.Conn, error) {
	var port atomic.Uint32
	return func(context.Context) (net.Conn, error) {
		t := p.Load()
		if t.rc == nil {
			return nil, smtpsend.ErrNoHub
		}
		from := netip.AddrPortFrom(t.addr.Addr(), uint16(32768+port.Add(1)%28000))
		client, server := smtpreceive.Pipe(from, t.addr)
		s.hub.ServeConn(server, t.rc)
		return client, nil
	}
}

// reconfigure applies the organization file at path to the running services (SIGHUP, exlab
// config apply), the way a change of receive connectors takes effect on a running Exchange
// server; an invalid file changes nothing (Event 1003).
func (s *services) reconfigure(path string) error {
	if path == "" {
		return fmt.Errorf("exlab runs on the embedded default (no --config file to read again)")
	}
	org, err := config.Load(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				s.log.Error("The configuration of one of the SMTP Receive connectors is invalid. The configuration change will be ignored. "+
					"The description of the configuration error is: "+p.String()+".", "EventID", 1003, "Source", "MSExchangeTransport")
			}
		}
		return err
	}
	srv := org.Server(s.srv.Name)
	if srv == nil {
		return fmt.Errorf("%s has no server %s", path, s.srv.Name)
	}
	res := routing.New(org)
	s.org.Store(org)
	if s.tls != nil {
		s.tls.SetCertificates(smtpCertificates(org, srv)) // Enable-ExchangeCertificate -Services SMTP
	}
	var added []smtpreceive.Listening
	if s.hub != nil {
		ls, _ := s.hub.Reconfigure(org, srv, res)
		added = append(added, ls...)
		ls, _ = s.mbx.Reconfigure(org, srv, res)
		added = append(added, ls...)
	}
	s.retarget(org, srv)
	if s.fe != nil {
		ls, _ := s.fe.Reconfigure(org, srv, res)
		added = append(added, ls...)
	}
	s.printListening(added)
	s.log.Info("configuration applied", "file", path)
	fmt.Fprintf(s.stderr, "exlab: configuration %s applied\n", path)
	return nil
}
