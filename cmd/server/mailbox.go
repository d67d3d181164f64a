package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
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

// retentionInterval is how often the mailboxes are trimmed to MaxMessagesPerMailbox and
// MessageRetention ("continuously": a mailbox exceeds its bound by at most this much delivery).
const retentionInterval = 2 * time.Second

// retention trims the mailboxes every interval to the running organization's
// MaxMessagesPerMailbox and MessageRetention (read at each pass, so exlab config apply changes
// them); stop ends it and waits for a pass in progress.
func (s *services) retention(interval time.Duration) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			org := s.org.Load().Organization
			keep, cutoff := 0, time.Time{}
			if l := org.MaxMessagesPerMailbox; !l.Unlimited && l.Value > 0 {
				keep = int(min(l.Value, math.MaxInt32))
			}
			if d := org.MessageRetention.Duration(); d > 0 {
				cutoff = time.Now().Add(-d)
			}
			if n, err := s.store.TrimMailboxes(keep, cutoff); err != nil {
				s.log.Error("mailbox retention", "err", err)
			} else if n > 0 {
				s.log.Debug("mailbox retention", "removed", n, "MaxMessagesPerMailbox", org.MaxMessagesPerMailbox.String(),
					"MessageRetention", org.MessageRetention.String())
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
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
	s.logDirs = append(s.logDirs, adminapi.ProtocolLogDir{Service: "Mailbox", Log: "SmtpReceive", Path: path})
	return l
}

// MailboxView is exlab mailbox's view of a server's delivered messages: through the running
// server's /api/v1 (filtered on the server), or, when none runs, from its data directory.
type MailboxView struct {
	c  *adminapi.Client
	st *queue.Store
}

// OpenMailboxes finds the server running on dataDir or opens its store (for writing when
// write is set: exlab mailbox clear of a stopped server).
func OpenMailboxes(dataDir string, write bool) (*MailboxView, error) {
	if c := adminapi.Dial(dataDir); c != nil {
		return &MailboxView{c: c}, nil
	}
	if !write {
		st, err := openStore(dataDir)
		if err != nil {
			return nil, err
		}
		return &MailboxView{st: st}, nil
	}
	st, err := queue.Open(filepath.Join(dataDir, QueueDir), queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("no running server answers for %s and its queue database cannot be opened: %v", dataDir, err)
	}
	return &MailboxView{st: st}, nil
}

// Close releases the store of a stopped server.
func (v *MailboxView) Close() {
	if v.st != nil {
		_ = v.st.Close()
	}
}

// Running says whether the view is a running server's.
func (v *MailboxView) Running() bool { return v.c != nil }

// List is the messages of the mailbox addr belongs to ("" for every mailbox), oldest first,
// only id when it is not 0; subjects decoded.
func (v *MailboxView) List(addr string, id uint64) ([]queue.MailboxItem, error) {
	var out []queue.MailboxItem
	if v.c != nil {
		ms, err := v.c.AllMessages(context.Background(), adminapi.Filter{Mailbox: addr})
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if id == 0 || m.ID == id {
				out = append(out, queue.MailboxItem{Mailbox: m.Mailbox, ID: m.ID, MessageID: m.MessageID, From: m.From, To: m.To,
					Subject: m.Subject, Received: m.Received, Size: m.Size})
			}
		}
	} else if err := v.st.ScanMailboxItems("", queue.ItemKey{}, func(it queue.MailboxItem) bool {
		if InMailbox(it, addr) && (id == 0 || it.ID == id) {
			it.Subject = smtpwire.DecodeSubject(it.Subject)
			out = append(out, it)
		}
		return true
	}); err != nil {
		return nil, err
	}
	slices.Reverse(out) // the API lists newest first; the command oldest first, as mail arrived
	return out, nil
}

// Content is one listed message as stored.
func (v *MailboxView) Content(it queue.MailboxItem) ([]byte, error) {
	if v.c != nil {
		return v.c.RawMessage(context.Background(), it.ID, it.Mailbox)
	}
	_, c, err := v.st.MailboxContent(it.Mailbox, it.ID)
	return c, err
}

// Clear deletes the messages of the mailbox addr belongs to, or ("") of every mailbox, each
// with its body in one batch; it says how many went.
func (v *MailboxView) Clear(addr string) (int, error) {
	if v.c != nil {
		return v.c.DeleteMessages(context.Background(), addr)
	}
	items, err := v.List(addr, 0)
	if err != nil {
		return 0, err
	}
	keys := make([]queue.ItemKey, len(items))
	for i, it := range items {
		keys[i] = queue.ItemKey{Mailbox: it.Mailbox, ID: it.ID}
	}
	return v.st.DeleteMailboxItems(keys)
}
