package smtpreceive

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Server runs the receive connectors of one role. Connectors that share a local binding share
// one listener; each connection is given to the connector its Select function picks (routing:
// most specific RemoteIPRanges, spec §3).
type Server struct {
	Role      config.TransportRole
	Version   config.ExchangeVersion
	TLSConfig *tls.Config // nil: STARTTLS is not offered (spec §5.4)
	// TLS, when set, decides per connector instead of TLSConfig (certificate checks, Event 12014).
	TLS    *TLSPolicy
	Shadow bool // another hub exists for shadow redundancy; EHLO offers XSHADOWREQUEST on every hub (spec §13.12)
	// Select picks the connector for a client among those bound to one local endpoint.
	Select     func(conns []*config.ReceiveConnector, remote netip.Addr) *config.ReceiveConnector
	NewSession NewSessionFunc
	Logger     *slog.Logger
	// RetryInterval is how often a binding that failed is tried again (0: never); a connector
	// comes up by itself once its port is free.
	RetryInterval time.Duration
	// ProtocolLog receives the lines of sessions on connectors with ProtocolLoggingLevel
	// Verbose (nil: none are written).
	ProtocolLog *smtpwire.ProtocolLog
	// Metrics records sessions, commands, replies and phase times (nil: none).
	Metrics *Metrics
	// Tracer opens the session and message spans (nil: no tracing, no cost).
	Tracer trace.Tracer
	// Faults are the fault-injection rules and the maintenance switch (nil: none).
	Faults *Faults

	shutting  atomic.Bool
	stop      chan struct{}
	mu        sync.Mutex
	listeners []*listener
	unbound   []*listener // bindings that failed and are retried
	retrying  bool
	shared    bool
	offset    int
	conns     map[*conn]struct{}
	perSource map[*config.ReceiveConnector]map[netip.Addr]int64
	perConn   map[*config.ReceiveConnector]int64
	rates     messageRates
	wg        sync.WaitGroup
}

// listener is one bound local endpoint and the connectors that share it. The connectors can be
// replaced while it runs (Reconfigure): new sessions see the new ones, running sessions keep
// theirs.
type listener struct {
	l       net.Listener
	key     string
	binding config.Binding
	conns   atomic.Pointer[[]*config.ReceiveConnector]
	err     string // why the last bind failed (under Server.mu)
}

func (g *listener) connectors() []*config.ReceiveConnector { return *g.conns.Load() }

// Unbound lists the bindings that could not be bound and are being retried, as
// "<connector identity> <address:port>" (readiness: empty when every connector listens).
func (s *Server) Unbound() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, g := range s.unbound {
		for _, rc := range g.connectors() {
			out = append(out, rc.Identity()+" "+g.key)
		}
	}
	return out
}

// BindingState is one local endpoint of the server's connectors, listening or not: the web
// console's server health.
type BindingState struct {
	Connectors []string // identities
	Binding    string   // as configured, the port shifted by the offset
	Address    string   `json:",omitempty"` // as bound (the real port of a port-0 binding)
	Listening  bool
	Error      string     `json:",omitempty"` // why it does not listen (Event 1020's cause)
	Owner      *PortOwner `json:",omitempty"` // who holds the port it cannot bind, where the system tells
}

// Sessions is how many sessions each connector has open now.
func (s *Server) Sessions() map[*config.ReceiveConnector]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[*config.ReceiveConnector]int64, len(s.perConn))
	for rc, n := range s.perConn {
		out[rc] = n
	}
	return out
}

// Bindings reports every binding, bound ones first; for one that does not listen it looks for
// the process that holds the port (FindPortOwner reads /proc: a request's cost, not a message's).
func (s *Server) Bindings() []BindingState {
	s.mu.Lock()
	var out []BindingState
	var unbound []config.Binding
	for _, g := range s.listeners {
		out = append(out, BindingState{Connectors: identities(g.connectors()), Binding: g.binding.String(), Address: g.l.Addr().String(), Listening: true})
	}
	for _, g := range s.unbound {
		out = append(out, BindingState{Connectors: identities(g.connectors()), Binding: g.binding.String(), Error: g.err})
		unbound = append(unbound, g.binding)
	}
	s.mu.Unlock()
	for i, b := range unbound {
		out[len(out)-len(unbound)+i].Owner = FindPortOwner(b)
	}
	return out
}

func identities(rcs []*config.ReceiveConnector) []string {
	out := make([]string, len(rcs))
	for i, rc := range rcs {
		out[i] = rc.Identity()
	}
	return out
}

// Listening describes one bound endpoint.
type Listening struct {
	Binding    config.Binding // as configured (port shifted by the offset)
	Addr       netip.AddrPort // as bound (the real port when the binding asked for port 0)
	Connectors []*config.ReceiveConnector
}

// BindError is a connector binding that could not be bound (Event 1020's cause).
type BindError struct {
	Connectors []*config.ReceiveConnector
	Binding    config.Binding
	Err        error
}

func (e *BindError) Error() string {
	return fmt.Sprintf("the receive connector %q could not bind to %s: %v", e.Connectors[0].Name, e.Binding, e.Err)
}

// AddressInUse says whether the bind failed because another socket holds the endpoint.
func (e *BindError) AddressInUse() bool { return errors.Is(e.Err, errAddrInUse) }

// Listen binds every binding of the given connectors, port shifted by portOffset (except port
// 0, which stays ephemeral). A binding that fails is reported and the others still bind: one
// connector's failure is not the service's (spec §3, §10).
func (s *Server) Listen(conns []*config.ReceiveConnector, portOffset int, shared bool) ([]Listening, []*BindError) {
	s.mu.Lock()
	s.shared, s.offset = shared, portOffset
	s.mu.Unlock()
	groups, order := s.group(conns, portOffset)
	var out []Listening
	var errs []*BindError
	for _, key := range order {
		l, e := s.bind(groups[key])
		if e != nil {
			errs = append(errs, e)
		} else {
			out = append(out, l)
		}
	}
	return out, errs
}

// group gathers the connectors' bindings by local endpoint, ports shifted by offset.
func (s *Server) group(conns []*config.ReceiveConnector, offset int) (map[string]*listener, []string) {
	groups := map[string]*listener{}
	lists := map[string][]*config.ReceiveConnector{}
	var order []string
	for _, rc := range conns {
		s.tlsFor(rc) // a certificate problem is reported (Event 12014) when the connector starts
		for _, b := range rc.Bindings {
			if b.Port != 0 {
				b.Port += offset
			}
			key := b.String()
			if b.Port == 0 {
				key += " " + rc.Identity() // each port-0 binding gets its own ephemeral port
			}
			if _, ok := groups[key]; !ok {
				groups[key] = &listener{binding: b, key: key}
				order = append(order, key)
			}
			lists[key] = append(lists[key], rc)
		}
	}
	for key, g := range groups {
		l := lists[key]
		g.conns.Store(&l)
	}
	sort.Strings(order)
	return groups, order
}

// bind binds one group; on failure it logs Event 1020 and leaves the group to the retries.
func (s *Server) bind(g *listener) (Listening, *BindError) {
	s.mu.Lock()
	shared := s.shared
	s.mu.Unlock()
	l, err := listen(g.binding, shared)
	if err != nil {
		e := &BindError{Connectors: g.connectors(), Binding: g.binding, Err: err}
		s.logBindError(e)
		s.mu.Lock()
		g.err = err.Error()
		s.unbound = append(s.unbound, g)
		s.startRetries()
		s.mu.Unlock()
		return Listening{}, e
	}
	g.l = l
	s.mu.Lock()
	s.listeners = append(s.listeners, g)
	if s.stop != nil { // already serving
		s.wg.Add(1)
		go s.acceptLoop(g)
	}
	s.mu.Unlock()
	return Listening{Binding: g.binding, Addr: l.Addr().(*net.TCPAddr).AddrPort(), Connectors: g.connectors()}, nil
}

// Reconfigure applies a new set of connectors to the running server, the way a
// New-/Set-/Remove-ReceiveConnector takes effect on a running Exchange server: bindings that
// stay keep their listener (and their sessions) and take the new connector settings for new
// sessions, bindings that are gone stop listening, new bindings are bound (or retried).
func (s *Server) Reconfigure(conns []*config.ReceiveConnector, portOffset int, shared bool) ([]Listening, []*BindError) {
	groups, order := s.group(conns, portOffset)
	s.mu.Lock()
	reshare := s.shared != shared
	s.shared, s.offset = shared, portOffset
	var keep []*listener
	var closing []*listener
	for _, g := range s.listeners {
		if ng, ok := groups[g.key]; ok && !reshare {
			g.conns.Store(ng.conns.Load())
			delete(groups, g.key)
			keep = append(keep, g)
			continue
		}
		closing = append(closing, g)
	}
	s.listeners = keep
	var unbound []*listener
	for _, g := range s.unbound {
		if ng, ok := groups[g.key]; ok {
			g.conns.Store(ng.conns.Load())
			delete(groups, g.key)
			unbound = append(unbound, g)
		}
	}
	s.unbound = unbound
	s.mu.Unlock()
	for _, g := range closing {
		_ = g.l.Close() // its accept loop ends; sessions it started run on
	}
	var out []Listening
	var errs []*BindError
	for _, key := range order {
		g, ok := groups[key]
		if !ok {
			continue
		}
		l, e := s.bind(g)
		if e != nil {
			errs = append(errs, e)
		} else {
			out = append(out, l)
		}
	}
	return out, errs
}

// Bound lists the endpoints listening now.
func (s *Server) Bound() []Listening {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Listening
	for _, g := range s.listeners {
		out = append(out, Listening{Binding: g.binding, Addr: g.l.Addr().(*net.TCPAddr).AddrPort(), Connectors: g.connectors()})
	}
	return out
}

// logBindError logs Event 1020 for each connector of a failed binding, naming the process that
// holds the port when the system shows it (portowner_*.go).
func (s *Server) logBindError(e *BindError) {
	for _, rc := range e.Connectors {
		attrs := []any{"EventID", 1020, "Source", eventSource(rc), "Connector", rc.Identity(), "Binding", e.Binding.String(),
			"Cause", string(e.Cause())}
		if e.Cause() == CauseInUse {
			if o := FindPortOwner(e.Binding); o != nil {
				attrs = append(attrs, "OwnerPID", o.PID, "OwnerProgram", o.Program, "OwnerCommandLine", o.Cmdline)
			} else if why := PortOwnerUnavailable(); why != "" {
				attrs = append(attrs, "OwnerLookup", why)
			}
		}
		if s.RetryInterval > 0 {
			attrs = append(attrs, "RetryInterval", s.RetryInterval.String())
		}
		s.logger().Error(e.EventText(rc), attrs...)
	}
}

// retryBindings tries the failed bindings every RetryInterval until they bind or the server
// stops; a binding that comes up starts accepting at once.
func (s *Server) retryBindings() {
	t := time.NewTicker(s.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.mu.Lock()
			s.retrying = false
			s.mu.Unlock()
			return
		case <-t.C:
		}
		// The pass holds the lock so that Reconfigure never races with it (a bind is quick).
		s.mu.Lock()
		var still []*listener
		for _, g := range s.unbound {
			if s.shutting.Load() {
				break
			}
			l, err := listen(g.binding, s.shared)
			if err != nil {
				still = append(still, g)
				continue
			}
			g.l = l
			s.listeners = append(s.listeners, g)
			s.wg.Add(1)
			go s.acceptLoop(g)
			for _, rc := range g.connectors() {
				s.logger().Info(fmt.Sprintf("The receive connector %q is now listening on %s.", rc.Name, l.Addr()),
					"Source", eventSource(rc), "Connector", rc.Identity())
			}
		}
		s.unbound = still
		done := len(still) == 0 || s.shutting.Load()
		if done {
			s.retrying = false
		}
		s.mu.Unlock()
		if done {
			return
		}
	}
}

func listen(b config.Binding, shared bool) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = setSockopts(fd, b.Addr.Is6(), shared) }) // sockopt_*.go
		if err != nil {
			return err
		}
		return serr
	}}
	network := "tcp4"
	if b.Addr.Is6() {
		network = "tcp6"
	}
	return lc.Listen(context.Background(), network, b.String())
}

// Serve accepts connections on every bound listener until Shutdown. It returns at once.
func (s *Server) Serve() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
		s.perSource = map[*config.ReceiveConnector]map[netip.Addr]int64{}
		s.perConn = map[*config.ReceiveConnector]int64{}
	}
	for _, l := range s.listeners {
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
	if s.stop == nil {
		s.stop = make(chan struct{})
		s.startRetries()
	}
}

// startRetries starts the retry loop when bindings wait for it (s.mu held).
func (s *Server) startRetries() {
	if s.stop == nil || s.retrying || len(s.unbound) == 0 || s.RetryInterval <= 0 {
		return
	}
	s.retrying = true
	go s.retryBindings()
}

func (s *Server) acceptLoop(l *listener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := l.l.Accept()
		if err != nil {
			if s.shutting.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and go on (net/http's approach).
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Warn("accept failed", "binding", l.binding.String(), "err", err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.wg.Add(1)
		go s.handle(l.connectors(), nc)
	}
}

// ServeConn serves a connection that did not come from one of the server's listeners (an
// in-process Pipe from the frontend), as if it had reached one bound for connectors.
func (s *Server) ServeConn(nc net.Conn, connectors []*config.ReceiveConnector) {
	s.mu.Lock()
	if s.conns == nil {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.handle(connectors, nc)
}

func (s *Server) handle(connectors []*config.ReceiveConnector, nc net.Conn) {
	defer s.wg.Done()
	remote := addrPort(nc.RemoteAddr())
	local := addrPort(nc.LocalAddr())
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	rc := s.Select(connectors, remote.Addr())
	if rc == nil {
		// No connector's RemoteIPRanges cover this client: Exchange drops it without a banner.
		_ = nc.Close()
		return
	}
	if refused := s.admit(rc, remote.Addr()); refused != nil {
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = nc.Write([]byte(refused.Text + "\r\n"))
		_ = nc.Close()
		return
	}
	// The connector's name on the goroutine, so a CPU profile of the admin listener's
	// /debug/pprof says which connector the time went to (go tool pprof -tagfocus connector=…).
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("connector", rc.Identity())))
	var once sync.Once
	release := func() { once.Do(func() { s.release(rc, remote.Addr()) }) }
	defer release()
	c := &conn{srv: s, raw: nc, nc: nc, rc: rc, idle: rc.ConnectionInactivityTimeout.Duration(), release: release,
		tlsConf: s.tlsFor(rc)}
	c.info = ConnInfo{Connector: rc, SessionID: smtpwire.NewSessionID(), Local: local, Remote: remote, Started: time.Now(), Engine: c}
	_, c.cleanPeer = nc.(*pipeConn)
	if s.Metrics != nil {
		s.Metrics.session(rc)
	}
	if s.ProtocolLog != nil && rc.ProtocolLoggingLevel == config.LoggingVerbose {
		c.plogOn = true
	}
	c.deadline = c.info.Started.Add(rc.ConnectionTimeout.Duration())
	c.br = bufio.NewReaderSize(deadlineReader{c}, maxLineLength)
	c.bw = bufio.NewWriterSize(connWriter{c}, 2048)
	var cancel context.CancelFunc
	c.ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if s.Tracer != nil {
		c.ctx, c.sessSpan = s.Tracer.Start(c.ctx, "smtp.session", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("smtp.connector", rc.Identity()), attribute.String("smtp.role", string(rc.TransportRole)),
			attribute.String("smtp.session_id", c.info.SessionID), attribute.String("client.address", remote.Addr().Unmap().String()),
			attribute.Int("client.port", int(remote.Port()))))
	}
	c.sess = s.NewSession(&c.info)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	if s.shutting.Load() {
		c.reply(smtpwire.Fixed("R05"))
		c.flush()
		c.sess.Close()
		_ = nc.Close()
		return
	}
	c.serve()
}

func (s *Server) tlsFor(rc *config.ReceiveConnector) *tls.Config {
	if s.TLS != nil {
		return s.TLS.For(rc)
	}
	return s.TLSConfig
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
}

// admit applies MaxInboundConnection and MaxInboundConnectionPerSource, lowered by
// MaxInboundConnectionPercentagePerSource (R03, R04; Event 1021).
func (s *Server) admit(rc *config.ReceiveConnector, ip netip.Addr) *smtpwire.Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !rc.MaxInboundConnection.Allows(s.perConn[rc] + 1) {
		return smtpwire.Fixed("R04")
	}
	src := s.perSource[rc]
	if src == nil {
		src = map[netip.Addr]int64{}
		s.perSource[rc] = src
	}
	if lim := perSourceLimit(rc); !lim.Allows(src[ip] + 1) {
		s.logger().Warn(fmt.Sprintf("Receive connector '%s' rejected an incoming connection from IP address '%s'. "+
			"The maximum number of connections per source ('%s') for this connector has been reached by this source IP address.",
			rc.Name, ip, lim), "EventID", 1021, "Source", eventSource(rc))
		return smtpwire.Fixed("R03")
	}
	src[ip]++
	s.perConn[rc]++
	return nil
}

func (s *Server) release(rc *config.ReceiveConnector, ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perConn[rc]--
	if src := s.perSource[rc]; src != nil {
		if src[ip]--; src[ip] <= 0 {
			delete(src, ip)
		}
	}
}

// EventSource is the Windows event log source for a connector's role (spec §10).
func EventSource(role config.TransportRole) string {
	switch role {
	case config.FrontendTransport:
		return "MSExchangeFrontEndTransport"
	case config.MailboxDelivery:
		return "MSExchangeDelivery" // the Mailbox Transport Delivery service
	}
	return "MSExchangeTransport"
}

func eventSource(rc *config.ReceiveConnector) string { return EventSource(rc.TransportRole) }

// Shutdown stops accepting, answers sessions that wait for a command with the shutdown reply
// (R05), lets sessions that are receiving a message finish it, and waits for every session to
// end or ctx to expire; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	if s.stop != nil {
		select {
		case <-s.stop:
		default:
			close(s.stop)
		}
	}
	for _, l := range s.listeners {
		_ = l.l.Close()
	}
	for c := range s.conns {
		if !c.inBody.Load() {
			_ = c.raw.SetReadDeadline(time.Now())
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	// Sessions that finish a message return to reading a command and see the shutdown there;
	// nudge them periodically in case they were between the two.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-tick.C:
			s.mu.Lock()
			for c := range s.conns {
				if !c.inBody.Load() {
					_ = c.raw.SetReadDeadline(time.Now())
				}
			}
			s.mu.Unlock()
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				_ = c.raw.Close()
			}
			s.mu.Unlock()
			<-done
			return ctx.Err()
		}
	}
}
