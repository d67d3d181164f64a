// auth.go holds the SASL mechanisms the engine offers policy sessions: AUTH LOGIN, AUTH NTLM
// (ntlm.go), AUTH GSSAPI's refusal, and Authenticate's choice between them.

package smtpreceive

import (
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Credentials checks a user name and password; it returns the authenticated identity (the
// mailbox's primary address) or false.
type Credentials func(user, password string) (identity string, ok bool)

// NewLoginServer is AUTH LOGIN: the user name and password prompts are Exchange's (R20, R21:
// "VXNlcm5hbWU6", "UGFzc3dvcmQ6", base64 of "Username:" and "Password:").
func NewLoginServer(check Credentials, done func(identity string, ok bool) *smtpwire.Reply) SASL {
	return &loginServer{check: check, done: done}
}

type loginServer struct {
	check Credentials
	done  func(string, bool) *smtpwire.Reply
	user  []byte
	step  int
}

func (l *loginServer) Next(resp []byte, initial bool) ([]byte, *smtpwire.Reply) {
	switch l.step {
	case 0:
		l.step = 1
		if len(resp) > 0 { // AUTH LOGIN <base64 user>
			l.user, l.step = resp, 2
			return []byte("Password:"), nil
		}
		return []byte("Username:"), nil
	case 1:
		l.user, l.step = resp, 2
		return []byte("Password:"), nil
	}
	id, ok := l.check(string(l.user), string(resp))
	return nil, l.done(id, ok)
}

// User is the user name the client gave, for the protocol log's "User Name:" line.
func (l *loginServer) User() string { return string(l.user) }

// AuthOptions is what policy gives Authenticate: the session's TLS state, the password check of
// LOGIN, the account lookup and target information of NTLM (NTLM is refused when Accounts is
// nil), and done, told the outcome of an exchange before its final reply.
type AuthOptions struct {
	// Verb is "AUTH" (also when empty) or "X-EXPS": X-EXPS offers GSSAPI and NTLM wherever
	// the connector has ExchangeServer (spec §5.2, "X-EXPS GSSAPI NTLM"); of these Authenticate
	// runs NTLM, which then works as AUTH NTLM does (issue 13 point 1). X-EXPS GSSAPI is exlab's
	// server-to-server proof (NewExpsServer), not Authenticate's.
	Verb     string
	TLS      bool
	Check    Credentials
	Accounts NTLMAccounts
	Target   NTLMTarget
	Done     func(identity string, ok bool)
}

// Authenticate starts the exchange of mechanism mech on connector rc, or refuses it. Only the
// mechanisms the connector advertises in this state may be used (authMechanisms, spec §2.3);
// anything else, PLAIN included, which Exchange never offers nor accepts (spec §13.5:
// nodemailer/nodemailer#189), gets R24 after AuthTarpitInterval. LOGIN and NTLM check the
// Mailboxes' lab passwords; a failure is answered R23 after AuthTarpitInterval, a success R22.
// GSSAPI is answered as by an Exchange whose Kerberos tickets cannot be checked (exlab has no
// KDC): see gssapiServer.
func Authenticate(rc *config.ReceiveConnector, mech string, o AuthOptions) (SASL, *smtpwire.Reply) {
	offered := false
	mechs := authMechanisms(rc, o.TLS)
	if o.Verb == "X-EXPS" {
		mechs = nil
		if rc.HasAuth(config.AuthExchangeServer) {
			mechs = []string{"NTLM"}
		}
	}
	for _, m := range mechs {
		offered = offered || m == mech
	}
	finish := func(id string, ok bool) *smtpwire.Reply {
		if o.Done != nil {
			o.Done(id, ok)
		}
		if ok {
			return smtpwire.Fixed("R22")
		}
		return smtpwire.Fixed("R23") // after AuthTarpitInterval: the engine waits (conn.authTarpit)
	}
	switch {
	case offered && mech == "LOGIN" && o.Check != nil:
		return NewLoginServer(o.Check, finish), nil
	case offered && mech == "NTLM" && o.Accounts != nil:
		return NewNTLMServer(o.Target, o.Accounts, finish), nil
	case offered && mech == "GSSAPI":
		return &gssapiServer{done: finish}, nil
	}
	return nil, smtpwire.Fixed("R24")
}

// BasicAuth is Authenticate with LOGIN only: NTLM and GSSAPI are refused with R24.
func BasicAuth(rc *config.ReceiveConnector, tls bool, mech string, check Credentials, done func(identity string, ok bool)) (SASL, *smtpwire.Reply) {
	if mech != "LOGIN" {
		return nil, smtpwire.Fixed("R24")
	}
	return Authenticate(rc, mech, AuthOptions{TLS: tls, Check: check, Done: done})
}

// gssapiServer is AUTH GSSAPI (RFC 4752) on a server without a KDC. A real Exchange answers
// "AUTH GSSAPI" with an empty 334 and waits for the client's Kerberos token (jborean93/pyspnego#88,
// an Exchange 587 session); exlab cannot validate any ticket, so the token fails as a bad ticket
// does, with 535 5.7.3 after AuthTarpitInterval [I: no capture of Exchange's answer to a bad
// token is public; 535 5.7.3 is its answer to every other failed credential].
type gssapiServer struct {
	done     func(string, bool) *smtpwire.Reply
	prompted bool
}

func (g *gssapiServer) Next(resp []byte, initial bool) ([]byte, *smtpwire.Reply) {
	if initial && len(resp) == 0 && !g.prompted {
		g.prompted = true
		return []byte{}, nil
	}
	return nil, g.done("", false)
}
