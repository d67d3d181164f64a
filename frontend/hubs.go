package frontend

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpsend"
)

// The hubs a frontend proxies to (spec §6.1): its routing tables hold "a special list of
// Mailbox servers in the local AD site, for fast failover". For a message whose recipients
// have mailboxes, the first 20 recipients choose: the server where most of them are homed
// goes first; with none, a random hub of the site does. A hub that cannot be reached, or that
// answers the session's setup with a 4xx, is passed over for the next one, and the client
// gets a PRX reply only when no hub takes the message. One that could not be reached is
// marked down and skipped until it answers with its banner again (probed every
// hubProbeInterval); a refused 5xx is the hub's own answer, handed to the client.

// hubProbeInterval is how often a hub marked down is tried again.
const hubProbeInterval = time.Second

// hubChoiceRecipients is how many recipients choose the hub (spec §6.1, MS-MR).
const hubChoiceRecipients = 20

// hubTarget is one hub of the site with its pooled sessions.
type hubTarget struct {
	server      string          // the hub's server name
	proxy       *smtpsend.Proxy // its Default <SERVER>: inbound mail
	clientProxy *smtpsend.Proxy // its Client Proxy <SERVER>: authenticated client sessions
	self        bool            // this server's own hub (exlab serve passes how to reach it)
	down        atomic.Bool
	probing     atomic.Bool
}

// hubSet is the site's hubs as of the organization a session decides by.
type hubSet struct {
	list []*hubTarget
}

// buildHubs makes the hub list of srv's site, keeping the targets (and their pooled sessions)
// of old that are still there. This server's own hub uses the proxies of f (the address or
// the in-process pipe exlab serve gives); with no hub in the site the list is that one alone,
// which answers PRX1 when there is nothing to reach.
func (f *Frontend) buildHubs(org *config.Organization, srv *config.Server, old *hubSet) *hubSet {
	keep := map[string]*hubTarget{}
	if old != nil {
		for _, h := range old.list {
			keep[strings.ToUpper(h.server)] = h
		}
	}
	set := &hubSet{}
	for _, hs := range org.Hubs(srv.Site) {
		key := strings.ToUpper(hs.Name)
		if h := keep[key]; h != nil {
			set.list = append(set.list, h)
			delete(keep, key)
			continue
		}
		if strings.EqualFold(hs.Name, srv.Name) {
			set.list = append(set.list, &hubTarget{server: hs.Name, proxy: f.proxy, clientProxy: f.clientProxy, self: true})
			continue
		}
		h := &hubTarget{server: hs.Name}
		h.proxy = f.newProxy(f.peerAddr(hs.Name, "Default "), nil)
		h.clientProxy = f.newProxy(f.peerAddr(hs.Name, "Client Proxy "), nil)
		h.proxy.ProtocolLog, h.clientProxy.ProtocolLog = f.proxy.ProtocolLog, f.proxy.ProtocolLog
		h.proxy.LocalIP, h.clientProxy.LocalIP = f.sourceIP, f.sourceIP
		set.list = append(set.list, h)
	}
	if len(set.list) == 0 {
		set.list = []*hubTarget{{server: srv.Name, proxy: f.proxy, clientProxy: f.clientProxy, self: true}}
	}
	for _, h := range keep {
		if !h.self {
			h.proxy.Close()
			h.clientProxy.Close()
		}
	}
	return set
}

// sourceIP is the address this server dials other servers from (Organization.SourceIP).
func (f *Frontend) sourceIP() netip.Addr {
	st := f.state.Load()
	return st.org.SourceIP(st.srv)
}

// peerAddr is where this frontend reaches the connector prefix+server of another server, as
// the current organization says (ReceiveConnector.PeerAddress); "" when it has none.
func (f *Frontend) peerAddr(server, prefix string) func() string {
	return func() string { return f.state.Load().org.PeerConnectorAddress(server, prefix) }
}

// order is the hubs to try for the message, in order: the home server of most of the first
// 20 recipients with mailboxes (for an authenticated client session: the user's), then the
// others from a random one on; hubs marked down last.
func (s *session) hubOrder(set *hubSet) []*hubTarget {
	if len(set.list) == 1 {
		return set.list
	}
	var home string
	if s.user != "" {
		if mb := s.st.resolver.Mailbox(s.user); mb != nil {
			if h, _ := s.st.resolver.Home(mb); h != nil {
				home = h.Name
			}
		}
	} else {
		counts := map[string]int{}
		best := 0
		for i, r := range s.env.Recipients {
			if i == hubChoiceRecipients {
				break
			}
			disp, mb := s.st.resolver.Resolve(r.Address)
			if disp != routing.DeliverToMailbox {
				continue
			}
			if h, _ := s.st.resolver.Home(mb); h != nil {
				counts[h.Name]++
				if counts[h.Name] > best {
					home, best = h.Name, counts[h.Name]
				}
			}
		}
	}
	out := make([]*hubTarget, 0, len(set.list))
	start := rand.IntN(len(set.list))
	for pass := 0; pass < 3; pass++ {
		for k := range set.list {
			h := set.list[(start+k)%len(set.list)]
			preferred := home != "" && strings.EqualFold(h.server, home)
			switch {
			case pass == 0 && preferred && !h.down.Load(),
				pass == 1 && !preferred && !h.down.Load(),
				pass == 2 && h.down.Load():
				out = append(out, h)
			}
		}
	}
	return out
}

// failover says whether a failed proxy step may go to the next hub: a connection or session
// set-up failure, or a 4xx from the hub; a 5xx is the hub's answer to the message.
func failover(err error) bool {
	var pe *smtpsend.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Hub == nil || pe.Hub.Code/100 == 4
}

// unreachable says whether err means the hub could not be reached at all (marked down).
func unreachable(err error) bool {
	var pe *smtpsend.Error
	return errors.As(err, &pe) && pe.Step == "connect" && pe.PRX != smtpsend.PRXNoDestination
}

// markDown skips h until it answers again: a probe connects every hubProbeInterval and
// reads its banner.
func (f *Frontend) markDown(h *hubTarget, err error) {
	if !h.down.Swap(true) {
		f.opt.Logger.Warn("a hub does not answer; the frontend proxies to the other hubs of the site until it does",
			"server", h.server, "err", err)
	}
	if !h.probing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer h.probing.Store(false)
		t := time.NewTicker(hubProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
			}
			if f.answers(h.proxy.Addr()) {
				h.down.Store(false)
				f.opt.Logger.Info("a hub answers again", "server", h.server)
				return
			}
		}
	}()
}

// answers says whether a hub at addr accepts a connection and greets with 220.
func (f *Frontend) answers(addr string) bool {
	if addr == "" {
		return false
	}
	timeout := f.opt.Server.ProxyConnectTimeout.Duration()
	conn, err := smtpsend.DialFrom(context.Background(), f.sourceIP(), addr, timeout)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err == nil {
		_, _ = conn.Write([]byte("QUIT\r\n"))
	}
	return err == nil && strings.HasPrefix(line, "220")
}

// retryable says whether a message the hub did not take may go to the next hub: no reply was
// had before the session broke, or the hub refused the transaction's set-up or envelope
// (XPROXYFROM, MAIL, RCPT, DATA) with a 4xx, so it cannot have queued the message. A failure
// at the end of the data is not: the hub may have committed before its reply was lost.
func retryable(err error) bool {
	var pe *smtpsend.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Step {
	case "connect", "hello", "auth", "xproxyfrom", "mail", "rcpt", "data":
		return pe.Hub == nil || pe.Hub.Code/100 == 4
	}
	return false
}
