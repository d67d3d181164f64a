package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exlab/exlab/bench"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// portList is a repeatable --port flag that also takes comma-separated lists.
type portList []int

func (p *portList) String() string { return fmt.Sprint(*p) }
func (p *portList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q is not a port", f)
		}
		*p = append(*p, n)
	}
	return nil
}

// probeResult is what `exlab probe` reports for one binding.
type probeResult struct {
	Binding   string
	Connector string `json:",omitempty"`
	Listening bool
	OwnerPID  int    `json:",omitempty"`
	Owner     string `json:",omitempty"`
	Sessions  int
	Answered  int
	Listeners []listenerSeen
	Problems  []string
}

type listenerSeen struct {
	Banner   string
	Ehlo     []string
	StartTLS bool
	Sessions int
}

// cmdProbe checks what answers on each binding of the configuration (or on the given ports):
// who owns the port, and whether the banner and EHLO are those of the connector that should be
// there (issue 4; the diagnosis an admin makes with netstat -ano and telnet).
func cmdProbe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("probe", stderr, "probe [--config FILE] [--server NAME] [--host H] [--port P …] [--port-offset N] [--connections N] [--json]")
	cfgPath := fs.String("config", "", "organization file whose bindings to check (default: the embedded default)")
	serverName := fs.String("server", "", "which server of the organization (default: the first)")
	host := fs.String("host", "", "probe this host instead of each binding's address (wildcards become 127.0.0.1)")
	var ports portList
	fs.Var(&ports, "port", "probe this port instead of the configuration's bindings (repeatable, or comma-separated)")
	offset := fs.Int("port-offset", 0, "the --port-offset the server runs with")
	n := fs.Int("connections", 10, "sessions per binding")
	timeout := fs.Duration("timeout", 5*time.Second, "per-session timeout")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	org, srv, err := loadServer(*cfgPath, *serverName)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	type target struct {
		addr       netip.AddrPort
		binding    config.Binding
		connectors []*config.ReceiveConnector
	}
	var targets []target
	byAddr := map[netip.AddrPort]int{}
	add := func(b config.Binding, rc *config.ReceiveConnector) {
		a := b.Addr
		if *host != "" {
			if h, err := netip.ParseAddr(*host); err == nil {
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
			targets = append(targets, target{addr: ap, binding: b})
		}
		if rc != nil {
			targets[i].connectors = append(targets[i].connectors, rc)
		}
	}
	var conns []*config.ReceiveConnector
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		if rc.Enabled && strings.EqualFold(rc.Server, srv.Name) {
			conns = append(conns, rc)
		}
	}
	if len(ports) > 0 {
		h := "127.0.0.1"
		if *host != "" {
			h = *host
		}
		addr, err := netip.ParseAddr(h)
		if err != nil {
			return errorf(stderr, "--host: %v", err)
		}
		for _, p := range ports {
			var match *config.ReceiveConnector
			for _, rc := range conns {
				for _, b := range rc.Bindings {
					if b.Port != 0 && b.Port+*offset == p && match == nil {
						match = rc
					}
				}
			}
			add(config.Binding{Addr: addr, Port: p}, match)
		}
	} else {
		for _, rc := range conns {
			for _, b := range rc.Bindings {
				if b.Port == 0 {
					continue
				}
				b.Port += *offset
				if b.Addr.Is6() && *host == "" {
					continue // the IPv4 binding of the same connector is probed; IPv6 may be off
				}
				add(b, rc)
			}
		}
	}

	hubs := 0
	for _, s := range org.Servers {
		for _, r := range s.Roles {
			if r == config.HubTransport {
				hubs++
			}
		}
	}
	var results []probeResult
	bad := false
	for _, t := range targets {
		r := probeResult{Binding: t.addr.String(), Sessions: *n}
		if o := smtpreceive.FindPortOwner(config.Binding{Addr: t.addr.Addr(), Port: int(t.addr.Port())}); o != nil {
			r.OwnerPID, r.Owner = o.PID, o.Program
		}
		var expected *config.ReceiveConnector
		if len(t.connectors) > 0 {
			// The connector that should take a client at the probe's own address.
			expected = routing.SelectConnector(t.connectors, t.addr.Addr())
			if expected == nil {
				expected = t.connectors[0]
			}
			r.Connector = expected.Identity()
		}
		obs := bench.Probe(context.Background(), t.addr.String(), *n, *timeout)
		seen := map[string]*listenerSeen{}
		var order []string
		for _, o := range obs {
			if o.Err != "" {
				continue
			}
			r.Answered++
			fp := o.Fingerprint()
			if seen[fp] == nil {
				seen[fp] = &listenerSeen{Banner: bench.BannerShape(o.Banner), Ehlo: o.Ehlo, StartTLS: o.StartTLS()}
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
		if r.Answered > 0 && r.Answered < *n {
			r.Problems = append(r.Problems, fmt.Sprintf("%d of %d sessions failed", *n-r.Answered, *n))
		}
		if expected != nil {
			wantBanner := bench.BannerShape(smtpreceive.Banner(expected, time.Now()).Text)
			wantEhlo := strings.Split(smtpreceive.EhloReply(expected, smtpreceive.EhloParams{Version: srv.Version, HasCert: true,
				Shadow: hubs > 1}, t.addr.Addr().String()).Text, "\r\n")
			for _, l := range r.Listeners {
				if l.Banner != wantBanner {
					// Someone else answers here: what it offers says nothing about the connector.
					r.Problems = append(r.Problems, fmt.Sprintf("banner is not this connector's: %q", l.Banner))
					continue
				}
				if !sameKeywords(l.Ehlo, wantEhlo) {
					r.Problems = append(r.Problems, fmt.Sprintf("EHLO is not this connector's: %s", strings.Join(l.Ehlo[min(1, len(l.Ehlo)):], ", ")))
				}
				if want := expected.HasAuth(config.AuthTls); l.StartTLS != want {
					if want {
						r.Problems = append(r.Problems, "TLS not offered (no STARTTLS; a certificate problem, Event 12014)")
					} else {
						r.Problems = append(r.Problems, "TLS offered where the connector has no Tls mechanism")
					}
				}
			}
		}
		bad = bad || len(r.Problems) > 0
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(results)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "Binding\tConnector\tListening\tOwner\tAnswered\tListeners\tVerdict")
		for _, r := range results {
			owner := "-"
			if r.OwnerPID != 0 {
				owner = fmt.Sprintf("%d %s", r.OwnerPID, r.Owner)
			}
			verdict := "ok"
			if len(r.Problems) > 0 {
				verdict = strings.Join(r.Problems, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%d/%d\t%d\t%s\n", r.Binding, orDash(r.Connector), yesNo(r.Listening), owner,
				r.Answered, r.Sessions, len(r.Listeners), verdict)
		}
		tw.Flush()
	}
	if bad {
		return 1
	}
	return 0
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

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
