// auth.go holds the SASL mechanisms the engine offers policy sessions: AUTH PLAIN, AUTH LOGIN
// and BasicAuth's choice between them.

package smtpreceive

import (
	"bytes"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Credentials checks a user name and password; it returns the authenticated identity (the
// mailbox's primary address) or false.
type Credentials func(user, password string) (identity string, ok bool)

// NewPlainServer is AUTH PLAIN (RFC 4616): one response "authzid\0authcid\0password", given on
// the command line or after an empty 334. done is called with the result before the final reply
// is chosen, and returns that reply (235 2.7.0 or 535 5.7.3, after any tarpit).
func NewPlainServer(check Credentials, done func(identity string, ok bool) *smtpwire.Reply) SASL {
	return &plainServer{check: check, done: done}
}

type plainServer struct {
	check    Credentials
	done     func(string, bool) *smtpwire.Reply
	prompted bool
}

func (p *plainServer) Next(resp []byte, initial bool) ([]byte, *smtpwire.Reply) {
	if resp == nil && !p.prompted {
		p.prompted = true
		return []byte{}, nil
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return nil, p.done("", false)
	}
	id, ok := p.check(string(parts[1]), string(parts[2]))
	return nil, p.done(id, ok)
}

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

// BasicAuth starts AUTH PLAIN or LOGIN on connector rc, or refuses: a mechanism the connector
// does not offer in this state (LOGIN before STARTTLS with BasicAuthRequireTLS, spec §2.3) and
// the Integrated mechanisms exlab does not implement (NTLM, GSSAPI) get R24 after
// AuthTarpitInterval. PLAIN is accepted wherever LOGIN is offered, though only LOGIN is
// advertised, as on Exchange (spec §5.2 [I]). done is told the outcome; a failure is answered
// R23 after AuthTarpitInterval, a success R22.
func BasicAuth(rc *config.ReceiveConnector, tls bool, mech string, check Credentials, done func(identity string, ok bool)) (SASL, *smtpwire.Reply) {
	offered := false
	for _, m := range authMechanisms(rc, tls) {
		offered = offered || m == "LOGIN"
	}
	finish := func(id string, ok bool) *smtpwire.Reply {
		done(id, ok)
		if ok {
			return smtpwire.Fixed("R22")
		}
		time.Sleep(rc.AuthTarpitInterval.Duration())
		return smtpwire.Fixed("R23")
	}
	switch {
	case offered && mech == "LOGIN":
		return NewLoginServer(check, finish), nil
	case offered && mech == "PLAIN":
		return NewPlainServer(check, finish), nil
	}
	time.Sleep(rc.AuthTarpitInterval.Duration())
	return nil, smtpwire.Fixed("R24")
}
