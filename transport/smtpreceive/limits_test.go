package smtpreceive

import (
	"net/netip"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
)

func TestPerSourceLimitPercentage(t *testing.T) {
	for _, c := range []struct {
		perSource config.Limit
		total     config.Limit
		pct       int
		want      string
	}{
		{config.N(20), config.N(5000), 2, "20"},              // Exchange's defaults: 2% of 5000 is 100
		{config.N(20), config.N(500), 2, "10"},               // 2% of 500 is lower
		{config.Unlimited, config.N(150), 2, "3"},            // only the percentage
		{config.Unlimited, config.N(5000), 100, "Unlimited"}, // Default on 2525
		{config.N(20), config.Unlimited, 2, "20"},            // no total, no percentage
		{config.Unlimited, config.N(10), 2, "1"},             // never below one
	} {
		rc := &config.ReceiveConnector{MaxInboundConnectionPerSource: c.perSource, MaxInboundConnection: c.total,
			MaxInboundConnectionPercentagePerSource: c.pct}
		if got := perSourceLimit(rc).String(); got != c.want {
			t.Errorf("perSourceLimit(%v, %v, %d%%) = %s, want %s", c.perSource, c.total, c.pct, got, c.want)
		}
	}
}

// TestMessageRates: a bucket per source holds MessageRateLimit messages and refills over a
// minute; a refused MAIL's token is given back; User counts only authenticated sessions.
func TestMessageRates(t *testing.T) {
	rc := &config.ReceiveConnector{Server: "EX01", Name: "R", MessageRateLimit: config.N(3), MessageRateSource: config.RateSourceAll}
	var m messageRates
	now := time.Unix(1_000_000, 0)
	anon := &ConnInfo{Remote: netip.MustParseAddrPort("192.0.2.1:1000")}
	user := &ConnInfo{Remote: netip.MustParseAddrPort("192.0.2.2:1000"), User: "user1@contoso.test"}
	if n := len(rateKeys(rc, anon)); n != 1 {
		t.Fatalf("anonymous session under All: %d buckets, want the address only", n)
	}
	if n := len(rateKeys(rc, user)); n != 2 {
		t.Fatalf("authenticated session under All: %d buckets, want address and user", n)
	}
	for i := 0; i < 3; i++ {
		if _, ok := m.take(rc, rateKeys(rc, anon), now); !ok {
			t.Fatalf("message %d refused", i+1)
		}
	}
	if _, ok := m.take(rc, rateKeys(rc, anon), now); ok {
		t.Fatal("fourth message in the same instant accepted")
	}
	if _, ok := m.take(rc, rateKeys(rc, user), now); !ok {
		t.Fatal("another source refused")
	}
	// 20 s later one token is back (3 per minute).
	later := now.Add(20 * time.Second)
	rs, ok := m.take(rc, rateKeys(rc, anon), later)
	if !ok {
		t.Fatal("no token after 20 s")
	}
	refund(rs, later)
	if _, ok := m.take(rc, rateKeys(rc, anon), later); !ok {
		t.Fatal("the refunded token is not there")
	}
	if _, ok := m.take(rc, rateKeys(rc, anon), later); ok {
		t.Fatal("more than one token after 20 s")
	}
	rc.MessageRateLimit = config.Unlimited
	if rateKeys(rc, anon) != nil {
		t.Error("an unlimited connector counts")
	}
}

// TestFaultMatching: which rule fires for which session: connector, client range, sender and
// recipient patterns, count and probability.
func TestFaultMatching(t *testing.T) {
	org := config.Default()
	fe := org.ReceiveConnectorByIdentity(`EX01\Default Frontend EX01`)
	hub := org.ReceiveConnectorByIdentity(`EX01\Default EX01`)
	rules, err := config.ParseFaults("test", []byte(`
- {Name: fe-rcpt, Connector: Default Frontend EX01, Step: Rcpt, Action: Disconnect, Recipient: "*@contoso.test"}
- {Name: lan-mail, Step: Mail, Action: Disconnect, RemoteIPRanges: [10.0.0.0/8], Count: 2}
- {Name: never, Step: Data, Action: Disconnect, Probability: 0}
- {Name: sender, Step: data, Action: Disconnect, Sender: "*@EXAMPLE.org"}
`), org)
	if err != nil {
		t.Fatal(err)
	}
	f := &Faults{}
	f.Set(rules...)
	wan := &ConnInfo{Remote: netip.MustParseAddrPort("192.0.2.1:1")}
	inLan := &ConnInfo{Remote: netip.MustParseAddrPort("10.1.2.3:1")}
	for i, c := range []struct {
		step       config.FaultStep
		rc         *config.ReceiveConnector
		ci         *ConnInfo
		from, rcpt string
		rcpts      []string
		want       string
	}{
		{config.StepRcpt, fe, wan, "", "user1@contoso.test", nil, "fe-rcpt"},
		{config.StepRcpt, fe, wan, "", "joe@fabrikam.test", nil, ""},
		{config.StepRcpt, hub, wan, "", "user1@contoso.test", nil, ""},
		{config.StepMail, hub, wan, "a@b.c", "", nil, ""},
		{config.StepMail, hub, inLan, "a@b.c", "", nil, "lan-mail"},
		{config.StepMail, fe, inLan, "a@b.c", "", nil, "lan-mail"},
		{config.StepMail, fe, inLan, "a@b.c", "", nil, ""}, // Count 2 used up
		{config.StepData, fe, wan, "x@example.org", "", []string{"u@contoso.test"}, "sender"},
		{config.StepData, fe, wan, "x@example.net", "", nil, ""},
	} {
		got := ""
		if r := f.fire(c.step, c.rc, c.ci, c.from, c.rcpt, c.rcpts); r != nil {
			got = r.Name
		}
		if got != c.want {
			t.Errorf("case %d (%s on %s): fired %q, want %q", i, c.step, c.rc.Name, got, c.want)
		}
	}
	list := f.List()
	if list[1].Fired != 2 || list[1].Remaining != 0 || list[2].Fired != 0 || list[0].Remaining != -1 {
		t.Errorf("list: %+v", list)
	}
	if n := f.Clear("lan-mail"); n != 1 || len(f.List()) != 3 {
		t.Errorf("Clear(lan-mail) = %d, %d left", n, len(f.List()))
	}
	if n := f.Clear(""); n != 3 || len(f.List()) != 0 {
		t.Errorf("Clear() = %d", n)
	}
}

// TestFaultNames: a rule without a name gets one not in use, so it never replaces another.
func TestFaultNames(t *testing.T) {
	rule := config.Fault{Step: config.StepMail, Action: config.FaultDisconnect, Probability: 1}
	f := &Faults{}
	f.Set(rule, rule)
	f.Clear("fault1")
	f.Set(rule)
	var names []string
	for _, r := range f.List() {
		names = append(names, r.Name)
	}
	if len(names) != 2 || names[0] != "fault2" || names[1] == "fault2" {
		t.Errorf("names %v, want fault2 and a new one", names)
	}
}
