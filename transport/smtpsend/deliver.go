package smtpsend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// SendOptions are the session settings of one send connector (Set-SendConnector).
type SendOptions struct {
	Connector string // the send connector's name, for events
	Helo      string // this server's FQDN
	Timeout   time.Duration
	// STARTTLS is used whenever the next hop offers it (Exchange's opportunistic TLS).
	// RequireTLS refuses a next hop that does not offer it (Event 2015); TLSAuthLevel then
	// says what is checked: EncryptionOnly (nothing), CertificateValidation (the chain, against
	// RootCAs or the system's roots), DomainValidation (the chain and TLSDomain, or the host's
	// name).
	RequireTLS   bool
	TLSAuthLevel config.TlsAuthLevel
	TLSDomain    string
	RootCAs      *x509.CertPool
	// SmartHostAuthMechanism BasicAuth or BasicAuthRequireTLS: AUTH LOGIN with these
	// credentials (BasicAuthRequireTLS only inside TLS).
	AuthMechanism      config.SmartHostAuthMechanism
	UserName, Password string
	Logger             *slog.Logger
	// ProtocolLog receives each session's SmtpSend protocol-log lines when it ends (nil:
	// ProtocolLoggingLevel None).
	ProtocolLog func([]smtpwire.LogLine)
}

// OptionsFor builds the session settings of send connector sc.
func OptionsFor(sc *config.SendConnector, helo string, timeout time.Duration, logger *slog.Logger) SendOptions {
	return SendOptions{Connector: sc.Name, Helo: helo, Timeout: timeout, RequireTLS: sc.RequireTLS,
		TLSAuthLevel: sc.TlsAuthLevel, TLSDomain: sc.TlsDomain, AuthMechanism: sc.SmartHostAuthMechanism,
		UserName: sc.AuthenticationCredential.UserName, Password: sc.AuthenticationCredential.Password, Logger: logger}
}

// SmartHostsOf lists sc's smart hosts as host:port.
func SmartHostsOf(sc *config.SendConnector) []string {
	var hosts []string
	for _, h := range sc.SmartHosts {
		if host, port, err := config.SplitSmartHost(h, sc.Port); err == nil {
			hosts = append(hosts, net.JoinHostPort(host, strconv.Itoa(port)))
		}
	}
	return hosts
}

// Delivery is one message sent through a send connector to its next hops.
type Delivery struct {
	SendOptions
	Hosts   []string // host:port, tried in order (failover)
	From    string
	Rcpts   []string
	Content []byte
	// Sessions, when set, keeps the session open after the message for the next one of
	// Owner (the send connector) to the same host, up to MaxMessagesPerConnection messages
	// (SmtpMaxMessagesPerConnection; 0 is no limit). Without it each message has a session of
	// its own.
	Sessions                 *Sessions
	Owner                    any
	MaxMessagesPerConnection int
}

// RcptResult is what the next hop answered for one recipient.
type RcptResult struct {
	Code int
	Text string // the reply as a line ("550 5.1.1 User unknown"), or the SmtpSend error text
	Host string // the endpoint that answered, ip:port
}

// Deliver sends d with go-smtp's client. Connection failures fail over to the next host; when
// every host fails, each recipient gets Exchange's SmtpSend texts (R70 for a host that
// answered with an error, R71 for one that could not be reached) with a 4xx code.
func Deliver(ctx context.Context, d Delivery) []RcptResult {
	out := make([]RcptResult, len(d.Rcpts))
	p, fail := d.open(ctx)
	if p == nil {
		for i := range out {
			out[i] = fail
		}
		return out
	}
	nh := p.nh
	accepted := 0
	for i, r := range d.Rcpts {
		if out[i] = nh.Rcpt(r); out[i].Code/100 == 2 {
			accepted++
		}
	}
	if accepted == 0 {
		d.release(p, false)
		return out
	}
	final := nh.Data(bytes.NewReader(d.Content))
	d.release(p, nh.dataEnded)
	for i := range out {
		if out[i].Code/100 == 2 {
			out[i] = final
		}
	}
	return out
}

// NextHop is one session to a next hop (a smart host or an MX), driven command by command: the
// hub's send connectors use it through Deliver, and the Outbound Proxy Frontend uses it to
// relay a hub's transaction while passing each reply back.
type NextHop struct {
	c    *smtp.Client
	host string
	log  *sendLog
	// broken: the session failed (a network error, a timeout, or 421): it is not used again.
	broken bool
	// dataEnded: the last Data got the final reply after the content (no RSET needed).
	dataEnded bool
	// raw is the connection under go-smtp's client, for Data's content, and bw its buffer,
	// made on first use and kept for the session's next messages.
	raw io.Writer
	bw  *bufio.Writer
}

// sendError is a failure of the session setup that is not the next hop's reply (TLS, AUTH not
// offered); its text goes into R70's quoted part.
type sendError struct{ text string }

func (e *sendError) Error() string { return e.text }

// OpenNextHop connects to the first host that takes the transaction and starts it with MAIL
// FROM; connection, greeting, TLS and AUTH failures fail over to the next host. When no host
// takes it, it returns nil and the failure for every recipient in Exchange's SmtpSend form.
func OpenNextHop(ctx context.Context, hosts []string, o SendOptions, from string) (*NextHop, RcptResult) {
	var lastErr error = &sendError{"no next hop"}
	var lastHost string
	for _, host := range hosts {
		nh, err := openNextHop(ctx, host, o, from)
		if err == nil {
			return nh, RcptResult{}
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code/100 == 5 && se.Code != 530 && se.Code != 535 {
			// A next hop that refuses the sender refuses the message: no failover for that.
			return nil, RcptResult{Code: se.Code, Text: replyLine(se), Host: host}
		}
		lastErr, lastHost = err, host
	}
	ip, port := splitEndpoint(lastHost)
	var text string
	var se *smtp.SMTPError
	var sendErr *sendError
	var ne net.Error
	switch {
	case errors.As(lastErr, &se):
		text = smtpwire.Render(smtpwire.R70, "reply", replyLine(se), "ip", ip, "port", port).Text
	case errors.As(lastErr, &sendErr):
		text = smtpwire.Render(smtpwire.R70, "reply", sendErr.text, "ip", ip, "port", port).Text
	default:
		winsock := "10061" // WSAECONNREFUSED
		if errors.As(lastErr, &ne) && ne.Timeout() {
			winsock = "10060" // WSAETIMEDOUT
		}
		text = smtpwire.Render("X20", "winsock", winsock, "ip", ip, "port", port).Text
		if o.Logger != nil {
			o.Logger.Debug("next hop unreachable", "connector", o.Connector, "host", lastHost, "err", lastErr)
		}
	}
	code, _ := strconv.Atoi(text[:3])
	return nil, RcptResult{Code: code, Text: text, Host: lastHost}
}

// openNextHop opens one session. exlab reads the greeting and the first EHLO itself to decide
// on STARTTLS (go-smtp's client offers STARTTLS only before its own EHLO, with "localhost"),
// then hands the connection, encrypted or not, to go-smtp's client, which says EHLO again as
// RFC 3207 §4.2 asks after TLS.
func openNextHop(ctx context.Context, host string, o SendOptions, from string) (*NextHop, error) {
	raw, err := (&net.Dialer{Timeout: o.Timeout}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	plog := newSendLog(o, raw)
	var conn net.Conn = raw
	var rawLog *logConn
	if plog != nil {
		rawLog = &logConn{Conn: raw, l: plog}
		conn = rawLog
		plog.add('+', "", "")
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	tp := textproto.NewConn(conn)
	fail := func(err error) (*NextHop, error) {
		conn.Close()
		plog.end()
		return nil, err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fail(asSMTPError(err))
	}
	if _, err := tp.Cmd("EHLO %s", o.Helo); err != nil {
		return fail(err)
	}
	_, ehlo, err := tp.ReadResponse(250)
	if err != nil {
		return fail(asSMTPError(err))
	}
	starttls := false
	for _, l := range strings.Split(ehlo, "\n") {
		starttls = starttls || strings.EqualFold(strings.TrimSpace(l), "STARTTLS")
	}
	hostName, _, _ := net.SplitHostPort(host)
	var next net.Conn = conn
	switch {
	case starttls:
		if _, err := tp.Cmd("STARTTLS"); err != nil {
			return fail(err)
		}
		if _, _, err := tp.ReadResponse(220); err != nil {
			if o.RequireTLS {
				return fail(asSMTPError(err))
			}
			break // offered but refused: go on without TLS, as Exchange does when TLS is not required
		}
		if tp.R.Buffered() > 0 {
			return fail(&sendError{"STARTTLS response followed by pipelined data"})
		}
		if rawLog != nil {
			rawLog.off = true // what follows is TLS; the layer above it logs
		}
		tc := tls.Client(conn, o.tlsConfig(hostName))
		if err := tc.HandshakeContext(ctx); err != nil {
			if o.Logger != nil {
				o.Logger.Debug("TLS negotiation failed", "connector", o.Connector, "host", host, "err", err)
			}
			// The SmtpSend log's line as KB 4495258 shows it: "*,,TLS negotiation failed with
			// error UnknownCredentials".
			if plog != nil {
				plog.add('*', "", "TLS negotiation failed with error "+tlsErrorName(err))
			}
			return fail(&sendError{"TLS negotiation failed with error " + tlsErrorName(err)})
		}
		next = tc
		if plog != nil {
			st := tc.ConnectionState()
			// SmtpSend's lines after the handshake, as an Exchange 2013 SEND log shows them
			// (kbgitbook "AD-Trust" case 17388217, 2019): the negotiation in Schannel's words
			// (SP_PROT_TLS1_2_CLIENT; spec §7.1, §13.15), then the next hop's certificate by its
			// thumbprint.
			var leaf *x509.Certificate
			if len(st.PeerCertificates) > 0 {
				leaf = st.PeerCertificates[0]
			}
			plog.add('*', "", smtpwire.SchannelNegotiation(st, true, leaf))
			if leaf != nil {
				plog.add('*', "", "Received certificate")
				plog.add('*', fmt.Sprintf("%X", sha1.Sum(leaf.Raw)), "Certificate thumbprint")
			}
			next = &logConn{Conn: tc, l: plog}
		}
	case o.RequireTLS:
		if o.Logger != nil {
			// Event 2015, SmtpSendTLSRequiredFailed (TechNet ff982694).
			o.Logger.Error(fmt.Sprintf("Send connector %s couldn't connect to remote domain %s. The send connector requires Transport Layer "+
				"Security (TLS) authentication, but is unable to establish TLS with the receiving server for the remote domain. Check this "+
				"connector's authentication setting and the EHLO response from the remote server %s.", o.Connector, hostName, host),
				"EventID", 2015, "Source", "MSExchangeTransport", "TaskCategory", "SmtpSend")
		}
		// The quoted part is exlab's wording (inferred): Exchange's LastError text for this case
		// is not in the spec.
		return fail(&sendError{"TLS is required by send connector " + o.Connector + ", but the remote server did not offer STARTTLS"})
	}
	_ = conn.SetDeadline(time.Time{})
	g := &greeted{Conn: next}
	prelude := "220 \r\n"
	if next == conn {
		// No TLS: the EHLO already said stands. go-smtp's client says EHLO in Hello; that line
		// is swallowed and answered with the reply the next hop gave, so the next hop sees one
		// EHLO per session as from Exchange (RFC 3207 §4.2 asks for a second only after TLS).
		prelude += ehloReply(ehlo)
		g.swallowEHLO = true
	}
	g.r = bufio.NewReader(io.MultiReader(strings.NewReader(prelude), next))
	c := smtp.NewClient(g)
	c.CommandTimeout, c.SubmissionTimeout = o.Timeout, o.Timeout
	nh := &NextHop{c: c, host: host, log: plog, raw: g}
	if err := c.Hello(o.Helo); err != nil {
		nh.Close()
		return nil, err
	}
	if o.AuthMechanism == config.SmartHostBasicAuth || o.AuthMechanism == config.SmartHostBasicAuthRequireTLS {
		if o.AuthMechanism == config.SmartHostBasicAuthRequireTLS && next == conn {
			nh.Close()
			return nil, &sendError{"Basic authentication requires TLS, but the remote server did not offer STARTTLS"}
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			nh.Close()
			return nil, &sendError{"the remote server does not offer AUTH for basic authentication"}
		}
		if err := c.Auth(sasl.NewLoginClient(o.UserName, o.Password)); err != nil {
			nh.Close()
			return nil, err
		}
	}
	if err := c.Mail(from, nil); err != nil {
		nh.Close()
		return nil, err
	}
	return nh, nil
}

// greeted hands go-smtp's client a connection whose greeting was already read: its reader
// starts with a stand-in "220" line, and, with swallowEHLO, the EHLO reply that answers the
// client's EHLO, which is not sent.
type greeted struct {
	net.Conn
	r           *bufio.Reader
	swallowEHLO bool
}

func (g *greeted) Read(p []byte) (int, error) { return g.r.Read(p) }

func (g *greeted) Write(p []byte) (int, error) {
	if g.swallowEHLO && len(p) > 5 && strings.EqualFold(string(p[:5]), "EHLO ") {
		g.swallowEHLO = false
		return len(p), nil
	}
	return g.Conn.Write(p)
}

// ehloReply rebuilds a 250 reply from textproto's message (its lines joined with "\n").
func ehloReply(msg string) string {
	lines := strings.Split(msg, "\n")
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b.WriteString("250" + sep + l + "\r\n")
	}
	return b.String()
}

func (o SendOptions) tlsConfig(hostName string) *tls.Config {
	// Exchange sends with Schannel on Windows Server 2019: TLS 1.0 to 1.2, Schannel's suites
	// (RSA key exchange included) and curves (spec §13.15).
	cfg := &tls.Config{ServerName: hostName, InsecureSkipVerify: true, MinVersion: smtpwire.SchannelMinVersion,
		MaxVersion: smtpwire.SchannelMaxVersion, CipherSuites: smtpwire.SchannelCipherSuites, CurvePreferences: smtpwire.SchannelCurves}
	level := o.TLSAuthLevel
	if !o.RequireTLS || level == "" {
		level = config.TlsEncryptionOnly
	}
	if level == config.TlsEncryptionOnly {
		return cfg
	}
	name := ""
	if level == config.TlsDomainValidation {
		name = hostName
		if o.TLSDomain != "" {
			name = o.TLSDomain
		}
	}
	roots := o.RootCAs
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		opts := x509.VerifyOptions{Roots: roots, DNSName: name, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
	return cfg
}

// asSMTPError turns a textproto error reply into go-smtp's form.
func asSMTPError(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		se := &smtp.SMTPError{Code: te.Code, Message: te.Msg}
		if parts := strings.SplitN(te.Msg, " ", 2); len(parts) == 2 && strings.Count(parts[0], ".") == 2 {
			var a, b, c int
			if n, _ := fmt.Sscanf(parts[0], "%d.%d.%d", &a, &b, &c); n == 3 {
				se.EnhancedCode, se.Message = smtp.EnhancedCode{a, b, c}, parts[1]
			}
		}
		return se
	}
	return err
}

// Rcpt sends one RCPT and returns the next hop's reply to it.
func (nh *NextHop) Rcpt(to string) RcptResult {
	if err := nh.c.Rcpt(to, nil); err != nil {
		return nh.failure(err)
	}
	return RcptResult{Code: 250, Text: smtpwire.Fixed(smtpwire.R37).Text, Host: nh.host}
}

// Data sends the message and returns the next hop's final reply.
func (nh *NextHop) Data(r io.WriterTo) RcptResult {
	nh.dataEnded = false
	w, err := nh.c.Data()
	if err != nil {
		return nh.failure(err)
	}
	if nh.log != nil {
		nh.log.body = true
		defer func() { nh.log.body = false }()
	}
	if err := nh.writeContent(w, r); err != nil {
		return nh.failure(err)
	}
	resp, err := w.CloseWithResponse()
	var se *smtp.SMTPError
	nh.dataEnded = err == nil || errors.As(err, &se) // the final reply: the transaction is over
	if err != nil {
		return nh.failure(err)
	}
	return RcptResult{Code: 250, Text: "250 " + resp.StatusText, Host: nh.host}
}

// writeContent writes the content of r, dot-stuffed, straight to the connection under
// go-smtp's client, and its last line end through w, go-smtp's DATA writer, so that w's Close
// adds just ".\r\n". go-smtp's writer (net/textproto's DotWriter) goes byte by byte through a
// bufio.Writer: for an NDR that was the largest part of its sending. The content is CRLF text
// (the receive engine stores nothing else, and exlab's own NDRs and DSNs are CRLF).
func (nh *NextHop) writeContent(w io.Writer, r io.WriterTo) error {
	if nh.raw == nil {
		_, err := r.WriteTo(w)
		return err
	}
	if nh.bw == nil {
		nh.bw = bufio.NewWriterSize(nh.raw, 16<<10)
	}
	bw := nh.bw
	sw := &stuffWriter{w: bw, d: dotStuffer{bol: true}}
	if _, err := r.WriteTo(sw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if sw.crlf || !sw.d.bol {
		_, err := io.WriteString(w, "\r\n")
		return err
	}
	// Nothing written (an empty message): w's Close writes the line end itself.
	return nil
}

// stuffWriter dot-stuffs what it is given into w, holding back the line end that ends a write
// (crlf) until more follows: the content's last line end is written by the caller.
type stuffWriter struct {
	w    *bufio.Writer
	d    dotStuffer
	crlf bool
}

func (s *stuffWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.crlf {
		s.d.write(s.w, []byte("\r\n"))
		s.crlf = false
	}
	switch { // the line end is held back (a bare LF becomes CRLF, as DotWriter makes it)
	case len(p) >= 2 && p[len(p)-2] == '\r' && p[len(p)-1] == '\n':
		p, s.crlf = p[:len(p)-2], true
	case len(p) >= 1 && p[len(p)-1] == '\n':
		p, s.crlf = p[:len(p)-1], true
	}
	s.d.write(s.w, p)
	return n, nil
}

// failure is a refusal as the next hop's reply line, or a broken session as a transient
// SmtpSend error.
func (nh *NextHop) failure(err error) RcptResult {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		nh.broken = nh.broken || se.Code == 421
		return RcptResult{Code: se.Code, Text: replyLine(se), Host: nh.host}
	}
	nh.broken = true
	reason := "SocketError"
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		reason = "TimedOut"
	}
	ip, port := splitEndpoint(nh.host)
	return RcptResult{Code: 451, Text: smtpwire.Render("X21", "reason", reason, "ip", ip, "port", port).Text, Host: nh.host}
}

// splitEndpoint splits a dialled "host:port" for the "<ip>:<port>" of Exchange's SmtpSend texts.
func splitEndpoint(hostport string) (ip, port string) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, "25"
	}
	return h, p
}

// Close ends the session with QUIT.
func (nh *NextHop) Close() {
	_ = nh.c.Quit()
	_ = nh.c.Close()
	nh.log.end()
	nh.log = nil
}

func replyLine(se *smtp.SMTPError) string {
	h := hubReply(se)
	return strconv.Itoa(h.Code) + " " + h.Text
}

// tlsErrorName names a failed handshake the way Exchange's "TLS negotiation failed with error …"
// does (Event 2015 and LastError quote it): by the SSPI status .NET's SecurityStatusPalErrorCode
// gives it (UntrustedRoot, WrongPrincipal, CertExpired, IllegalMessage; SocketError for a broken
// connection). Which status a given failure has on Windows is inferred, not captured [I]; the Go
// error goes to the debug log, never into LastError.
func tlsErrorName(err error) string {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return "UntrustedRoot"
	case errors.As(err, &he):
		return "WrongPrincipal"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "CertExpired"
	case errors.As(err, &ci):
		return "IllegalMessage"
	}
	return "SocketError"
}
