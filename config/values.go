package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// scalar is implemented by parameter types that parse from one YAML scalar written the way
// Exchange prints the value.
type scalar interface {
	parseExchange(s string) error
}

// ByteSize is a size in bytes, written as Exchange writes it: "36 MB (37,748,736 bytes)",
// "36 MB", "256KB" or "37748736" (spec §1.1, value formats).
type ByteSize uint64

func (b *ByteSize) parseExchange(s string) error {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i >= 0 {
		// "36 MB (37,748,736 bytes)": the exact count in brackets wins.
		inner := strings.TrimSuffix(strings.TrimSpace(s[i+1:]), ")")
		inner = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(inner), "bytes"))
		n, err := strconv.ParseUint(strings.ReplaceAll(inner, ",", ""), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a size: the bracketed byte count must be a number", s)
		}
		*b = ByteSize(n)
		return nil
	}
	num := strings.TrimRight(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
	unit := strings.ToUpper(strings.TrimSpace(s[len(num):]))
	num = strings.ReplaceAll(strings.TrimSpace(num), ",", "")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%q is not a size (write it as 36 MB, 36 MB (37,748,736 bytes) or 37748736)", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "BYTES": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[unit]
	if mult == 0 {
		return fmt.Errorf("%q is not a size: unit %q is not B, KB, MB, GB or TB", s, unit)
	}
	*b = ByteSize(f * mult)
	return nil
}

// String prints the size the way Get-ReceiveConnector does: "36 MB (37,748,736 bytes)".
func (b ByteSize) String() string {
	n := uint64(b)
	var head string
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		head = fmt.Sprintf("%d GB", n>>30)
	case n >= 1<<20:
		head = strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", float64(n)/(1<<20)), "0"), ".") + " MB"
	case n >= 1<<10:
		head = strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", float64(n)/(1<<10)), "0"), ".") + " KB"
	default:
		head = fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%s (%s bytes)", head, groupThousands(n))
}

func groupThousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// TimeSpan is a .NET TimeSpan written as Exchange prints it: hh:mm:ss or d.hh:mm:ss, with
// optional fractional seconds.
type TimeSpan time.Duration

func (t *TimeSpan) parseExchange(s string) error {
	d, err := ParseTimeSpan(s)
	if err != nil {
		return err
	}
	*t = TimeSpan(d)
	return nil
}

// ParseTimeSpan parses [d.]hh:mm:ss[.fffffff].
func ParseTimeSpan(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a time span (write it as hh:mm:ss or d.hh:mm:ss, e.g. 00:05:00)", orig)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, bad
	}
	var days int64
	hh := parts[0]
	if i := strings.IndexByte(hh, '.'); i >= 0 {
		d, err := strconv.ParseInt(hh[:i], 10, 64)
		if err != nil {
			return 0, bad
		}
		days, hh = d, hh[i+1:]
	}
	h, err1 := strconv.ParseInt(hh, 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec >= 60 || days < 0 {
		return 0, bad
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second))
	if neg {
		d = -d
	}
	return d, nil
}

// String prints the span as Exchange does: hh:mm:ss, or d.hh:mm:ss above a day.
func (t TimeSpan) String() string { return FormatTimeSpan(time.Duration(t)) }

// FormatTimeSpan prints d as hh:mm:ss or d.hh:mm:ss.
func FormatTimeSpan(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	frac := d - s*time.Second
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if frac > 0 {
		out += strings.TrimRight(fmt.Sprintf(".%07d", frac/100), "0")
	}
	if days > 0 {
		out = fmt.Sprintf("%d.%s", days, out)
	}
	return sign + out
}

// Limit is a count that may be "Unlimited".
type Limit struct {
	Value     int64
	Unlimited bool
}

// Unlimited is the Limit that never binds.
var Unlimited = Limit{Unlimited: true}

// N is a finite Limit.
func N(v int64) Limit { return Limit{Value: v} }

func (l *Limit) parseExchange(s string) error {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "Unlimited") {
		*l = Unlimited
		return nil
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		return fmt.Errorf("%q is neither a number nor Unlimited", s)
	}
	*l = Limit{Value: v}
	return nil
}

// Allows says whether n items stay within the limit.
func (l Limit) Allows(n int64) bool { return l.Unlimited || n <= l.Value }

func (l Limit) String() string {
	if l.Unlimited {
		return "Unlimited"
	}
	return strconv.FormatInt(l.Value, 10)
}

// IPRange is one RemoteIPRanges entry in any of Exchange's three forms: a single address
// (IPv6 may carry %zone), a range a-b, or CIDR (spec §3).
type IPRange struct {
	Lo, Hi netip.Addr
	Text   string
}

func (r *IPRange) parseExchange(s string) error {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not an IP address, a range a-b or a CIDR block", s)
	switch {
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return bad
		}
		p = p.Masked()
		r.Lo, r.Hi = p.Addr(), lastAddr(p)
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err1 := parseAddr(a)
		hi, err2 := parseAddr(b)
		if err1 != nil || err2 != nil || lo.Is4() != hi.Is4() {
			return bad
		}
		if hi.Less(lo) {
			return fmt.Errorf("%q: the range ends before it starts", s)
		}
		r.Lo, r.Hi = lo, hi
	default:
		a, err := parseAddr(s)
		if err != nil {
			return bad
		}
		r.Lo, r.Hi = a, a
	}
	r.Text = s
	return nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return a, err
	}
	return a.WithZone("").Unmap(), nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 7; j >= 0; j-- {
			if i*8+(7-j) >= bits {
				b[i] |= 1 << j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Contains says whether a lies in the range.
func (r IPRange) Contains(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if a.Is4() != r.Lo.Is4() {
		return false
	}
	return !a.Less(r.Lo) && !r.Hi.Less(a)
}

// Covers says whether r wholly contains o.
func (r IPRange) Covers(o IPRange) bool {
	return r.Lo.Is4() == o.Lo.Is4() && !o.Lo.Less(r.Lo) && !r.Hi.Less(o.Hi)
}

// Overlaps says whether r and o share an address.
func (r IPRange) Overlaps(o IPRange) bool {
	return r.Lo.Is4() == o.Lo.Is4() && !r.Hi.Less(o.Lo) && !o.Hi.Less(r.Lo)
}

// Size is the number of addresses in the range as a float, for "most specific" comparisons.
func (r IPRange) Size() float64 {
	lo, hi := r.Lo.As16(), r.Hi.As16()
	var f float64
	for i := 0; i < 16; i++ {
		f = f*256 + float64(int(hi[i])-int(lo[i]))
	}
	return f + 1
}

func (r IPRange) String() string { return r.Text }

// Binding is one local IP:port of a receive connector: "0.0.0.0:25" or "[::]:25".
type Binding struct {
	Addr netip.Addr
	Port int
}

func (b *Binding) parseExchange(s string) error {
	s = strings.TrimSpace(s)
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not a binding (write IPv4:port or [IPv6]:port)", s)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%q is not a binding: %q is not an IP address", s, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q is not a binding: port %q is not 0-65535", s, port)
	}
	b.Addr, b.Port = a, p
	return nil
}

// String prints the binding as Exchange does.
func (b Binding) String() string { return netip.AddrPortFrom(b.Addr, uint16(b.Port)).String() }

// IsWildcard says whether the binding listens on every address of its family.
func (b Binding) IsWildcard() bool { return b.Addr.IsUnspecified() }

// Conflicts says whether two bindings would take the same local endpoint: the same port and
// the same address, or a wildcard of the same family on the same port (spec §3 [I]).
func (b Binding) Conflicts(o Binding) bool {
	if b.Port != o.Port || b.Port == 0 {
		// Port 0 asks the system for a free port: two such bindings never collide.
		return false
	}
	if b.Addr == o.Addr {
		return true
	}
	if b.Addr.Is4() != o.Addr.Is4() {
		return false
	}
	return b.IsWildcard() || o.IsWildcard()
}

var errEmpty = errors.New("must not be empty")

// Probability is a chance between 0 and 1, written "0.25" or "25%".
type Probability float64

func (p *Probability) parseExchange(text string) error {
	s := strings.TrimSpace(text)
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(t), 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v/scale < 0 || v/scale > 1 {
		return fmt.Errorf("%q is not a probability (0 to 1, or 0%% to 100%%)", text)
	}
	*p = Probability(v / scale)
	return nil
}

func (p Probability) String() string { return strconv.FormatFloat(float64(p), 'g', -1, 64) }
