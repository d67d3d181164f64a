package smtpreceive

import (
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

func TestBanner(t *testing.T) {
	rc := connector(t, "Default Frontend EX01")
	at := time.Date(2024, 3, 13, 10, 1, 17, 0, time.FixedZone("", 3600))
	got := Banner(rc, at).Text
	want := "220 ex01.contoso.test Microsoft ESMTP MAIL Service ready at Wed, 13 Mar 2024 10:01:17 +0100"
	if got != want {
		t.Errorf("banner\n got %q\nwant %q", got, want)
	}
	at = time.Date(2016, 8, 5, 16, 24, 41, 0, time.FixedZone("", -7*3600))
	if got := BannerDate(at); got != "Fri, 5 Aug 2016 16:24:41 -0700" {
		t.Errorf("date %q: the day has no leading zero (spec §5.1)", got)
	}
	custom := *rc
	custom.Banner = "220 mail.contoso.com"
	if got := Banner(&custom, at).Text; got != "220 mail.contoso.com" {
		t.Errorf("custom banner %q", got)
	}
}

func connector(t testing.TB, name string) *config.ReceiveConnector {
	t.Helper()
	o := config.Default()
	for i := range o.ReceiveConnectors {
		if o.ReceiveConnectors[i].Name == name {
			return &o.ReceiveConnectors[i]
		}
	}
	t.Fatalf("no connector %q in the default", name)
	return nil
}

// TestEhloMatchesSpec renders the EHLO list of each default connector and compares it byte for
// byte with the replies.tsv row for that connector and state.
func TestEhloMatchesSpec(t *testing.T) {
	custom := *connector(t, "Default Frontend EX01")
	custom.AuthMechanism = []config.AuthMechanism{config.AuthTls}
	tests := []struct {
		row smtpwire.ReplyID
		rc  *config.ReceiveConnector
		p   EhloParams
		why string
	}{
		{"R06", connector(t, "Default Frontend EX01"), EhloParams{Version: config.Version2019, HasCert: true}, ""},
		{"R07", connector(t, "Default Frontend EX01"), EhloParams{Version: config.Version2016, HasCert: true}, ""},
		{"R08", connector(t, "Default Frontend EX01"), EhloParams{Version: config.Version2019, HasCert: true, TLS: true}, ""},
		{"R09", connector(t, "Client Frontend EX01"), EhloParams{Version: config.Version2019, HasCert: true}, ""},
		{"R10", connector(t, "Client Frontend EX01"), EhloParams{Version: config.Version2019, HasCert: true, TLS: true}, ""},
		{"R11", connector(t, "Outbound Proxy Frontend EX01"), EhloParams{Version: config.Version2019, HasCert: true}, ""},
		// R12 and R13 are the 2013/2016 lists (no SMTPUTF8), R92 and R93 2019's (spec §13.12,
		// §13.13): XSHADOWREQUEST on every hub, a single-server organization included.
		{"R12", connector(t, "Default EX01"), EhloParams{Version: config.Version2016, HasCert: true}, ""},
		{"R12", connector(t, "Default EX01"), EhloParams{Version: config.Version2013, HasCert: true}, ""},
		{"R13", connector(t, "Client Proxy EX01"), EhloParams{Version: config.Version2016, HasCert: true}, ""},
		{"R92", connector(t, "Default EX01"), EhloParams{Version: config.Version2019, HasCert: true}, ""},
		{"R93", connector(t, "Client Proxy EX01"), EhloParams{Version: config.Version2019, HasCert: true}, ""},
		{"R14", &custom, EhloParams{Version: config.Version2019, HasCert: true}, ""},
	}
	for _, tt := range tests {
		want := smtpwire.Render(tt.row, "fqdn", "ex01.contoso.test", "ip", "192.0.2.1").Text
		got := EhloReply(tt.rc, tt.p, "192.0.2.1").Text
		if got != want {
			t.Errorf("%s (%s):\n got %q\nwant %q", tt.row, tt.rc.Name, got, want)
		}
	}
}

// TestEhloSwitches: a keyword disappears when its switch is off (spec §5.2).
func TestEhloSwitches(t *testing.T) {
	base := *connector(t, "Default Frontend EX01")
	p := EhloParams{Version: config.Version2019, HasCert: true}
	tests := []struct {
		keyword string
		off     func(rc *config.ReceiveConnector)
	}{
		{"PIPELINING", func(rc *config.ReceiveConnector) { rc.PipeliningEnabled = false }},
		{"CHUNKING", func(rc *config.ReceiveConnector) { rc.ChunkingEnabled = false }},
		{"8BITMIME", func(rc *config.ReceiveConnector) { rc.EightBitMimeEnabled = false }},
		{"BINARYMIME", func(rc *config.ReceiveConnector) { rc.BinaryMimeEnabled = false }},
		{"ENHANCEDSTATUSCODES", func(rc *config.ReceiveConnector) { rc.EnhancedStatusCodesEnabled = false }},
		{"DSN", func(rc *config.ReceiveConnector) { rc.DeliveryStatusNotificationEnabled = false }},
		{"SMTPUTF8", func(rc *config.ReceiveConnector) { rc.SmtpUtf8Enabled = false }},
		{"SIZE 37748736", func(rc *config.ReceiveConnector) { rc.SizeEnabled = config.SizeDisabled }},
		{"X-ANONYMOUSTLS", func(rc *config.ReceiveConnector) { rc.SuppressXAnonymousTls = true }},
	}
	for _, tt := range tests {
		rc := base
		if !strings.Contains(EhloReply(&rc, p, "x").Text, "-"+tt.keyword+"\r\n") {
			t.Fatalf("%s missing before the switch is turned off", tt.keyword)
		}
		tt.off(&rc)
		if strings.Contains(EhloReply(&rc, p, "x").Text, tt.keyword+"\r\n") {
			t.Errorf("%s still advertised with its switch off", tt.keyword)
		}
	}
	rc := base
	if strings.Contains(EhloReply(&rc, EhloParams{Version: config.Version2019}, "x").Text, "STARTTLS") {
		t.Error("STARTTLS advertised without a certificate (spec §5.4)")
	}
}
