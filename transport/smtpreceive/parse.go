// parse.go holds the command parser: verbs, paths and MAIL/RCPT parameters.

package smtpreceive

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/exlab/exlab/transport/smtpwire"
)

// Command is one parsed command line.
type Command struct {
	Verb string // upper-cased
	Word string // the verb as the client wrote it (the token of R90's reply)
	Arg  string // the rest of the line after one space, untrimmed on the right
}

// parseCommand splits a command line (without CRLF) into verb and argument.
func parseCommand(line string) Command {
	verb, arg, _ := strings.Cut(line, " ")
	return Command{Verb: strings.ToUpper(verb), Word: verb, Arg: arg}
}

// MailOptions are the parameters of MAIL FROM the engine understands (RFC 1870, 6152, 3030,
// 6531, 3461).
type MailOptions struct {
	Size       int64  // SIZE=, 0 if absent
	Body       string // BODY= value upper-cased: 7BIT, 8BITMIME, BINARYMIME, or ""
	SMTPUTF8   bool
	Return     string // RET=FULL|HDRS
	EnvelopeID string // ENVID, decoded from xtext
	Auth       string // AUTH=, decoded from xtext
}

// RcptOptions are the DSN parameters of RCPT TO (RFC 3461).
type RcptOptions struct {
	Notify        []string // NEVER, or any of SUCCESS, FAILURE, DELAY
	OrcptType     string   // ORCPT address type, e.g. rfc822
	OrcptAddress  string   // ORCPT address, decoded from xtext
	RawParameters string
}

var (
	errSyntax         = errors.New("syntax error")
	errInvalidAddress = errors.New("invalid address")
)

// parsePath parses "FROM:<path> params" or "TO:<path> params". It accepts the space some
// clients put after the colon. It returns the mailbox (source route removed, RFC 5321 §3.6.1:
// the final mailbox is what counts) and the parameter string.
func parsePath(arg, prefix string, utf8OK bool) (addr, params string, err error) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", "", errSyntax
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		// Exchange takes a path without angle brackets ("MAIL FROM: info@example.ru", "mail
		// from:user@contoso.com"), with or without the space, as the address up to the first
		// space (spec §13.2: pastebin HTZgbKXd, KB 2866822, Microsoft's telnet doc until 2018).
		path, params, _ := strings.Cut(rest, " ")
		if path == "" {
			return "", "", errSyntax
		}
		rest = "<" + path + ">" + " " + params
	}
	// Find the closing bracket outside a quoted string.
	end := -1
	inQuote := false
	for i := 1; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '>' && !inQuote:
			end = i
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return "", "", errSyntax
	}
	path := rest[1:end]
	params = strings.TrimSpace(rest[end+1:])
	if path == "" {
		return "", params, nil
	}
	if path[0] == '@' {
		// A-d-l source route: "@a,@b:user@domain".
		i := strings.IndexByte(path, ':')
		if i < 0 {
			return "", "", errInvalidAddress
		}
		path = path[i+1:]
	}
	if err := checkMailbox(path, utf8OK); err != nil {
		return "", "", err
	}
	return path, params, nil
}

// checkMailbox validates Local-part "@" Domain per RFC 5321 §4.1.2 (with RFC 6531 UTF-8 when
// utf8OK). It refuses NUL, CR, LF and other controls anywhere, an unquoted '@' in the local part
// (RELIABILITY §5.1 "Addresses"), and over-long parts (64/255, RFC 5321 §4.5.3.1).
func checkMailbox(s string, utf8OK bool) error {
	if !utf8.ValidString(s) {
		return errInvalidAddress
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (!utf8OK && r > 0x7e) {
			return errInvalidAddress
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return errInvalidAddress
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || len(domain) > 255 {
		return errInvalidAddress
	}
	if strings.HasPrefix(local, `"`) {
		if len(local) < 2 || !strings.HasSuffix(local, `"`) {
			return errInvalidAddress
		}
		q := local[1 : len(local)-1]
		for i := 0; i < len(q); i++ {
			if q[i] == '\\' {
				i++
				continue
			}
			if q[i] == '"' {
				return errInvalidAddress
			}
		}
	} else {
		if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
			return errInvalidAddress
		}
		for _, r := range local {
			if r < 0x80 && !isAtext(byte(r)) && r != '.' {
				return errInvalidAddress
			}
		}
	}
	return checkDomain(domain, utf8OK)
}

func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDomain accepts a domain name or an address literal ([192.0.2.1], [IPv6:…]).
func checkDomain(d string, utf8OK bool) error {
	if strings.HasPrefix(d, "[") {
		if !strings.HasSuffix(d, "]") || len(d) < 3 {
			return errInvalidAddress
		}
		return nil
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return errInvalidAddress
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errInvalidAddress
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || (utf8OK && r > 0x7f)
			if !ok {
				return errInvalidAddress
			}
		}
	}
	return nil
}

// validHelo checks the EHLO/HELO argument: a domain or an address literal (RFC 5321 §4.1.1.1),
// or nothing at all: Exchange answers a bare EHLO/HELO with its full reply (spec §13.1: SANS
// SEC560's netcat session with a 2019 server, Microsoft Q&A 1193037, KB 2866822). Anything else
// gets 501 5.5.4 Invalid domain name (R16).
func validHelo(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return true
	}
	if strings.ContainsAny(s, " \t") {
		return false
	}
	if strings.HasPrefix(s, "[") {
		return strings.HasSuffix(s, "]") && len(s) > 2
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// parseMailParams parses the ESMTP parameters of MAIL FROM. Unknown parameters, and parameters
// of extensions the connector does not advertise, are refused.
func parseMailParams(params string, ext extensions) (MailOptions, error) {
	var o MailOptions
	for _, p := range strings.Fields(params) {
		k, v, hasV := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "SIZE":
			if !ext.size || !hasV {
				return o, errSyntax
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return o, errSyntax
			}
			o.Size = n
		case "BODY":
			switch b := strings.ToUpper(v); {
			case b == "7BIT", b == "8BITMIME" && ext.eightBit, b == "BINARYMIME" && ext.binary:
				o.Body = b
			default:
				return o, errSyntax
			}
		case "SMTPUTF8":
			if !ext.utf8 || hasV {
				return o, errSyntax
			}
			o.SMTPUTF8 = true
		case "RET":
			r := strings.ToUpper(v)
			if !ext.dsn || (r != "FULL" && r != "HDRS") || o.Return != "" {
				return o, errSyntax
			}
			o.Return = r
		case "ENVID":
			d, err := decodeXtext(v)
			if !ext.dsn || err != nil || len(d) > 100 {
				return o, errSyntax
			}
			o.EnvelopeID = d
		case "AUTH":
			d, err := decodeXtext(v)
			if err != nil {
				return o, errSyntax
			}
			o.Auth = d
		default:
			return o, errSyntax
		}
	}
	return o, nil
}

// parseRcptParams parses the DSN parameters of RCPT TO.
func parseRcptParams(params string, ext extensions) (RcptOptions, error) {
	o := RcptOptions{RawParameters: params}
	for _, p := range strings.Fields(params) {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "NOTIFY":
			if !ext.dsn || o.Notify != nil {
				return o, errSyntax
			}
			for _, n := range strings.Split(strings.ToUpper(v), ",") {
				switch n {
				case "NEVER", "SUCCESS", "FAILURE", "DELAY":
				default:
					return o, errSyntax
				}
				o.Notify = append(o.Notify, n)
			}
			if len(o.Notify) > 1 {
				for _, n := range o.Notify {
					if n == "NEVER" {
						return o, errSyntax
					}
				}
			}
		case "ORCPT":
			t, a, ok := strings.Cut(v, ";")
			if !ext.dsn || !ok || t == "" {
				return o, errSyntax
			}
			d, err := decodeXtext(a)
			if err != nil {
				return o, errSyntax
			}
			o.OrcptType, o.OrcptAddress = strings.ToUpper(t), d // address types are case-insensitive (RFC 3461 §4.2)
		default:
			return o, errSyntax
		}
	}
	return o, nil
}

// decodeXtext decodes RFC 3461 xtext ("+2B" for '+').
func decodeXtext(s string) (string, error) {
	d, err := smtpwire.DecodeXtext(s)
	if err != nil {
		return "", errSyntax
	}
	return d, nil
}
