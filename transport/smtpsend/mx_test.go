package smtpsend

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers UDP queries on loopback from zone: "MX name" → "pref host" lines, "A name" →
// addresses; "FAIL name" makes it answer SERVFAIL; any other name is NXDOMAIN.
func fakeDNS(t *testing.T, zone map[string][]string) string {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
			rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeSuccess}
			exists := false
			for k := range zone {
				exists = exists || strings.HasSuffix(k, " "+name)
			}
			switch {
			case zone["FAIL "+name] != nil:
				rh.RCode = dnsmessage.RCodeServerFailure
			case !exists:
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
			switch q.Type {
			case dnsmessage.TypeMX:
				for _, v := range zone["MX "+name] {
					var pref uint16
					var host string
					if f := strings.Fields(v); len(f) == 2 {
						host = f[1]
						for _, c := range f[0] {
							pref = pref*10 + uint16(c-'0')
						}
					}
					_ = b.MXResource(rr, dnsmessage.MXResource{Pref: pref, MX: dnsmessage.MustNewName(host + ".")})
				}
			case dnsmessage.TypeA:
				for _, v := range zone["A "+name] {
					_ = b.AResource(rr, dnsmessage.AResource{A: netip.MustParseAddr(v).As4()})
				}
			}
			out, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestDNSNextHops(t *testing.T) {
	addr := fakeDNS(t, map[string][]string{
		"MX fabrikam.test":          {"20 mx2.fabrikam.test", "10 mx1.fabrikam.test"},
		"A mx1.fabrikam.test":       {"127.0.0.1"},
		"A mx2.fabrikam.test":       {"127.0.0.2"},
		"A nomx.test":               {"127.0.0.3"},
		"MX nullmx.test":            {"0 ."},
		"FAIL broken.test":          {"x"},
		"MX deadmx.test":            {"10 gone.deadmx.test"},
		"A placeholder.deadmx.test": {"127.0.0.9"},
	})
	d := NewDNS([]string{addr})
	for _, tc := range []struct {
		domain string
		hosts  string
		fail   string
	}{
		{"fabrikam.test", "127.0.0.1:2626 127.0.0.2:2626", ""},
		{"nomx.test", "127.0.0.3:2626", ""}, // no MX: the domain's own address
		{"nowhere.test", "", dnsNonExistent},
		{"nullmx.test", "", dnsNonExistent},
		{"broken.test", "", dnsRetry},
		{"deadmx.test", "", dnsNonExistent},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			hosts, fail := d.NextHops(context.Background(), tc.domain, 2626)
			if got := strings.Join(hosts, " "); got != tc.hosts || fail.Text != tc.fail {
				t.Errorf("got %q, %q; want %q, %q", got, fail.Text, tc.hosts, tc.fail)
			}
		})
	}
}
