// Package probe is exlab probe's judgement: what answers on each binding of the configuration
// (or on given ports), who owns the port, and whether the banner and EHLO are those of the
// connector that should be there (issue 4; the diagnosis an admin makes with netstat -ano and
// telnet). Targets says what to probe, Judge is the pure verdict over what the sessions saw, and
// Check does the I/O (the port's owner, N sessions through bench.Probe) and calls Judge. It
// does not print: cmd/exlab renders a table or JSON.
package probe

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/exlab/exlab/bench"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// Target is one address to probe and the enabled connectors configured on it.
type Target struct {
	Addr       netip.AddrPort
	Connectors []*config.ReceiveConnector
}

// Result is what exlab probe reports for one binding.
type Result struct {
	Binding   string
	Connector string `json:",omitempty"`
	Listening bool
	OwnerPID  int    `json:",omitempty"`
	Owner     string `json:",omitempty"`
	Sessions  int
	Answered  int
	Listeners []Listener
	Problems  []string
}

// Listener is one distinct listener seen on a binding (by banner and EHLO keywords).
type Listener struct {
	Banner   string
	Ehlo     []string
	StartTLS bool
	Sessions int
}

// Targets lists what to probe on srv: every enabled connector's bindings shifted by offset
// (wildcards on loopback; IPv6 bindings skipped unless host is given, since the IPv4 binding of
// the same connector is probed and IPv6 may be off), or, with ports, those ports on host
// (default 127.0.0.1), each with the connector whose shifted binding port it is.
func Targets(org *config.Organization, srv *config.Server, host string, ports []int, offset int) ([]Target, error) {
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("--port: %d is not a port", p)
		}
	}
	var targets []Target
	byAddr := map[netip.AddrPort]int{}
	add := func(b config.Binding, rc *config.ReceiveConnector) {
		a := b.Addr
		if host != "" {
			if h, err := netip.ParseAddr(host); err == nil {
				a = h
			}
		}
		if a.IsUnspecified() {
			a = netip.MustParseAddr("127.0.0.1")
			if b.Addr.Is6() {
				a = netip.IPv6Loopback()
			}
		}
		ap := netip.AddrPortFrom(a, uint16(b.Port))
		i, ok := byAddr[ap]
		if !ok {
			i = len(targets)
			byAddr[ap] = i
			targets = append(targets, Target{Addr: ap})
		}
		if rc != nil {
			targets[i].Connectors = append(targets[i].Connectors, rc)
		}
	}
	var conns []*config.ReceiveConnector
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		if rc.Enabled && strings.EqualFold(rc.Server, srv.Name) {
			conns = append(conns, rc)
		}
	}
	for _, r := range srv.Roles {
		if r == config.HubTransport {
			// The Mailbox Transport ports (475-477) run wherever the hub does (mailboxtransport).
			conns = append(conns, org.MailboxDeliveryConnectors(srv)...)
		}
	}
	if len(ports) > 0 {
		h := "127.0.0.1"
		if host != "" {
			h = host
		}
		addr, err := netip.ParseAddr(h)
		if err != nil {
			return nil, fmt.Errorf("--host: %v", err)
		}
		for _, p := range ports {
			var match *config.ReceiveConnector
			for _, rc := range conns {
				for _, b := range rc.Bindings {
					if b.Port != 0 && b.Port+offset == p && match == nil {
						match = rc
					}
				}
			}
			add(config.Binding{Addr: addr, Port: p}, match)
		}
		return targets, nil
	}
	for _, rc := range conns {
		for _, b := range rc.Bindings {
			if b.Port == 0 {
				continue
			}
			b.Port += offset
			if b.Addr.Is6() && host == "" {
				continue
			}
			add(b, rc)
		}
	}
	return targets, nil
}

// Expected is what the connector that should answer a target would send: its banner shape and
// its EHLO reply lines (codes included), and whether it offers STARTTLS.
type Expected struct {
	Connector string
	Banner    string
	Ehlo      []string
	StartTLS  bool
}

// Expect is what the connector of t that takes a client at the probe's own address should
// answer; nil when no connector is configured there.
func Expect(org *config.Organization, srv *config.Server, t Target) *Expected {
	if len(t.Connectors) == 0 {
		return nil
	}
	rc := routing.SelectConnector(t.Connectors, t.Addr.Addr())
	if rc == nil {
		rc = t.Connectors[0]
	}
	// Every hub offers XSHADOWREQUEST, with or without a shadow peer (spec §13.12), so the
	// expected list does not depend on how many hubs the organization has.
	return &Expected{Connector: rc.Identity(),
		Banner: bench.BannerShape(smtpreceive.Banner(rc, time.Now()).Text),
		Ehlo: strings.Split(smtpreceive.EhloReply(rc, smtpreceive.EhloParams{Version: srv.Version, HasCert: true},
			t.Addr.Addr().String()).Text, "\r\n"),
		StartTLS: rc.HasAuth(config.AuthTls)}
}

// Judge is the verdict on one binding from the sessions' observations: how many answered, the
// distinct listeners, and every problem (not listening, several listeners on one port, failed
// sessions, a banner, EHLO or TLS offer that is not the expected connector's). want is nil when
// no connector is configured there.
func Judge(binding string, want *Expected, obs []bench.Observation) Result {
	r := Result{Binding: binding, Sessions: len(obs)}
	if want != nil {
		r.Connector = want.Connector
	}
	seen := map[string]*Listener{}
	var order []string
	for _, o := range obs {
		if o.Err != "" {
			continue
		}
		r.Answered++
		fp := o.Fingerprint()
		if seen[fp] == nil {
			seen[fp] = &Listener{Banner: bench.BannerShape(o.Banner), Ehlo: o.Ehlo, StartTLS: o.StartTLS()}
			order = append(order, fp)
		}
		seen[fp].Sessions++
	}
	for _, fp := range order {
		r.Listeners = append(r.Listeners, *seen[fp])
	}
	r.Listening = r.Answered > 0
	switch {
	case !r.Listening && len(obs) > 0:
		r.Problems = append(r.Problems, "not listening: "+obs[0].Err)
	case len(r.Listeners) > 1:
		r.Problems = append(r.Problems, fmt.Sprintf("%d different listeners answer on this port (a shared binding: sessions go to one or the other)", len(r.Listeners)))
	}
	if r.Answered > 0 && r.Answered < len(obs) {
		r.Problems = append(r.Problems, fmt.Sprintf("%d of %d sessions failed", len(obs)-r.Answered, len(obs)))
	}
	if want == nil {
		return r
	}
	for _, l := range r.Listeners {
		if l.Banner != want.Banner {
			// Someone else answers here: what it offers says nothing about the connector.
			r.Problems = append(r.Problems, fmt.Sprintf("banner is not this connector's: %q", l.Banner))
			continue
		}
		if !sameKeywords(l.Ehlo, want.Ehlo) {
			r.Problems = append(r.Problems, fmt.Sprintf("EHLO is not this connector's: %s", strings.Join(l.Ehlo[min(1, len(l.Ehlo)):], ", ")))
		}
		if l.StartTLS != want.StartTLS {
			if want.StartTLS {
				r.Problems = append(r.Problems, "TLS not offered (no STARTTLS; a certificate problem, Event 12014)")
			} else {
				r.Problems = append(r.Problems, "TLS offered where the connector has no Tls mechanism")
			}
		}
	}
	return r
}

// Check probes t with n sessions: the port's owner, then Judge over what they saw.
func Check(ctx context.Context, org *config.Organization, srv *config.Server, t Target, n int, timeout time.Duration) Result {
	obs := bench.Probe(ctx, t.Addr.String(), n, timeout)
	r := Judge(t.Addr.String(), Expect(org, srv, t), obs)
	r.Sessions = n
	if o := smtpreceive.FindPortOwner(config.Binding{Addr: t.Addr.Addr(), Port: int(t.Addr.Port())}); o != nil {
		r.OwnerPID, r.Owner = o.PID, o.Program
	}
	return r
}

// sameKeywords compares the EHLO keywords seen with the expected reply lines (codes included
// in want), ignoring the greeting line.
func sameKeywords(got, want []string) bool {
	var w []string
	for _, l := range want[min(1, len(want)):] {
		if len(l) > 4 {
			w = append(w, l[4:])
		}
	}
	g := append([]string(nil), got[min(1, len(got)):]...)
	sort.Strings(g)
	sort.Strings(w)
	return strings.Join(g, "\n") == strings.Join(w, "\n")
}
