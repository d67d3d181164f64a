package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/frontend"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Data directory layout, after Exchange's install path (spec §7.1, §8).
const (
	queueDir     = "TransportRoles/data/Queue"
	trackingDir  = "TransportRoles/Logs/MessageTracking"
	certDir      = "Certificates"
	authKeyFile  = "exchange-server-auth.key"
	adminAddr    = "admin.addr"
	adminToken   = "admin.token"
	defaultAdmin = "127.0.0.1:8470"
)

// roles says which Exchange services a command runs.
type roles struct{ frontend, hub bool }

func cmdServe(args []string, stdout, stderr io.Writer) int {
	return runServices("serve", roles{frontend: true, hub: true}, args, stderr)
}

// cmdFrontend runs the Front End Transport service alone (MSExchangeFrontEndTransport); it finds
// the hub through the configuration.
func cmdFrontend(args []string, stdout, stderr io.Writer) int {
	return runServices("frontend", roles{frontend: true}, args, stderr)
}

// cmdHub runs the Transport service alone (MSExchangeTransport).
func cmdHub(args []string, stdout, stderr io.Writer) int {
	return runServices("hub", roles{hub: true}, args, stderr)
}

func runServices(name string, run roles, args []string, stderr io.Writer) int {
	fs := newFlagSet(name, stderr, name+" [--config FILE] [--data DIR] [--port-offset N] [--server NAME] [--admin ADDR]")
	cfgPath := fs.String("config", "", "organization file (default: the embedded Exchange 2019 default, see `exlab config default`)")
	dataDir := fs.String("data", "./exlab-data", "data directory: queue database, certificate, keys (a frontend and a hub run apart share it, or set Organization.ExchangeServerAuthKey)")
	offset := fs.Int("port-offset", 0, "add N to every binding port, and to the admin port (for unprivileged users and side-by-side instances)")
	serverName := fs.String("server", "", "which server of the organization to run (default: the first)")
	adminFlag := fs.String("admin", "", "admin listener address (default 127.0.0.1:8470 shifted by --port-offset; \"off\" disables it; only where the hub runs)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	eventsFlag := fs.String("events", "", "also write the Exchange events (EventID, Source, Level, Message) as JSON lines to this file, or to stderr with \"stderr\"")
	proxyTransport := fs.String("proxy-transport", "memory", "serve: how the frontend reaches the hub of this process: memory (SMTP over an in-process pipe) or tcp (SMTP over loopback to Default <SERVER>)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if *proxyTransport != "memory" && *proxyTransport != "tcp" {
		return errorf(stderr, "--proxy-transport: %q is not memory or tcp", *proxyTransport)
	}
	// Signals are caught before anything listens: a SIGTERM right after start (a supervisor,
	// a test) still gets the clean shutdown, never the default action of dying.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return errorf(stderr, "--log-level: %v", err)
	}
	var events io.Writer
	switch *eventsFlag {
	case "":
	case "stderr":
		events = stderr
	default:
		f, err := os.OpenFile(*eventsFlag, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return errorf(stderr, "--events: %v", err)
		}
		defer f.Close()
		events = f
	}
	log := slog.New(newEventHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}), events))
	if os.Getenv("GOGC") == "" {
		// Message buffers are pooled and sessions hold little: trade some heap for less GC
		// work per message (measured with make bench; GOGC in the environment still wins).
		debug.SetGCPercent(200)
	}

	org, srv, err := loadServer(*cfgPath, *serverName)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logEffectiveConfig(log, org, srv)

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return errorf(stderr, "data directory: %v", err)
	}
	authKey, err := exchangeAuthKey(org, *dataDir)
	if err != nil {
		return errorf(stderr, "ExchangeServer auth key: %v", err)
	}
	cert, err := smtpreceive.SelfSignedCertificate(filepath.Join(*dataDir, certDir), srv.Fqdn)
	if err != nil {
		return errorf(stderr, "certificate: %v", err)
	}
	tlsConf := &smtpreceive.TLSPolicy{Config: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Leaf: cert.Leaf, Logger: log, Certificates: smtpCertificates(org, srv)}
	resolver := routing.New(org)

	// Metrics: OpenTelemetry's metric SDK with its Prometheus exporter, served at /metrics on
	// the admin listener.
	registry := prometheus.NewRegistry()
	promExporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return errorf(stderr, "metrics: %v", err)
	}
	// No exemplars: they cost a look at the trace context on every histogram record.
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(promExporter), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	defer func() { _ = meterProvider.Shutdown(context.Background()) }()
	meter := meterProvider.Meter("github.com/exlab/exlab")
	metrics, err := smtpreceive.NewMetrics(meter)
	if err != nil {
		return errorf(stderr, "metrics: %v", err)
	}
	// Traces: exported with OTLP/HTTP when the standard OTEL_* variables name an endpoint;
	// otherwise none are recorded.
	tracer, stopTracing, err := startTracing()
	if err != nil {
		return errorf(stderr, "traces: %v", err)
	}
	defer stopTracing()
	var (
		feRecvLog, feSendLog, hubRecvLog, hubSendLog *smtpwire.ProtocolLog
		store                                        *queue.Store
		hub                                          *transport.Hub
		fe                                           *frontend.Frontend
		listening                                    []smtpreceive.Listening
		failed                                       int
		storeFailed                                  <-chan struct{}
	)
	// Where the frontend finds the hub; Reconfigure may move it.
	type hubTarget struct {
		addr string
		ep   netip.AddrPort
		rc   *config.ReceiveConnector
	}
	// Fault injection and maintenance mode: the configuration's rules and HubTransport state
	// at start; exlab fault and exlab maintenance change them while the server runs (a
	// configuration applied later leaves them alone).
	faults := &smtpreceive.Faults{}
	faults.Set(org.Faults...)
	faults.SetMaintenance(org.ServerComponentState.HubTransport == config.ComponentInactive)
	if len(org.Faults) > 0 || faults.Maintenance() {
		log.Warn("fault injection is on", "rules", len(org.Faults), "maintenance", faults.Maintenance())
	}
	var curOrg atomic.Pointer[config.Organization]
	curOrg.Store(org)
	var target, clientTarget atomic.Pointer[hubTarget]
	target.Store(&hubTarget{})
	clientTarget.Store(&hubTarget{})
	var dialHub, dialClientProxy func(context.Context) (net.Conn, error)
	var retarget func()
	if run.hub {
		if store, err = queue.Open(filepath.Join(*dataDir, queueDir), queue.Options{Logger: log}); err != nil {
			return errorf(stderr, "%v", err)
		}
		storeFailed = store.Failed()
		hubRecvLog, hubSendLog = protocolLog(srv, *dataDir, "Hub", false, log), protocolLog(srv, *dataDir, "Hub", true, log)
		hub = transport.New(transport.Options{Org: org, Server: srv, Store: store, AuthKey: authKey, TLS: tlsConf,
			Logger: log, Resolver: resolver, TrackingDir: filepath.Join(*dataDir, trackingDir),
			ReceiveProtocolLog: hubRecvLog, SendProtocolLog: hubSendLog, Metrics: metrics, Meter: meter, Tracer: tracer, Faults: faults})
		ls, errs := hub.Listen(*offset)
		listening, failed = append(listening, ls...), failed+len(errs)
		setTargets := func(ls []smtpreceive.Listening) {
			target.Store(&hubTarget{})
			clientTarget.Store(&hubTarget{})
			if ep, rc := hubEndpoint(srv, ls, "Default "); rc != nil {
				target.Store(&hubTarget{addr: ep.String(), ep: ep, rc: rc})
			}
			if ep, rc := hubEndpoint(srv, ls, "Client Proxy "); rc != nil {
				clientTarget.Store(&hubTarget{addr: ep.String(), ep: ep, rc: rc})
			}
		}
		setTargets(ls)
		retarget = func() { setTargets(hub.Bound()) }
		if run.frontend && *proxyTransport == "memory" {
			// Both services run here: the frontend's SMTP session to the hub runs over an
			// in-process pipe instead of a loopback socket (same protocol, no system calls).
			var port atomic.Uint32
			pipeTo := func(p *atomic.Pointer[hubTarget]) func(context.Context) (net.Conn, error) {
				return func(context.Context) (net.Conn, error) {
					t := p.Load()
					if t.rc == nil {
						return nil, smtpsend.ErrNoHub
					}
					from := netip.AddrPortFrom(t.ep.Addr(), uint16(32768+port.Add(1)%28000))
					client, server := smtpreceive.Pipe(from, t.ep)
					hub.ServeConn(server, t.rc)
					return client, nil
				}
			}
			dialHub, dialClientProxy = pipeTo(&target), pipeTo(&clientTarget)
		}
	} else {
		retarget = func() {}
		target.Store(&hubTarget{addr: configuredHubAddress(org, srv, *offset, "Default ")})
		clientTarget.Store(&hubTarget{addr: configuredHubAddress(org, srv, *offset, "Client Proxy ")})
		log.Info("the frontend proxies to the hub named by the configuration", "hub", target.Load().addr,
			"clientProxy", clientTarget.Load().addr)
	}
	if run.frontend {
		feRecvLog, feSendLog = protocolLog(srv, *dataDir, "FrontEnd", false, log), protocolLog(srv, *dataDir, "FrontEnd", true, log)
		fe = frontend.New(frontend.Options{Org: org, Server: srv, Resolver: resolver, AuthKey: authKey, TLS: tlsConf,
			HubAddr: func() string { return target.Load().addr }, DialHub: dialHub,
			ClientProxyAddr: func() string { return clientTarget.Load().addr }, DialClientProxy: dialClientProxy, Logger: log,
			ProtocolLog: feRecvLog, SendProtocolLog: feSendLog, Metrics: metrics, Tracer: tracer, Faults: faults})
		ls, errs := fe.Listen(*offset)
		listening, failed = append(listening, ls...), failed+len(errs)
	}
	// reconfigure applies the organization file at path to the running services (SIGHUP,
	// exlab config apply), the way a change of receive connectors takes effect on a running
	// Exchange server; an invalid file changes nothing (Event 1003).
	reconfigure := func(path string) error {
		if path == "" {
			return fmt.Errorf("exlab runs on the embedded default (no --config file to read again)")
		}
		org2, err := config.Load(path)
		if err != nil {
			var ps config.Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					log.Error("The configuration of one of the SMTP Receive connectors is invalid. The configuration change will be ignored. "+
						"The description of the configuration error is: "+p.String()+".", "EventID", 1003, "Source", "MSExchangeTransport")
				}
			}
			return err
		}
		srv2 := org2.Server(srv.Name)
		if srv2 == nil {
			return fmt.Errorf("%s has no server %s", path, srv.Name)
		}
		res2 := routing.New(org2)
		curOrg.Store(org2)
		var added []smtpreceive.Listening
		if hub != nil {
			ls, _ := hub.Reconfigure(org2, srv2, res2)
			added = append(added, ls...)
			retarget()
		} else {
			target.Store(&hubTarget{addr: configuredHubAddress(org2, srv2, *offset, "Default ")})
			clientTarget.Store(&hubTarget{addr: configuredHubAddress(org2, srv2, *offset, "Client Proxy ")})
		}
		if fe != nil {
			ls, _ := fe.Reconfigure(org2, srv2, res2)
			added = append(added, ls...)
		}
		for _, l := range added {
			for _, rc := range l.Connectors {
				fmt.Fprintf(stderr, "exlab: %s listening on %s\n", rc.Identity(), l.Addr)
			}
		}
		log.Info("configuration applied", "file", path)
		fmt.Fprintf(stderr, "exlab: configuration %s applied\n", path)
		return nil
	}
	cfgCurrent := *cfgPath
	for _, l := range listening {
		for _, rc := range l.Connectors {
			fmt.Fprintf(stderr, "exlab: %s listening on %s\n", rc.Identity(), l.Addr)
		}
	}
	var adm *admin
	applies := make(chan applyRequest)
	if hub != nil {
		if err := hub.Start(); err != nil {
			_ = store.Close()
			return errorf(stderr, "queue: %v", err)
		}
		applyReq := func(path string) error {
			done := make(chan error, 1)
			applies <- applyRequest{path: path, done: done}
			return <-done
		}
		unbound := func() []string {
			out := hub.Unbound()
			if fe != nil {
				out = append(out, fe.Unbound()...)
			}
			return out
		}
		metricsHandler := promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
		if adm, err = startAdmin(*adminFlag, *offset, *dataDir, store, hub, applyReq, metricsHandler, unbound, faults, curOrg.Load, log); err != nil {
			log.Warn("admin listener not started", "err", err)
		}
	}
	if fe != nil {
		fe.Start()
	}
	if failed == 0 {
		fmt.Fprintf(stderr, "exlab: every connector listens (%d bindings); server %s, data %s\n", len(listening), srv.Name, *dataDir)
	} else {
		fmt.Fprintf(stderr, "exlab: %d of %d bindings listen; see the Event 1020 lines above (retried every %s)\n",
			len(listening), len(listening)+failed, srv.BindRetryInterval)
	}

	exit := 0
loop:
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				if err := reconfigure(cfgCurrent); err != nil {
					fmt.Fprintf(stderr, "exlab: SIGHUP: the configuration was not applied: %v\n", err)
				}
				continue
			}
			fmt.Fprintf(stderr, "exlab: %s: stopping; sessions receiving a message may finish\n", s)
			break loop
		case r := <-applies:
			err := reconfigure(r.path)
			if err == nil {
				cfgCurrent = r.path // SIGHUP reads it from now on
			}
			r.done <- err
		case <-storeFailed:
			// A failed fsync cannot be retried safely (RELIABILITY §4.1): stop accepting and
			// exit non-zero so that a supervisor restarts the service on a reopened store.
			fmt.Fprintln(stderr, "exlab: the queue database failed a write; stopping")
			exit = 1
			break loop
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The frontend first, so nothing new reaches the hub; then the hub, which finishes what
	// it is receiving and the delivery in progress; then the queue database.
	if fe != nil {
		_ = fe.Shutdown(ctx)
	}
	if hub != nil {
		_ = hub.Shutdown(ctx)
		if adm != nil {
			adm.close()
		}
		if exit == 0 {
			if err := store.Close(); err != nil {
				return errorf(stderr, "closing the queue database: %v", err)
			}
		}
	}
	feRecvLog.Close()
	feSendLog.Close()
	hubRecvLog.Close()
	hubSendLog.Close()
	fmt.Fprintln(stderr, "exlab: stopped")
	return exit
}

// protocolLog starts one of the server's protocol logs: role FrontEnd or Hub, send or receive,
// under the configured path or the data directory in Exchange's layout (spec §7.1).
func protocolLog(srv *config.Server, dataDir, role string, send bool, log *slog.Logger) *smtpwire.ProtocolLog {
	path, dir := srv.ReceiveProtocolLogPath, "SmtpReceive"
	o := smtpwire.ProtocolLogOptions{MaxFileSize: int64(srv.ReceiveProtocolLogMaxFileSize),
		MaxDirectorySize: int64(srv.ReceiveProtocolLogMaxDirectorySize), MaxAge: srv.ReceiveProtocolLogMaxAge.Duration(), Logger: log}
	if send {
		path, dir = srv.SendProtocolLogPath, "SmtpSend"
		o = smtpwire.ProtocolLogOptions{MaxFileSize: int64(srv.SendProtocolLogMaxFileSize),
			MaxDirectorySize: int64(srv.SendProtocolLogMaxDirectorySize), MaxAge: srv.SendProtocolLogMaxAge.Duration(), Logger: log}
	}
	if path == "" {
		path = filepath.Join(dataDir, "TransportRoles", "Logs", role, "ProtocolLog", dir)
	} else {
		path = filepath.Join(path, role)
	}
	return smtpwire.NewProtocolLog(path, send, o)
}

// applyRequest asks the service loop to apply an organization file (exlab config apply).
type applyRequest struct {
	path string
	done chan error
}

// configuredHubAddress is where a frontend running without its hub proxies to: the first
// binding of the hub connector name+<SERVER> (Default or Client Proxy) as configured (port
// shifted by offset), on loopback when it is a wildcard. Exchange's frontends find hubs through Active Directory;
// exlab's through the same configuration file.
func configuredHubAddress(org *config.Organization, srv *config.Server, offset int, name string) string {
	var best *config.ReceiveConnector
	for _, rc := range org.ConnectorsOf(srv.Name, config.HubTransport) {
		preferred := rc.Name == name+srv.Name
		if name == "Client Proxy " && !preferred {
			continue
		}
		if !rc.HasGroup(config.ExchangeServers) || (name == "Default " && rc.Name == "Client Proxy "+srv.Name) || len(rc.Bindings) == 0 {
			continue
		}
		if best == nil || preferred {
			best = rc
		}
	}
	if best == nil {
		return ""
	}
	return best.DialAddress(offset)
}

// hubEndpoint picks a hub connector the frontend proxies to and its address, on loopback when it
// listens on a wildcard: "Default " + server for inbound mail (spec §6.1), "Client Proxy " +
// server for authenticated client sessions (spec §6.3). For inbound mail, another hub connector
// open to Exchange servers does when Default is missing.
func hubEndpoint(srv *config.Server, ls []smtpreceive.Listening, name string) (netip.AddrPort, *config.ReceiveConnector) {
	var best netip.AddrPort
	var bestRC *config.ReceiveConnector
	for _, l := range ls {
		for _, rc := range l.Connectors {
			preferred := rc.Name == name+srv.Name
			if name == "Client Proxy " && !preferred {
				continue
			}
			if !rc.HasGroup(config.ExchangeServers) || (name == "Default " && rc.Name == "Client Proxy "+srv.Name) {
				continue
			}
			a := l.Addr
			if a.Addr().IsUnspecified() {
				lo := netip.MustParseAddr("127.0.0.1")
				if a.Addr().Is6() {
					lo = netip.IPv6Loopback()
				}
				a = netip.AddrPortFrom(lo, a.Port())
			}
			if bestRC == nil || (preferred && a.Addr().Is4()) {
				best, bestRC = a, rc
			}
		}
	}
	return best, bestRC
}

// exchangeAuthKey is the organization key for X-EXPS: from the config, or made once and kept in
// the data directory (like the self-signed certificate).
func exchangeAuthKey(org *config.Organization, dir string) ([]byte, error) {
	if k := org.Organization.ExchangeServerAuthKey; k != "" {
		return []byte(k), nil
	}
	path := filepath.Join(dir, authKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600)
}

// logEffectiveConfig logs the configuration the server runs with (STYLE §5, chasquid LogConfig).
func logEffectiveConfig(log *slog.Logger, org *config.Organization, srv *config.Server) {
	log.Info("organization", "file", org.File, "name", org.Organization.Name, "server", srv.Name, "fqdn", srv.Fqdn,
		"version", string(srv.Version), "BindingConflictMode", string(srv.BindingConflictMode))
	for _, ad := range org.AcceptedDomains {
		log.Info("AcceptedDomain", "DomainName", ad.DomainName, "DomainType", string(ad.DomainType), "Default", ad.Default)
	}
	for _, rc := range org.ReceiveConnectors {
		if !strings.EqualFold(rc.Server, srv.Name) {
			continue
		}
		b := make([]string, len(rc.Bindings))
		for i, x := range rc.Bindings {
			b[i] = x.String()
		}
		log.Info("ReceiveConnector", "Identity", rc.Identity(), "TransportRole", string(rc.TransportRole), "Enabled", rc.Enabled,
			"Bindings", strings.Join(b, ","), "PermissionGroups", fmt.Sprint(rc.PermissionGroups),
			"AuthMechanism", fmt.Sprint(rc.AuthMechanism), "MaxMessageSize", rc.MaxMessageSize.String())
	}
}

func shiftPort(addr string, offset int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", err
	}
	if p != 0 {
		p += offset
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// smtpCertificates are the configured certificates enabled for SMTP on srv.
func smtpCertificates(org *config.Organization, srv *config.Server) []tls.Certificate {
	var out []tls.Certificate
	for i := range org.Certificates {
		c := &org.Certificates[i]
		if c.KeyPair != nil && c.EnabledFor("SMTP") && (c.Server == "" || strings.EqualFold(c.Server, srv.Name)) {
			out = append(out, *c.KeyPair)
		}
	}
	return out
}
