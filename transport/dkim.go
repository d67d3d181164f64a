package transport

import (
	"bytes"
	"context"
	"crypto"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpsend"
)

// DKIM with go-msgauth: the hub verifies the signatures of mail from anonymous senders and
// stamps the result as an Authentication-Results field (RFC 8601; its authserv-id is the hub's
// FQDN), and send connectors with DkimSigning sign what they send. Verification runs on the
// hub, not the frontend: the frontend streams the message to the hub as it arrives, so only
// the hub holds the whole message before its reply. Keys are looked up through the hub's DNS
// resolver (Server.ExternalDNSServers), so tests answer them from loopback.

// dkimKeys looks up DKIM keys through the hub's resolver, cached (txtCache).
type dkimKeys struct {
	dns   *smtpsend.DNS
	cache txtCache
}

// defaultDkimHeaders are RFC 6376 §5.4.1's recommended header fields.
var defaultDkimHeaders = []string{"From", "Reply-To", "Subject", "Date", "To", "Cc", "Resent-Date", "Resent-From",
	"Resent-To", "Resent-Cc", "In-Reply-To", "References", "List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive", "Message-ID", "MIME-Version", "Content-Type"}

// authenticationResults verifies msg's DKIM signatures (hasSig: the header block has a
// DKIM-Signature field; without one the result is dkim=none and nothing is looked up) and
// returns the Authentication-Results field to stamp.
func (k *dkimKeys) authenticationResults(msg []byte, hasSig bool, authservID string) string {
	if !hasSig {
		return authenticationResultsNone(authservID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{MaxVerifications: 5,
		LookupTXT: func(name string) ([]string, error) { return k.cache.lookup(ctx, k.dns, name) }})
	var results []authres.Result
	if err != nil && len(vs) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultPermError, Reason: reason(err)})
	}
	for _, v := range vs {
		r := &authres.DKIMResult{Value: authres.ResultPass, Domain: v.Domain, Identifier: v.Identifier}
		switch {
		case v.Err == nil:
			r.Reason = "signature was verified"
		case dkim.IsTempFail(v.Err):
			r.Value, r.Reason = authres.ResultTempError, reason(v.Err)
		case dkim.IsPermFail(v.Err):
			r.Value, r.Reason = authres.ResultPermError, reason(v.Err)
		default:
			r.Value, r.Reason = authres.ResultFail, reason(v.Err)
		}
		results = append(results, r)
	}
	return formatAuthResults(authservID, results)
}

// formatAuthResults is authres.Format as a header field, without the blank it leaves after a
// result without properties.
func formatAuthResults(authservID string, results []authres.Result) string {
	return "Authentication-Results: " + strings.TrimRight(strings.ReplaceAll(authres.Format(authservID, results), " ;", ";"), " ") + "\r\n"
}

// reason is a verification error without go-msgauth's "dkim: " prefix.
func reason(err error) string { return strings.TrimPrefix(err.Error(), "dkim: ") }

// txtCache keeps DKIM key lookups for five minutes (failures for one), so a load of signed
// mail costs one DNS query per key rather than one per message, and a resolver that does not
// answer delays one message a minute rather than every one.
type txtCache struct {
	mu sync.Mutex
	m  map[string]txtEntry
}

type txtEntry struct {
	vals  []string
	err   error
	until time.Time
}

func (tc *txtCache) lookup(ctx context.Context, dns *smtpsend.DNS, name string) ([]string, error) {
	now := time.Now()
	tc.mu.Lock()
	e, ok := tc.m[name]
	tc.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.vals, e.err
	}
	vals, err := dns.LookupTXT(ctx, name)
	ttl := 5 * time.Minute
	if err != nil {
		ttl = time.Minute
	}
	tc.mu.Lock()
	if tc.m == nil || len(tc.m) > 10000 {
		tc.m = map[string]txtEntry{}
	}
	tc.m[name] = txtEntry{vals: vals, err: err, until: now.Add(ttl)}
	tc.mu.Unlock()
	return vals, err
}

// authenticationResultsNone is the field for a message without a signature (made once).
func authenticationResultsNone(authservID string) string {
	return formatAuthResults(authservID, []authres.Result{&authres.DKIMResult{Value: authres.ResultNone}})
}

// dkimSign signs content with the send connector's key; a message that cannot be signed goes
// out unsigned, with a warning (Exchange Online does the same rather than hold mail).
func (s *smtpSend) dkimSign(sc *config.SendConnector, m *queue.Message, content []byte) []byte {
	d := &sc.DkimSigning
	keys := d.HeaderKeys
	if len(keys) == 0 {
		keys = defaultDkimHeaders
	}
	opts := &dkim.SignOptions{Domain: d.Domain, Selector: d.Selector, Signer: d.Signer, Hash: crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed, HeaderKeys: keys}
	var out bytes.Buffer
	out.Grow(len(content) + 600)
	if err := dkim.Sign(&out, bytes.NewReader(content), opts); err != nil {
		s.log.Warn("DKIM signing failed; the message goes out unsigned", "connector", sc.Name, "InternalMessageId", m.ID, "err", err)
		return content
	}
	return out.Bytes()
}
