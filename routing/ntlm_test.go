package routing_test

import (
	"testing"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/routing"
)

// TestNTLMAccount: the user-name forms an NTLM client sends (user, DOMAIN\user, user@domain,
// the mailbox's Name) find the mailbox by Authenticate's rules, the local part only in the domain
// the client named (NetBIOS or DNS) or, with none, in the default accepted domain.
func TestNTLMAccount(t *testing.T) {
	org := config.Default()
	org.Mailboxes = append(org.Mailboxes, config.Mailbox{Name: "No Password", PrimarySmtpAddress: "nopw@contoso.test"})
	r := routing.New(org)
	for _, tt := range []struct {
		user, domain string
		want         string
	}{
		{"user1", "CONTOSO", "user1@contoso.test"},
		{"USER1", "contoso", "user1@contoso.test"},
		{"user1", "contoso.test", "user1@contoso.test"},
		{"user1", "", "user1@contoso.test"},
		{`CONTOSO\user1`, "", "user1@contoso.test"},
		{"user1@contoso.test", "", "user1@contoso.test"},
		{"User1@Contoso.Test", "CONTOSO", "user1@contoso.test"},
		{"User One", "CONTOSO", "user1@contoso.test"},
		{"admin", "CONTOSO", "administrator@contoso.test"}, // a secondary address's local part
		{"Administrator", "", "administrator@contoso.test"},
		{"user1", "FABRIKAM", ""},
		{`FABRIKAM\user1`, "", ""},
		{"user2", "CONTOSO", ""},
		{"nopw", "CONTOSO", ""}, // no lab password: never authenticates
		{"", "", ""},
	} {
		id, pw, ok := r.NTLMAccount(tt.user, tt.domain)
		if ok != (tt.want != "") || id != tt.want || ok && pw != "P@ssw0rd" {
			t.Errorf("NTLMAccount(%q, %q) = %q, %q, %v; want %q", tt.user, tt.domain, id, pw, ok, tt.want)
		}
	}
}
