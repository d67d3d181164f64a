// ehlo.go holds the banner and the EHLO keyword list a connector advertises.

package smtpreceive

import (
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// extensions is what a connector advertises in one state of a session.
type extensions struct {
	size, pipelining, dsn, enhanced, eightBit, binary, chunking, utf8 bool
	starttls, anonTLS, exps                                           bool
}

// EhloParams is what the EHLO list depends on besides the connector.
type EhloParams struct {
	Version config.ExchangeVersion
	TLS     bool // the session is already encrypted
	HasCert bool // a certificate is available for STARTTLS (spec §5.4: no cert, no STARTTLS)
}

func advertised(rc *config.ReceiveConnector, p EhloParams) extensions {
	x := extensions{
		size:       rc.SizeEnabled != config.SizeDisabled,
		pipelining: rc.PipeliningEnabled,
		dsn:        rc.DeliveryStatusNotificationEnabled,
		enhanced:   rc.EnhancedStatusCodesEnabled,
		eightBit:   rc.EightBitMimeEnabled,
		binary:     rc.BinaryMimeEnabled,
		chunking:   rc.ChunkingEnabled,
		// SMTPUTF8 is on 2019 captures only (spec §5.2).
		utf8: rc.SmtpUtf8Enabled && p.Version == config.Version2019,
		exps: rc.HasAuth(config.AuthExchangeServer),
	}
	if !p.TLS && p.HasCert {
		x.starttls = rc.HasAuth(config.AuthTls)
		x.anonTLS = rc.HasAuth(config.AuthExchangeServer) && !rc.SuppressXAnonymousTls
	}
	return x
}

// authMechanisms lists the AUTH keyword's mechanisms (spec §2.3, §5.2): GSSAPI with Integrated
// and EnableAuthGSSAPI, NTLM with Integrated, LOGIN with BasicAuth (after TLS only when
// BasicAuthRequireTLS is set).
func authMechanisms(rc *config.ReceiveConnector, tls bool) []string {
	var m []string
	if rc.HasAuth(config.AuthIntegrated) {
		if rc.EnableAuthGSSAPI {
			m = append(m, "GSSAPI")
		}
		m = append(m, "NTLM")
	}
	if rc.HasAuth(config.AuthBasicAuth) && (tls || !rc.HasAuth(config.AuthBasicAuthRequireTLS)) {
		m = append(m, "LOGIN")
	}
	return m
}

// ehloKeywords returns the EHLO keywords in Exchange's fixed order (spec §5.2: R06-R14).
func ehloKeywords(rc *config.ReceiveConnector, p EhloParams) []string {
	x := advertised(rc, p)
	var k []string
	switch {
	case rc.SizeEnabled == config.SizeEnabledWithoutValue:
		k = append(k, "SIZE")
	case x.size:
		k = append(k, "SIZE "+strconv.FormatUint(uint64(rc.MaxMessageSize), 10))
	}
	if x.pipelining {
		k = append(k, "PIPELINING")
	}
	if x.dsn {
		k = append(k, "DSN")
	}
	if x.enhanced {
		k = append(k, "ENHANCEDSTATUSCODES")
	}
	if x.starttls {
		k = append(k, "STARTTLS")
	}
	if x.anonTLS {
		k = append(k, "X-ANONYMOUSTLS")
	}
	if m := authMechanisms(rc, p.TLS); len(m) > 0 {
		k = append(k, "AUTH "+strings.Join(m, " "))
	}
	if x.exps {
		k = append(k, "X-EXPS GSSAPI NTLM")
	}
	if x.eightBit {
		k = append(k, "8BITMIME")
	}
	if x.binary {
		k = append(k, "BINARYMIME")
	}
	if x.chunking {
		k = append(k, "CHUNKING")
	}
	hub := rc.TransportRole == config.HubTransport && x.exps
	// A hub puts XEXCH50 right after CHUNKING and SMTPUTF8 after it (spec §13.12: "CHUNKING,
	// XEXCH50, SMTPUTF8, XRDST, XSHADOWREQUEST" in an nmap scan of a 2019 hub, R92/R93; 2013's
	// "CHUNKING, XEXCH50, XRDST, XSHADOWREQUEST", §13.13, KB 2866822). A frontend has no XEXCH50
	// and puts SMTPUTF8 after CHUNKING (R06-R11).
	if hub {
		k = append(k, "XEXCH50")
	}
	if x.utf8 {
		k = append(k, "SMTPUTF8")
	}
	// Where XORAR and XLONGADDR go is not captured; exlab [I]: before XRDST.
	if rc.OrarEnabled {
		k = append(k, "XORAR")
	}
	if rc.LongAddressesEnabled {
		k = append(k, "XLONGADDR")
	}
	if x.exps {
		k = append(k, "XRDST")
	}
	// XSHADOWREQUEST is offered by every 2013+ hub, also in a single-server organization where
	// no shadow peer exists (spec §13.12, §13.13: the AD-RTS scan of a one-server 2019
	// organization and KB 2866822 both show it; this replaces §5.2's [D] guess).
	if hub {
		k = append(k, "XSHADOWREQUEST")
	}
	return k
}

// EhloReply renders the multi-line EHLO reply for a client at ip.
func EhloReply(rc *config.ReceiveConnector, p EhloParams, ip string) *smtpwire.Reply {
	var b strings.Builder
	kw := ehloKeywords(rc, p)
	b.WriteString("250")
	if len(kw) > 0 {
		b.WriteByte('-')
	} else {
		b.WriteByte(' ')
	}
	b.WriteString(rc.Fqdn)
	b.WriteString(" Hello [")
	b.WriteString(ip)
	b.WriteString("]")
	for i, w := range kw {
		b.WriteString("\r\n250")
		if i == len(kw)-1 {
			b.WriteByte(' ')
		} else {
			b.WriteByte('-')
		}
		b.WriteString(w)
	}
	return &smtpwire.Reply{ID: "EHLO", Text: b.String()}
}

// BannerDate formats t as the banner and Received: headers do: server local time,
// "ddd, d MMM yyyy HH:mm:ss +hhmm" with English names (spec §5.1).
func BannerDate(t time.Time) string { return t.Format("Mon, 2 Jan 2006 15:04:05 -0700") }

// Banner renders the greeting of connector rc: its Banner, or R01; the Mailbox Transport
// ports (475-477) greet in upper case, R94 (spec §13.20).
func Banner(rc *config.ReceiveConnector, now time.Time) *smtpwire.Reply {
	if rc.TransportRole == config.MailboxDelivery {
		return smtpwire.Render("R94", "fqdn", rc.Fqdn, "date", BannerDate(now))
	}
	if rc.Banner != "" {
		return &smtpwire.Reply{ID: "R02", Text: rc.Banner}
	}
	return smtpwire.Render("R01", "fqdn", rc.Fqdn, "date", BannerDate(now))
}
