package routing

import (
	"testing"

	"github.com/exlab/exlab/config"
)

// TestRightNames: each right's bit is paired with its AD name in config.ExtendedRights and
// with its protocol-log token (spec §2.2), so that neither list can shift against the other.
func TestRightNames(t *testing.T) {
	tests := []struct {
		r     Right
		ad    string
		token string
	}{
		{Submit, "ms-Exch-SMTP-Submit", "SMTPSubmit"},
		{AcceptAnyRecipient, "ms-Exch-SMTP-Accept-Any-Recipient", "SMTPAcceptAnyRecipient"},
		{AcceptAnySender, "ms-Exch-SMTP-Accept-Any-Sender", "SMTPAcceptAnySender"},
		{AcceptAuthoritativeDomainSender, "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender", "SMTPAcceptAuthoritativeDomainSender"},
		{AcceptAuthenticationFlag, "ms-Exch-SMTP-Accept-Authentication-Flag", "SMTPAcceptAuthenticationFlag"},
		{AcceptExch50, "ms-Exch-SMTP-Accept-Exch50", "SMTPAcceptEXCH50"},
		{AcceptRoutingHeaders, "ms-Exch-Accept-Headers-Routing", "AcceptRoutingHeaders"},
		{AcceptOrgHeaders, "ms-Exch-Accept-Headers-Organization", "AcceptOrgHeaders"},
		{AcceptForestHeaders, "ms-Exch-Accept-Headers-Forest", "AcceptForestHeaders"},
		{BypassAntiSpam, "ms-Exch-Bypass-Anti-Spam", "BypassAntiSpam"},
		{BypassMessageSizeLimit, "ms-Exch-Bypass-Message-Size-Limit", "BypassMessageSizeLimit"},
		{AcceptXProxyFrom, "ms-Exch-SMTP-Accept-XProxyFrom", "SMTPAcceptXProxyFrom"},
		{AcceptXattr, "ms-Exch-SMTP-Accept-Xattr", "SMTPAcceptXAttr"},
		{AcceptXSessionParams, "ms-Exch-SMTP-Accept-XSessionParams", "SMTPAcceptXSessionParams"},
		{AcceptXShadow, "ms-Exch-SMTP-Accept-XShadow", "SMTPAcceptXShadow"},
		{AcceptXSysProbe, "ms-Exch-SMTP-Accept-XSysProbe", "SMTPAcceptXSysProbe"},
	}
	if len(tests) != len(config.ExtendedRights) {
		t.Fatalf("%d rights here, %d in config.ExtendedRights", len(tests), len(config.ExtendedRights))
	}
	for _, tt := range tests {
		if r, ok := RightByName(tt.ad); !ok || r != tt.r {
			t.Errorf("RightByName(%s) = %d, %v; want %d", tt.ad, r, ok, tt.r)
		}
		if r, ok := RightByName("MS-EXCH-" + tt.ad[len("ms-Exch-"):]); !ok || r != tt.r {
			t.Errorf("RightByName is not case-insensitive for %s", tt.ad)
		}
		if got := Rights(0).With(tt.r).String(); got != tt.token {
			t.Errorf("%s prints %q, want %q", tt.ad, got, tt.token)
		}
	}
	if _, ok := RightByName("ms-Exch-SMTP-Accept-Everything"); ok {
		t.Error("an unknown right was found")
	}
}
