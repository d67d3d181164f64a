package smtpsend

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/exlab/exlab/transport/smtpwire"
)

// DNS finds the next hops of a domain for send connectors with DNSRoutingEnabled: its MX
// hosts in preference order, or the domain's own address when it has no MX (RFC 5321 §5.1).
// It asks the servers given (Set-TransportService -ExternalDNSServers, here with an optional
// port so tests can point it at loopback), or the system's resolver when none are.
type DNS struct {
	r *net.Resolver
}

// Exchange's texts for DNS failures: R81 for a domain that does not exist (Exchange's NDR
// text); the transient one (X22) is Get-Queue's LastError as widely quoted [O], not in the spec.
var (
	dnsNonExistent = smtpwire.Fixed(smtpwire.R81).Text
	dnsRetry       = smtpwire.Fixed("X22").Text
)

// NewDNS returns a resolver asking servers ("192.0.2.53", "127.0.0.1:5353"; port 53 when
// omitted) in turn, or the system's resolver when servers is empty.
func NewDNS(servers []string) *DNS {
	if len(servers) == 0 {
		return &DNS{r: net.DefaultResolver}
	}
	addrs := make([]string, len(servers))
	for i, s := range servers {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			addrs[i] = ap.String()
		} else {
			addrs[i] = net.JoinHostPort(strings.Trim(s, "[]"), "53")
		}
	}
	var next atomic.Uint32
	return &DNS{r: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addrs[int(next.Add(1)-1)%len(addrs)])
	}}}
}

// NextHops returns the addresses (ip:port) to try for domain in order, or the result every
// recipient of the domain gets when there are none: R81 (permanent) for a domain that does
// not exist or has a null MX (RFC 7505), a transient DNS failure otherwise.
func (d *DNS) NextHops(ctx context.Context, domain string, port int) ([]string, RcptResult) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var names []string
	mxs, err := d.r.LookupMX(ctx, domain)
	switch {
	case err == nil:
		for _, mx := range mxs {
			if mx.Host == "." {
				return nil, RcptResult{Code: 550, Text: dnsNonExistent}
			}
			names = append(names, mx.Host)
		}
	case isNotFound(err):
		names = []string{domain} // no MX: the domain's own address
	default:
		return nil, RcptResult{Code: 451, Text: dnsRetry}
	}
	var hosts []string
	transient := false
	for _, n := range names {
		ips, err := d.r.LookupNetIP(ctx, "ip", n)
		if err != nil {
			transient = transient || !isNotFound(err)
			continue
		}
		// IPv4 first, as most lab next hops listen there.
		for _, v4 := range []bool{true, false} {
			for _, ip := range ips {
				if ip.Unmap().Is4() == v4 {
					hosts = append(hosts, net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(port)))
				}
			}
		}
	}
	switch {
	case len(hosts) > 0:
		return hosts, RcptResult{}
	case transient:
		return nil, RcptResult{Code: 451, Text: dnsRetry}
	}
	return nil, RcptResult{Code: 550, Text: dnsNonExistent}
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// LookupTXT returns the TXT records of name (DKIM keys), through the same servers.
func (d *DNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return d.r.LookupTXT(ctx, name)
}
