// exps.go holds X-EXPS, the hub's authentication of a frontend, and Event 1035's text.

package smtpreceive

import (
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"net/netip"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// NewExpsServer returns the server side of X-EXPS: a 32-byte random challenge, then a check of
// the response. done(true) is called before R22 (235 2.7.0) is sent, done(false) before R25
// (454 4.7.0 Temporary authentication failure).
func NewExpsServer(key []byte, done func(ok bool)) SASL {
	return &expsServer{key: key, done: done}
}

type expsServer struct {
	key       []byte
	challenge []byte
	done      func(bool)
}

func (e *expsServer) Next(resp []byte, initial bool) ([]byte, *smtpwire.Reply) {
	if e.challenge == nil {
		e.challenge = make([]byte, 32)
		_, _ = rand.Read(e.challenge)
		return e.challenge, nil
	}
	if !hmac.Equal(resp, smtpwire.ExchangeAuthResponse(e.key, e.challenge)) {
		e.done(false)
		return nil, smtpwire.Fixed("R25")
	}
	e.done(true)
	return nil, smtpwire.Fixed("R22")
}

// Event1035 is the text of Event 1035 for a failed inbound authentication (spec §10).
func Event1035(rc *config.ReceiveConnector, mechanism string, ip netip.Addr) string {
	return fmt.Sprintf("Inbound authentication failed with error LogonDenied for Receive connector %s. "+
		"The authentication mechanism is %s. The source IP address of the client who tried to authenticate to "+
		"Microsoft Exchange is [%s].", rc.Name, mechanism, ip)
}

// EventMechanism is the mechanism as Event 1035 names it (spec §10: "Login", "Gssapi",
// "ExchangeAuth"; "Ntlm" is inferred from the same spelling).
func EventMechanism(mech string) string {
	switch mech {
	case "LOGIN":
		return "Login"
	case "NTLM":
		return "Ntlm"
	case "GSSAPI":
		return "Gssapi"
	}
	return mech
}
