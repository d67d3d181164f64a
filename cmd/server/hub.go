package server

import (
	"net/netip"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// The two hub connectors a frontend proxies to, by name prefix ("Default EX01").
const (
	defaultHub  = "Default "      // inbound mail (spec §6.1)
	clientProxy = "Client Proxy " // authenticated client sessions from 587 (spec §6.3)
)

// hubCandidate is a hub connector and an address it is reached at; addr is invalid when the
// configuration cannot tell (an ephemeral port).
type hubCandidate struct {
	rc   *config.ReceiveConnector
	addr netip.AddrPort
}

// pickHub is which hub connector the frontend proxies to, the one place that decides it:
// name+server ("Default EX01", "Client Proxy EX01") when there is one, and for inbound mail
// (Default) another hub connector open to Exchange servers (not Client Proxy) when it is
// missing; among the preferred connector's addresses an IPv4 one. Exchange's frontends find
// hubs through Active Directory; exlab's through the configuration or the hub's own bindings.
func pickHub(srv *config.Server, name string, cands []hubCandidate) (hubCandidate, bool) {
	var best hubCandidate
	bestPreferred := false
	for _, c := range cands {
		preferred := c.rc.Name == name+srv.Name
		if name == clientProxy && !preferred {
			continue
		}
		if !c.rc.HasGroup(config.ExchangeServers) || (name == defaultHub && c.rc.Name == clientProxy+srv.Name) {
			continue
		}
		if best.rc == nil || (preferred && (!bestPreferred || c.addr.Addr().Is4())) {
			best, bestPreferred = c, preferred
		}
	}
	return best, best.rc != nil
}

// configuredHub is where a frontend running without its hub proxies to: the hub connector
// pickHub chooses among the configured ones, at its first binding (IPv4 first; a wildcard as
// loopback; the port shifted by offset). "" when there is none or its port is ephemeral.
func configuredHub(org *config.Organization, srv *config.Server, offset int, name string) string {
	var cands []hubCandidate
	for _, rc := range org.ConnectorsOf(srv.Name, config.HubTransport) {
		if len(rc.Bindings) == 0 {
			continue
		}
		c := hubCandidate{rc: rc}
		if a := rc.DialAddress(offset); a != "" {
			c.addr = netip.MustParseAddrPort(a)
		}
		cands = append(cands, c)
	}
	c, ok := pickHub(srv, name, cands)
	if !ok || !c.addr.IsValid() {
		return ""
	}
	return c.addr.String()
}

// listeningHub is the hub connector of this process the frontend proxies to, among the
// bindings that listen (a wildcard as loopback).
func listeningHub(srv *config.Server, ls []smtpreceive.Listening, name string) (hubCandidate, bool) {
	var cands []hubCandidate
	for _, l := range ls {
		a := l.Addr
		if a.Addr().IsUnspecified() {
			lo := netip.MustParseAddr("127.0.0.1")
			if a.Addr().Is6() {
				lo = netip.IPv6Loopback()
			}
			a = netip.AddrPortFrom(lo, a.Port())
		}
		for _, rc := range l.Connectors {
			cands = append(cands, hubCandidate{rc: rc, addr: a})
		}
	}
	return pickHub(srv, name, cands)
}
