// sasl.go holds the pieces of the AUTH exchange that are not a mechanism: reading a SASL
// response line (readSASLLine) and the protocol-log lines of a failed exchange.

package smtpreceive

import (
	"bufio"
	"encoding/base64"
	"errors"
	"strings"
)

// errSASLLine is a SASL response that cannot be used: longer than the engine's line limit, not
// base64, or the client's "*" (RFC 4954 §4).
var errSASLLine = errors.New("smtpreceive: bad SASL response line")

// readSASLLine reads the client's response to a 334 and decodes it. Unlike readLine it does not
// answer an over-long line itself and go on reading: the exchange ends with the one reply the
// caller sends (issue 13 point 9), and the line after it is read as a command, never as a SASL
// response. Replies waiting in the writer (the 334) are flushed first.
func (c *conn) readSASLLine() ([]byte, error) {
	if c.br.Buffered() == 0 {
		if err := c.flush(); err != nil {
			return nil, err
		}
	}
	b, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = c.br.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return nil, errSASLLine
	}
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if string(b) == "*" {
		return nil, errSASLLine
	}
	resp, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return nil, errSASLLine
	}
	return resp, nil
}

// saslUser is a mechanism that knows the user name the client gave (LOGIN, NTLM).
type saslUser interface{ User() string }

// logAuthFailure writes a failed exchange's lines as Exchange 2013+ does (spec §13.18, the
// artefacts.help capture of a 2016 frontend, code index id 7199878465): the LogonDenied line
// twice and the user name, all three under one sequence number.
func (c *conn) logAuthFailure(mech string, sasl SASL) {
	if !c.plogOn {
		return
	}
	lines := []string{"Inbound AUTH " + mech + " failed because of LogonDenied", "Inbound AUTH " + mech + " failed because of LogonDenied"}
	if u, ok := sasl.(saslUser); ok && u.User() != "" {
		lines = append(lines, "User Name: "+u.User())
	}
	for i, l := range lines {
		if i > 0 {
			c.plogSeq--
		}
		c.logLine('*', "", l)
	}
}

// LogAuthenticated writes the lines a successful AUTH leaves in the protocol log before its 235,
// as a real RECV log shows them (the Exchange 2013 log quoted in Veritas article 100038601,
// supportenterprisevault.cloud.com: "*,SMTPSubmit … SMTPAcceptXShadow,Set Session Permissions"
// then "*,CWLAB\_svcacct,authenticated"): the session's rights as their log tokens, then the
// account as DOMAIN\user. Policy calls it from the exchange's Done, with the rights it has just
// granted.
func LogAuthenticated(e Engine, rights string, t NTLMTarget, identity string) {
	if e == nil || !e.Logging() {
		return
	}
	user, _, _ := strings.Cut(identity, "@")
	e.Info(rights, "Set Session Permissions")
	e.Info(t.NetBIOSDomain+`\`+user, "authenticated")
}
