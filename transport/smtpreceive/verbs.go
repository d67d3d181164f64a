// verbs.go holds one handler per SMTP verb, named after it (STYLE §1): HELO/EHLO, MAIL, RCPT,
// DATA, BDAT, STARTTLS, AUTH, RSET, NOOP, VRFY, HELP and QUIT.

package smtpreceive

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// EHLO answers EHLO and HELO (RFC 5321 §4.1.1.1): R15 for HELO, the keyword list for EHLO;
// any transaction is reset.
func (c *conn) EHLO(ctx context.Context, cmd Command) {
	if _, handled := c.atStep(config.StepEhlo, "", ""); handled {
		return
	}
	// RequireEHLODomain (Set-ReceiveConnector, default false) refuses a bare EHLO/HELO, which
	// is otherwise accepted (spec §13.1); with R16, as an invalid domain is [I].
	if !validHelo(cmd.Arg) || c.rc.RequireEHLODomain && strings.TrimSpace(cmd.Arg) == "" {
		c.fail("R16")
		return
	}
	c.logTLSAfterEhlo()
	c.resetTransaction()
	c.st = stateReady
	ip := c.info.Remote.Addr().Unmap().String()
	c.info.Helo = strings.TrimSpace(cmd.Arg)
	if c.info.Helo == "" {
		// A bare EHLO/HELO is accepted (spec §13.1). What Exchange then writes where the HELO
		// name goes (Received: from, XPROXYFROM's HELO, the tracking log's client-hostname)
		// is not captured; exlab [I] uses the client's address literal, as RFC 5321 §4.1.3
		// lets a client name itself.
		c.info.Helo = "[" + ip + "]"
	}
	c.info.Ehlo = cmd.Verb == "EHLO"
	c.sess.Hello(ctx)
	if cmd.Verb == "HELO" {
		c.reply(smtpwire.Render("R15", "fqdn", c.rc.Fqdn, "ip", ip))
		return
	}
	c.reply(EhloReply(c.rc, c.ehloParams(), ip))
}

// MAIL starts a transaction (RFC 5321 §4.1.1.2) once the parser, maintenance mode, the size
// limit, MessageRateLimit and the Session have let it.
func (c *conn) MAIL(ctx context.Context, arg string) {
	if c.rc.RequireTLS && c.info.TLS == nil {
		c.reply(smtpwire.Fixed("R19"))
		return
	}
	from, params, err := parsePath(arg, "FROM:", true)
	if errors.Is(err, errSyntax) {
		c.fail("R59")
		return
	}
	if err != nil {
		// 501, not MS-TEL's 550 (R28), on every version we emulate: an on-premises RECV log of
		// "MAIL FROM:<NAME <x@y>>" shows 501 5.1.7 after the tarpit (spec §13.8,
		// keepalived#2365); no capture shows 550 from a 2013+ server.
		c.reply(smtpwire.Fixed(smtpwire.R89))
		return
	}
	ext := advertised(c.rc, c.ehloParams())
	opts, err := parseMailParams(params, ext)
	if err != nil {
		c.fail("R59")
		return
	}
	if !opts.SMTPUTF8 && !isASCII(from) {
		c.reply(smtpwire.Fixed(smtpwire.R89))
		return
	}
	if c.srv.Faults.Maintenance() {
		// HubTransport Inactive: banner and EHLO as usual, then R32 (spec §5.3, KB2866822).
		c.reply(smtpwire.Fixed("R32"))
		return
	}
	if _, handled := c.atStep(config.StepMail, from, ""); handled {
		return
	}
	if lim := c.sess.SizeLimit(); lim > 0 && opts.Size > lim {
		c.reply(smtpwire.Fixed("R35"))
		return
	}
	// MessageRateLimit: over the limit, R33 and the session is closed (spec §5.3). The
	// message is counted when its MAIL is accepted.
	var taken []*rate.Reservation
	if keys := rateKeys(c.rc, &c.info); len(keys) > 0 {
		var ok bool
		if taken, ok = c.srv.rates.take(c.rc, keys, time.Now()); !ok {
			c.reply(smtpwire.Fixed("R33"))
			c.closed = true
			return
		}
	}
	if r := c.sess.Mail(ctx, from, &opts); r != nil {
		refund(taken, time.Now())
		c.reply(r)
		return
	}
	c.st = stateMail
	c.body = opts.Body
	c.from = from
	c.transactions++
	c.startMessage(from)
	if c.plogOn {
		c.logLine('*', c.info.SessionID+";"+time.Now().UTC().Format("2006-01-02T15:04:05.000Z")+";"+strconv.Itoa(c.transactions), "receiving message")
	}
	c.reply(smtpwire.Fixed("R27"))
}

// RCPT adds a recipient (RFC 5321 §4.1.1.3), up to MaxRecipientsPerMessage.
func (c *conn) RCPT(ctx context.Context, arg string) {
	to, params, err := parsePath(arg, "TO:", true)
	if errors.Is(err, errSyntax) {
		c.fail("R59")
		return
	}
	if err != nil || to == "" {
		c.reply(smtpwire.Fixed("X05"))
		return
	}
	opts, err := parseRcptParams(params, advertised(c.rc, c.ehloParams()))
	if err != nil {
		c.fail("R59")
		return
	}
	if _, handled := c.atStep(config.StepRcpt, c.from, to); handled {
		return
	}
	if c.rcpts >= c.rc.MaxRecipientsPerMessage {
		// The extra recipients are refused; the message is not (spec §5.3, R41).
		c.reply(smtpwire.Fixed("R41"))
		return
	}
	if r := c.sess.Rcpt(ctx, to, &opts); r != nil {
		c.reply(r)
		return
	}
	c.rcpts++
	if c.srv.Faults != nil {
		c.rcptList = append(c.rcptList, to)
	}
	c.st = stateRcpt
	c.reply(smtpwire.Fixed("R37"))
}

// DATA receives a message after 354 (RFC 5321 §4.1.1.4) through the end-of-message path BDAT
// shares (receive).
func (c *conn) DATA(ctx context.Context, arg string) {
	if _, handled := c.atStep(config.StepData, c.from, ""); handled {
		return
	}
	if strings.TrimSpace(arg) != "" {
		c.fail("R59")
		return
	}
	if c.body == "BINARYMIME" {
		// BINARYMIME bodies can only travel in BDAT (RFC 3030 §3).
		c.fail("X04")
		return
	}
	c.reply(smtpwire.Fixed("R46"))
	if err := c.flush(); err != nil {
		c.closed = true
		return
	}
	c.receive(ctx, newDotReader(c.bodyReader(), c.sess.SizeLimit()))
	c.endBody()
}

// BDAT receives a message in chunks (RFC 3030): the first BDAT command starts the transfer,
// the stream reads the later ones itself, and the message ends through receive as DATA's does.
func (c *conn) BDAT(ctx context.Context, arg string) {
	size, last, ok := parseBdatArg(arg)
	if !ok {
		// The chunk's end is unknown, so the stream cannot be resynchronised: answer, close.
		c.reply(smtpwire.Fixed("R59"))
		c.closed = true
		return
	}
	if f, handled := c.atStep(config.StepData, c.from, ""); handled {
		if f.Action == config.FaultReply {
			// The chunk follows the command whatever the answer (RFC 3030 §3).
			c.skipChunk(size)
		}
		return
	}
	c.receive(ctx, &bdatStream{c: c, chunk: size, remaining: size, last: last, binary: c.body == "BINARYMIME",
		limit: c.sess.SizeLimit()})
}

// skipChunk consumes a BDAT chunk that was refused; a connection that breaks is closed.
func (c *conn) skipChunk(size int64) bool {
	if _, err := c.br.Discard(int(min(size, 1<<62))); err != nil {
		c.closed = true
		return false
	}
	return true
}

// STARTTLS answers STARTTLS (RFC 3207) and X-ANONYMOUSTLS, each only where the EHLO reply
// offers it; after the handshake the client must say EHLO again.
func (c *conn) STARTTLS(cmd Command) {
	if _, handled := c.atStep(config.StepStartTls, "", ""); handled {
		return
	}
	ext := advertised(c.rc, c.ehloParams())
	offered := ext.starttls
	if cmd.Verb == "X-ANONYMOUSTLS" {
		offered = ext.anonTLS
	}
	if !offered {
		c.unrecognized(cmd.Word)
		return
	}
	if strings.TrimSpace(cmd.Arg) != "" {
		c.fail("R59")
		return
	}
	c.reply(smtpwire.Fixed("R18"))
	if err := c.flush(); err != nil {
		c.closed = true
		return
	}
	// Plaintext pipelined behind STARTTLS is dropped with the old reader (CVE-2011-0411,
	// RFC 3207 §4.2): the new reader reads only from the TLS connection.
	tc := tls.Server(c.raw, c.tlsConf)
	_ = tc.SetDeadline(time.Now().Add(c.idle))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.srv.logger().Info("TLS negotiation failed", "connector", c.rc.Identity(), "session", c.info.SessionID, "err", err)
		c.logLine('*', "", "TLS negotiation failed with error "+tlsFailureName(err))
		c.closed = true
		return
	}
	_ = tc.SetDeadline(time.Time{})
	c.lastDeadline = time.Time{}
	st := tc.ConnectionState()
	c.nc = tc
	c.info.TLS = &st
	var leaf *x509.Certificate
	if len(c.tlsConf.Certificates) > 0 {
		leaf = c.tlsConf.Certificates[0].Leaf
	}
	c.logTLSStarted(&st, leaf)
	c.br = bufio.NewReaderSize(deadlineReader{c}, maxLineLength)
	c.pre.pending = nil // plaintext read past a body before STARTTLS goes with the old reader too
	c.bw.Reset(connWriter{c})
	// The client must say EHLO again (RFC 3207 §4.2).
	c.resetTransaction()
	c.st = stateConnected
}

// AUTH runs an authentication exchange (RFC 4954) for AUTH and X-EXPS; the Session supplies
// the mechanism, the engine the 334 round trips and MaxLogonFailures. A mechanism may answer
// with a fixed 334 row (X30, "334 NTLM supported") instead of a base64 challenge. A response
// line that cannot be used (over-long, not base64, "*") ends the exchange with one X06 and the
// session is back in the command state (issue 13 point 9). The protocol log has the command
// without any initial response, "334 <authentication response>" for each challenge and none of
// the client's lines (spec §13.18).
func (c *conn) AUTH(ctx context.Context, cmd Command) {
	if _, handled := c.atStep(config.StepAuth, "", ""); handled {
		return
	}
	mech, initial, _ := strings.Cut(strings.TrimSpace(cmd.Arg), " ")
	mech = strings.ToUpper(mech)
	if cmd.Verb == "X-EXPS" && !c.rc.HasAuth(config.AuthExchangeServer) {
		c.fail("R84")
		return
	}
	if c.authed {
		c.fail("X07")
		return
	}
	sasl, refuse := c.sess.Auth(ctx, cmd.Verb, mech)
	if refuse != nil {
		if refuse.Code()/100 == 5 {
			c.authTarpit()
		}
		c.reply(refuse)
		return
	}
	var resp []byte
	first := true
	if initial = strings.TrimSpace(initial); initial != "" {
		if initial != "=" {
			b, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				c.reply(smtpwire.Fixed("X06"))
				return
			}
			resp = b
		} else {
			resp = []byte{}
		}
	}
	for {
		challenge, final := sasl.Next(resp, first)
		first = false
		switch {
		case final != nil && final.Code() == 334:
			c.reply(final)
		case final != nil:
			switch final.Code() {
			case 235:
				c.authed = true
			case 535:
				c.authTarpit()
				c.logAuthFailure(mech, sasl)
				// The MaxLogonFailures-th failure (0: never) closes the session, answered with
				// R26 instead of 535 so the command still gets one reply (Event 1012's
				// situation; R26 is exlab's text, the real one is not public).
				c.logonFailures++
				if n := c.rc.MaxLogonFailures; n > 0 && c.logonFailures >= n {
					c.reply(smtpwire.Fixed("R26"))
					c.closed = true
					return
				}
			}
			c.reply(final)
			return
		default:
			c.reply(smtpwire.Render("X03", "challenge", base64.StdEncoding.EncodeToString(challenge)))
		}
		b, err := c.readSASLLine()
		if errors.Is(err, errSASLLine) {
			c.reply(smtpwire.Fixed("X06"))
			return
		}
		if err != nil {
			c.readFailed(err)
			c.closed = true
			return
		}
		resp = b
	}
}

// RSET ends the transaction (RFC 5321 §4.1.1.5).
func (c *conn) RSET() {
	c.resetTransaction()
	c.reply(smtpwire.Fixed("R54"))
}

// NOOP answers R55 (RFC 5321 §4.1.1.9).
func (c *conn) NOOP() { c.reply(smtpwire.Fixed("R55")) }

// VRFY answers R56 and verifies nothing, as Exchange does (RFC 5321 §3.5.3).
func (c *conn) VRFY() { c.reply(smtpwire.Fixed("R56")) }

// HELP answers R88, the two-line 214 list nmap's smtp-commands shows for Exchange 2019, 2016
// and 2010 servers on every port (spec §13.3).
func (c *conn) HELP() { c.reply(smtpwire.Fixed(smtpwire.R88)) }

// unrecognized answers a command this connector does not know, counting toward
// MaxProtocolErrors: Exchange 2019 quotes the command word (R90, spec §13.6: SANS SEC560's masscan
// of a 2019 server; Exchange Online sends the same form), 2013 and 2016 send R58 without it. The
// word is quoted as received, cut to 64 bytes and with control and non-ASCII bytes as '?', so the
// reply stays one printable line whatever the client sent.
func (c *conn) unrecognized(word string) {
	if c.protocolError() {
		return
	}
	if c.srv.Version != config.Version2019 {
		c.reply(smtpwire.Fixed(smtpwire.R58))
		return
	}
	c.reply(smtpwire.Render(smtpwire.R90, "token", asciiSafe([]byte(word[:min(len(word), 64)]))))
}

// authTarpit delays a refused or failed AUTH by the connector's AuthTarpitInterval, after the
// replies before it have gone out, and ends early at shutdown (wait).
func (c *conn) authTarpit() {
	if d := c.rc.AuthTarpitInterval.Duration(); d > 0 {
		_ = c.flush()
		c.wait(d)
	}
}

// QUIT answers R57 and ends the session (RFC 5321 §4.1.1.10).
func (c *conn) QUIT() {
	c.reply(smtpwire.Fixed("R57"))
	c.closed = true
}

// tarpit holds back a 5xx reply to a client that has not authenticated by the connector's
// TarpitInterval, whatever the command: 500, 501, 503 and 504 as much as a refused MAIL or RCPT
// (spec §13.10: keepalived#2365's 501 5.1.7, the Graylog/nxlog RECV log, email-oauth2-proxy#232's
// two 500s five seconds apart; skynet/monit#2 shows Exchange's "501 5.1.3 Invalid address" five
// seconds after the connection). reply calls it for every 5xx, so no handler has to. Before the
// wait the protocol log gets 2013+'s line "Tarpit for '0.00:00:05' due to '<reply>'" in the
// data column (spec §13.8), and the replies already written are flushed, so pipelined answers
// before the refusal are not held back with it. Authenticated sessions, Exchange servers among
// them (X-EXPS), are never tarpitted (spec §5.3); nor is anything the AUTH exchange answers
// (noTarpit), which waits AuthTarpitInterval on its own. The wait ends early at shutdown.
func (c *conn) tarpit(r *smtpwire.Reply) {
	d := c.rc.TarpitInterval.Duration()
	if d <= 0 || c.authed || c.noTarpit || r.Code()/100 != 5 {
		return
	}
	if c.plogOn {
		secs := int64(d / time.Second)
		c.logLine('*', fmt.Sprintf("Tarpit for '%d.%02d:%02d:%02d' due to '%s'", secs/86400, secs/3600%24, secs/60%60, secs%60,
			smtpwire.LogReply(r.Text)), "")
	}
	_ = c.flush()
	c.wait(d)
}

// wait sleeps d, or less when the session ends or the server shuts down (a tarpit must not
// hold a shutdown up for its whole interval).
func (c *conn) wait(d time.Duration) {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 || c.srv.shutting.Load() || c.ctx.Err() != nil {
			return
		}
		sleepCtx(c.ctx, min(left, 50*time.Millisecond))
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
