package server

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync/atomic"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The Mailbox Transport Delivery service runs wherever the hub runs, as on an Exchange Mailbox
// server, and the hub's mailbox deliveries reach it over SMTP: an in-process pipe by default
// (MailboxDeliveryTransport Memory, like the frontend's hop), or TCP to its 475 binding (Tcp).

// mailboxDelivery is the hub's way to Default Mailbox Delivery <SERVER>.
func (s *services) mailboxDelivery(srv *config.Server) *transport.MailboxDelivery {
	var port atomic.Uint32
	md := &transport.MailboxDelivery{Addr: func() string { return s.mailboxAddr().String() }, PoolSize: srv.ProxyPoolSize}
	if srv.MailboxDeliveryTransport == config.MailboxDeliveryTcp {
		md.Dial = func(ctx context.Context) (net.Conn, error) {
			d := net.Dialer{Timeout: srv.ProxyConnectTimeout.Duration()}
			return d.DialContext(ctx, "tcp", s.mailboxAddr().String())
		}
		return md
	}
	md.Dial = func(context.Context) (net.Conn, error) {
		to := s.mailboxAddr()
		from := netip.AddrPortFrom(to.Addr(), uint16(32768+port.Add(1)%28000))
		client, server := smtpreceive.Pipe(from, to)
		s.mbx.ServeConn(server)
		return client, nil
	}
	return md
}

// mailboxAddr is where Default Mailbox Delivery <SERVER> listens (a wildcard as loopback), or
// where its binding would be when it does not listen.
func (s *services) mailboxAddr() netip.AddrPort {
	rc := s.mbx.Delivery()
	var best netip.AddrPort
	for _, l := range s.mbx.Bound() {
		for _, c := range l.Connectors {
			if c.Name != rc.Name {
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
			if !best.IsValid() || (a.Addr().Is4() && !best.Addr().Is4()) {
				best = a
			}
		}
	}
	if best.IsValid() {
		return best
	}
	if a, err := netip.ParseAddrPort(rc.DialAddress(s.o.PortOffset)); err == nil {
		return a
	}
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(config.MailboxDeliveryPort+s.o.PortOffset))
}

// mailboxProtocolLog is the Mailbox Transport Delivery service's SmtpReceive log:
// TransportRoles/Logs/Mailbox/ProtocolLog/SmtpReceive/Delivery (spec §7.1), or
// <ReceiveProtocolLogPath>/Mailbox/Delivery.
func (s *services) mailboxProtocolLog() *smtpwire.ProtocolLog {
	srv := s.srv
	path := filepath.Join(s.o.DataDir, "TransportRoles", "Logs", "Mailbox", "ProtocolLog", "SmtpReceive", "Delivery")
	if srv.ReceiveProtocolLogPath != "" {
		path = filepath.Join(srv.ReceiveProtocolLogPath, "Mailbox", "Delivery")
	}
	l := smtpwire.NewProtocolLog(path, false, smtpwire.ProtocolLogOptions{MaxFileSize: int64(srv.ReceiveProtocolLogMaxFileSize),
		MaxDirectorySize: int64(srv.ReceiveProtocolLogMaxDirectorySize), MaxAge: srv.ReceiveProtocolLogMaxAge.Duration(), Logger: s.log})
	s.logs = append(s.logs, l)
	return l
}
