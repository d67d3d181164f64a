package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Observation is what one probe session saw: the banner and the EHLO reply of whatever
// answers on a port, any SMTP server.
type Observation struct {
	Banner string   // the greeting line, without its line end
	Ehlo   []string // the EHLO reply lines, without codes ("ex01.contoso.test Hello [127.0.0.1]", "SIZE 37748736", …)
	Err    string   `json:",omitempty"`
}

// Fingerprint identifies a listener by its banner (date removed) and EHLO keywords (the
// greeting name line excluded), so two sessions to the same listener compare equal.
func (o Observation) Fingerprint() string {
	kw := ""
	if len(o.Ehlo) > 1 {
		kw = strings.Join(o.Ehlo[1:], " ")
	}
	return BannerShape(o.Banner) + " | " + kw
}

// StartTLS says whether the EHLO offered STARTTLS.
func (o Observation) StartTLS() bool {
	for _, k := range o.Ehlo {
		if k == "STARTTLS" {
			return true
		}
	}
	return false
}

var bannerDate = regexp.MustCompile(`(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}`)

// BannerShape is the banner with an Exchange-style date replaced by <date>.
func BannerShape(b string) string { return bannerDate.ReplaceAllString(b, "<date>") }

// ErrNotListening is the observation error when the connection was refused.
var ErrNotListening = errors.New("not listening (connection refused)")

// Probe connects to addr n times; each time it reads the banner, sends EHLO and QUIT.
func Probe(ctx context.Context, addr string, n int, timeout time.Duration) []Observation {
	out := make([]Observation, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, probeOnce(ctx, addr, timeout))
	}
	return out
}

func probeOnce(ctx context.Context, addr string, timeout time.Duration) Observation {
	var o Observation
	c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			o.Err = ErrNotListening.Error()
		} else {
			o.Err = err.Error()
		}
		return o
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReader(c)
	banner, err := readReply(br)
	if err != nil {
		o.Err = "no banner: " + err.Error()
		return o
	}
	o.Banner = banner[0]
	if _, err := fmt.Fprintf(c, "EHLO probe.exlab.test\r\n"); err != nil {
		o.Err = err.Error()
		return o
	}
	ehlo, err := readReply(br)
	if err != nil {
		o.Err = "no EHLO reply: " + err.Error()
		return o
	}
	for _, l := range ehlo {
		if len(l) > 4 {
			o.Ehlo = append(o.Ehlo, l[4:])
		}
	}
	_, _ = fmt.Fprintf(c, "QUIT\r\n")
	return o
}

// readReply reads one reply's lines (with their codes).
func readReply(br *bufio.Reader) ([]string, error) {
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return lines, err
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines, nil
		}
	}
}
