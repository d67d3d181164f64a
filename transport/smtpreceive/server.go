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
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/exlab/exlab/config"
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
	Shadow bool // advertise XSHADOWREQUEST on hub connectors
	// Select picks the connector for a client among those bound to one local endpoint.
	Select     func(conns []*config.ReceiveConnector, remote netip.Addr) *config.ReceiveConnector
	NewSession NewSessionFunc
	Logger     *slog.Logger
	// RetryInterval is how often a binding that failed is tried again (0: never); a connector
	// comes up by itself once its port is free.
	RetryInterval time.Duration

	shutting  atomic.Bool
	stop      chan struct{}
	mu        sync.Mutex
	listeners []*listener
	unbound   []*listener // bindings that failed and are retried
	shared    bool
	conns     map[*conn]struct{}
	perSource map[*config.ReceiveConnector]map[netip.Addr]int64
	perConn   map[*config.ReceiveConnector]int64
	wg        sync.WaitGroup
}

// listener is one bound local endpoint and the connectors that share it.
type listener struct {
	l          net.Listener
	binding    config.Binding
	connectors []*config.ReceiveConnector
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
func (e *BindError) AddressInUse() bool { return errors.Is(e.Err, syscall.EADDRINUSE) }

// Listen binds every binding of the given connectors, port shifted by portOffset (except port
// 0, which stays ephemeral). A binding that fails is reported and the others still bind: one
// connector's failure is not the service's (spec §3, §10).
func (s *Server) Listen(conns []*config.ReceiveConnector, portOffset int, shared bool) ([]Listening, []*BindError) {
	groups := map[string]*listener{}
	var order []string
	for _, rc := range conns {
		s.tlsFor(rc) // a certificate problem is reported (Event 12014) when the connector starts
		for _, b := range rc.Bindings {
			if b.Port != 0 {
				b.Port += portOffset
			}
			key := b.String()
			if b.Port == 0 {
				key += " " + rc.Identity() // each port-0 binding gets its own ephemeral port
			}
			g, ok := groups[key]
			if !ok {
				g = &listener{binding: b}
				groups[key] = g
				order = append(order, key)
			}
			g.connectors = append(g.connectors, rc)
		}
	}
	sort.Strings(order)
	var out []Listening
	var errs []*BindError
	s.mu.Lock()
	s.shared = shared
	s.mu.Unlock()
	for _, key := range order {
		g := groups[key]
		l, err := listen(g.binding, shared)
		if err != nil {
			e := &BindError{Connectors: g.connectors, Binding: g.binding, Err: err}
			s.logBindError(e)
			errs = append(errs, e)
			s.mu.Lock()
			s.unbound = append(s.unbound, g)
			s.mu.Unlock()
			continue
		}
		g.l = l
		s.mu.Lock()
		s.listeners = append(s.listeners, g)
		s.mu.Unlock()
		out = append(out, Listening{Binding: g.binding, Addr: l.Addr().(*net.TCPAddr).AddrPort(), Connectors: g.connectors})
	}
	return out, errs
}

// logBindError logs Event 1020 for each connector of a failed binding, naming the process that
// holds the port when /proc shows it.
func (s *Server) logBindError(e *BindError) {
	for _, rc := range e.Connectors {
		attrs := []any{"EventID", 1020, "Source", eventSource(rc), "Connector", rc.Identity(), "Binding", e.Binding.String(),
			"Cause", string(e.Cause())}
		if e.Cause() == CauseInUse {
			if o := FindPortOwner(e.Binding); o != nil {
				attrs = append(attrs, "OwnerPID", o.PID, "OwnerProgram", o.Program, "OwnerCommandLine", o.Cmdline)
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
			return
		case <-t.C:
		}
		s.mu.Lock()
		pending := s.unbound
		s.unbound = nil
		shared := s.shared
		s.mu.Unlock()
		for _, g := range pending {
			l, err := listen(g.binding, shared)
			if err != nil {
				s.mu.Lock()
				s.unbound = append(s.unbound, g)
				s.mu.Unlock()
				continue
			}
			g.l = l
			s.mu.Lock()
			if s.shutting.Load() {
				s.mu.Unlock()
				_ = l.Close()
				return
			}
			s.listeners = append(s.listeners, g)
			s.wg.Add(1)
			go s.acceptLoop(g)
			s.mu.Unlock()
			for _, rc := range g.connectors {
				s.logger().Info(fmt.Sprintf("The receive connector %q is now listening on %s.", rc.Name, l.Addr()),
					"Source", eventSource(rc), "Connector", rc.Identity())
			}
		}
		s.mu.Lock()
		left := len(s.unbound)
		s.mu.Unlock()
		if left == 0 {
			return
		}
	}
}

func listen(b config.Binding, shared bool) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if b.Addr.Is6() {
				// [::]:25 and 0.0.0.0:25 are two bindings, as on Windows: the IPv6 socket
				// must not take IPv4 too.
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
			}
			if serr == nil && shared {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
			}
		})
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
		if len(s.unbound) > 0 && s.RetryInterval > 0 {
			go s.retryBindings()
		}
	}
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
		go s.handle(l.connectors, nc)
	}
}

var sessionCounter atomic.Uint64

func init() {
	// Exchange's session ids look like a counter seeded from a .NET tick count (100 ns since
	// 0001-01-01), printed as 16 hex digits (spec §7.1 [I]).
	const ticksAtUnixEpoch = 621355968000000000
	sessionCounter.Store(uint64(time.Now().UnixNano()/100) + ticksAtUnixEpoch)
}

// NewSessionID returns the next protocol-log session id.
func NewSessionID() string { return fmt.Sprintf("%016X", sessionCounter.Add(1)) }

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
	var once sync.Once
	release := func() { once.Do(func() { s.release(rc, remote.Addr()) }) }
	defer release()
	c := &conn{srv: s, raw: nc, nc: nc, rc: rc, idle: rc.ConnectionInactivityTimeout.Duration(), release: release,
		tlsConf: s.tlsFor(rc)}
	c.info = ConnInfo{Connector: rc, SessionID: NewSessionID(), Local: local, Remote: remote, Started: time.Now()}
	c.deadline = c.info.Started.Add(rc.ConnectionTimeout.Duration())
	c.br = bufio.NewReaderSize(deadlineReader{c}, maxLineLength)
	c.bw = bufio.NewWriterSize(nc, 2048)
	var cancel context.CancelFunc
	c.ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
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
		c.reply(Fixed("R05"))
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

// admit applies MaxInboundConnection and MaxInboundConnectionPerSource (R03, R04; Event 1021).
func (s *Server) admit(rc *config.ReceiveConnector, ip netip.Addr) *Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !rc.MaxInboundConnection.Allows(s.perConn[rc] + 1) {
		return Fixed("R04")
	}
	src := s.perSource[rc]
	if src == nil {
		src = map[netip.Addr]int64{}
		s.perSource[rc] = src
	}
	if !rc.MaxInboundConnectionPerSource.Allows(src[ip] + 1) {
		s.logger().Warn(fmt.Sprintf("Receive connector '%s' rejected an incoming connection from IP address '%s'. "+
			"The maximum number of connections per source ('%s') for this connector has been reached by this source IP address.",
			rc.Name, ip, rc.MaxInboundConnectionPerSource), "EventID", 1021, "Source", eventSource(rc))
		return Fixed("R03")
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
	if role == config.FrontendTransport {
		return "MSExchangeFrontEndTransport"
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
