package smtpwire

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ProxyFrom describes the original client of a proxied session (XPROXYFROM, spec §6.1). The
// verb's real syntax is not public; this is exlab's: SID, IP, PORT, DOMAIN, SEQNUM, PERMS,
// AUTHSRC and USER, each value xtext-encoded (RFC 3461). The frontend formats it, the hub
// parses it; both import this package.
type ProxyFrom struct {
	SessionID string
	IP        string
	Port      int
	Helo      string
	Seq       int
	Perms     uint32 // the session's rights on the frontend connector (routing.Rights)
	AuthSrc   string // Anonymous, Internal, …
	User      string // the authenticated user, if any
	// AuthDomain is the partner domain of a Domain Secure session, if any.
	AuthDomain string
	// TraceParent is the W3C traceparent of the frontend's proxy span, when tracing.
	TraceParent string
}

// Format renders the XPROXYFROM argument. It is appended piece by piece, not through
// fmt: the frontend formats one per proxied message.
func (p ProxyFrom) Format() string {
	b := make([]byte, 0, 128+len(p.SessionID)+len(p.Helo)+len(p.User)+len(p.TraceParent))
	b = appendXtext(append(b, "SID="...), p.SessionID)
	b = appendXtext(append(b, " IP="...), p.IP)
	b = strconv.AppendInt(append(b, " PORT="...), int64(p.Port), 10)
	b = appendXtext(append(b, " DOMAIN="...), p.Helo)
	b = strconv.AppendInt(append(b, " SEQNUM="...), int64(p.Seq), 10)
	b = strconv.AppendUint(append(b, " PERMS="...), uint64(p.Perms), 10)
	b = appendXtext(append(b, " AUTHSRC="...), p.AuthSrc)
	if p.User != "" {
		b = appendXtext(append(b, " USER="...), p.User)
	}
	if p.AuthDomain != "" {
		b = appendXtext(append(b, " AUTHDOMAIN="...), p.AuthDomain)
	}
	if p.TraceParent != "" {
		b = appendXtext(append(b, " TRACEPARENT="...), p.TraceParent)
	}
	return string(b)
}

// ParseProxyFrom parses the argument of XPROXYFROM.
func ParseProxyFrom(arg string) (ProxyFrom, error) {
	var p ProxyFrom
	for _, f := range strings.Fields(arg) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return p, fmt.Errorf("parameter %q has no value", f)
		}
		d, err := DecodeXtext(v)
		if err != nil {
			return p, fmt.Errorf("parameter %s: %v", k, err)
		}
		switch strings.ToUpper(k) {
		case "SID":
			p.SessionID = d
		case "IP":
			p.IP = d
		case "PORT":
			p.Port, err = strconv.Atoi(d)
		case "DOMAIN":
			p.Helo = d
		case "SEQNUM":
			p.Seq, err = strconv.Atoi(d)
		case "PERMS":
			var n uint64
			n, err = strconv.ParseUint(d, 10, 32)
			p.Perms = uint32(n)
		case "AUTHSRC":
			p.AuthSrc = d
		case "USER":
			p.User = d
		case "AUTHDOMAIN":
			p.AuthDomain = d
		case "TRACEPARENT":
			p.TraceParent = d
		default:
			return p, fmt.Errorf("unknown parameter %s", k)
		}
		if err != nil {
			return p, fmt.Errorf("parameter %s: %v", k, err)
		}
	}
	if p.IP == "" {
		return p, fmt.Errorf("IP is required")
	}
	return p, nil
}

// ProxyTo is the argument of XPROXYTO, with which a hub hands a message to an Outbound Proxy
// Frontend (spec §6.4; exlab's syntax): the send connector whose settings the frontend applies
// (it reads the same organization) and the next hops, host:port, in failover order.
type ProxyTo struct {
	Connector string
	Hosts     []string
}

// Format renders the XPROXYTO argument.
func (p ProxyTo) Format() string {
	hosts := make([]string, len(p.Hosts))
	for i, h := range p.Hosts {
		hosts[i] = EncodeXtext(h)
	}
	return "CONNECTOR=" + EncodeXtext(p.Connector) + " HOSTS=" + strings.Join(hosts, ",")
}

// ParseProxyTo parses the argument of XPROXYTO.
func ParseProxyTo(arg string) (ProxyTo, error) {
	var p ProxyTo
	for _, f := range strings.Fields(arg) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return p, fmt.Errorf("parameter %q has no value", f)
		}
		switch strings.ToUpper(k) {
		case "CONNECTOR":
			d, err := DecodeXtext(v)
			if err != nil {
				return p, fmt.Errorf("parameter %s: %v", k, err)
			}
			p.Connector = d
		case "HOSTS":
			for _, h := range strings.Split(v, ",") {
				d, err := DecodeXtext(h)
				if err != nil {
					return p, fmt.Errorf("parameter %s: %v", k, err)
				}
				if _, _, err := net.SplitHostPort(d); err != nil {
					return p, fmt.Errorf("parameter %s: %v", k, err)
				}
				p.Hosts = append(p.Hosts, d)
			}
		default:
			return p, fmt.Errorf("unknown parameter %s", k)
		}
	}
	if len(p.Hosts) == 0 {
		return p, fmt.Errorf("HOSTS is required")
	}
	return p, nil
}

// EncodeXtext encodes s as RFC 3461 xtext.
func EncodeXtext(s string) string { return string(appendXtext(nil, s)) }

// appendXtext appends s xtext-encoded to b.
func appendXtext(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '+' || c == '=' {
			b = append(b, '+', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

// DecodeXtext decodes RFC 3461 xtext.
func DecodeXtext(s string) (string, error) {
	if !strings.Contains(s, "+") { // the common case: nothing to decode, nothing to allocate
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e || s[i] == '=' {
				return "", fmt.Errorf("character %q is not allowed in xtext", s[i])
			}
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) {
				return "", fmt.Errorf("truncated xtext escape")
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad xtext escape")
			}
			b.WriteByte(byte(n))
			i += 2
		case c < 0x21 || c > 0x7e || c == '=':
			return "", fmt.Errorf("character %q is not allowed in xtext", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
