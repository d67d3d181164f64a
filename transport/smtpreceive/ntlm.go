// ntlm.go holds AUTH NTLM: an NTLMSSP server (MS-NLMP) that answers a NEGOTIATE_MESSAGE with a
// CHALLENGE_MESSAGE carrying Exchange's target information, and verifies the client's
// AUTHENTICATE_MESSAGE (NTLMv2, NTLMv1 and the NTLM2 session response) against the Mailboxes'
// lab passwords. The SMTP framing is MS-SMTPNTLM's.

package smtpreceive

import (
	"bytes"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf16"

	//lint:ignore SA1019 NTLM's NT hash is MD4 by definition (MS-NLMP §3.3.1): compatibility, not security
	"golang.org/x/crypto/md4"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// NTLMTarget is what the CHALLENGE_MESSAGE tells a client about the server (MS-NLMP §2.2.1.2,
// §2.2.2.1, §2.2.2.10): the names nmap's smtp-ntlm-info prints as NetBIOS_Domain_Name,
// NetBIOS_Computer_Name, DNS_Domain_Name, DNS_Computer_Name, DNS_Tree_Name and
// Product_Version (spec §13.4).
type NTLMTarget struct {
	NetBIOSDomain   string // CONTOSO; also the TargetName
	NetBIOSComputer string // EX01
	DNSDomain       string // contoso.test
	DNSComputer     string // ex01.contoso.test
	DNSTree         string // the forest: contoso.test
	// The Windows version in the VERSION structure: 10.0.17763 is Windows Server 2019.
	Major, Minor byte
	Build        uint16
}

// NTLMTargetFor derives the target information from the organization as a domain-joined
// Exchange server reports it: the NetBIOS domain is the first label of the default accepted
// domain upper-cased, the computer name the server's Name upper-cased, the DNS computer name the
// server's FQDN as configured, the DNS domain that FQDN without its first label, and the forest
// (DNS_Tree_Name) the same domain, as nmap's smtp-ntlm-info shows them for an Exchange server
// (HTB "Rabbit", Exchange 2010: Target_Name HTB, NetBIOS_Computer_Name RABBIT, DNS_Computer_Name
// Rabbit.htb.local, DNS_Domain_Name and DNS_Tree_Name htb.local). The Windows version follows the
// profile: Exchange 2019 runs on Windows Server 2019 (10.0.17763); 2013 and 2016 labs report
// Windows Server 2012 R2, whose NTLM version nmap prints as 6.3.9600 (rdp-ntlm-info captures of
// 2012 R2 hosts; type-2 version bytes 06 03 80 25 in "334 NTLM supported" telnet sessions).
func NTLMTargetFor(srv *config.Server, defaultDomain string) NTLMTarget {
	if srv == nil {
		srv = &config.Server{}
	}
	t := NTLMTarget{NetBIOSComputer: strings.ToUpper(srv.Name), DNSComputer: srv.Fqdn, Major: 10, Minor: 0, Build: 17763}
	if _, rest, ok := strings.Cut(t.DNSComputer, "."); ok {
		t.DNSDomain = rest
	}
	t.DNSTree = t.DNSDomain
	label, _, _ := strings.Cut(defaultDomain, ".")
	if label == "" {
		label, _, _ = strings.Cut(t.DNSDomain, ".")
	}
	t.NetBIOSDomain = strings.ToUpper(label)
	if t.NetBIOSComputer == "" {
		first, _, _ := strings.Cut(t.DNSComputer, ".")
		t.NetBIOSComputer = strings.ToUpper(first)
	}
	if srv.Version == config.Version2013 || srv.Version == config.Version2016 {
		t.Major, t.Minor, t.Build = 6, 3, 9600
	}
	return t
}

// NTLMAccounts finds the mailbox an NTLM user name stands for: user and domain are the
// AUTHENTICATE_MESSAGE's UserName and DomainName. It returns the identity to authenticate as
// (the primary address) and the lab password the response must have been computed with.
type NTLMAccounts func(user, domain string) (identity, password string, ok bool)

// NEGOTIATE flags (MS-NLMP §2.2.2.5).
const (
	ntlmUnicode     = 0x00000001
	ntlmOEM         = 0x00000002
	ntlmReqTarget   = 0x00000004
	ntlmSign        = 0x00000010
	ntlmSeal        = 0x00000020
	ntlmLMKey       = 0x00000080
	ntlmNTLM        = 0x00000200
	ntlmAlwaysSign  = 0x00008000
	ntlmTypeDomain  = 0x00010000
	ntlmESS         = 0x00080000
	ntlmTargetInfo  = 0x00800000
	ntlmVersion     = 0x02000000
	ntlm128         = 0x20000000
	ntlmKeyExchange = 0x40000000
	ntlm56          = 0x80000000
)

var ntlmSignature = []byte("NTLMSSP\x00")

// NewNTLMServer is AUTH NTLM (MS-SMTPNTLM §3.2.5): "AUTH NTLM" alone is answered
// "334 NTLM supported" (X30) and the NEGOTIATE_MESSAGE follows; "AUTH NTLM <negotiate>" gets
// the CHALLENGE_MESSAGE at once. The AUTHENTICATE_MESSAGE is then checked; done is called with
// the result and returns the final reply, as for LOGIN.
func NewNTLMServer(target NTLMTarget, accounts NTLMAccounts, done func(identity string, ok bool) *smtpwire.Reply) SASL {
	return &ntlmServer{target: target, accounts: accounts, done: done, now: time.Now}
}

type ntlmServer struct {
	target    NTLMTarget
	accounts  NTLMAccounts
	done      func(string, bool) *smtpwire.Reply
	now       func() time.Time
	flags     uint32 // negotiated, as sent in the CHALLENGE_MESSAGE
	challenge []byte
	user      string
}

// User is the user name of the AUTHENTICATE_MESSAGE, DOMAIN\user when it names a domain, for the
// protocol log's "User Name:" line.
func (n *ntlmServer) User() string { return n.user }

func (n *ntlmServer) Next(resp []byte, initial bool) ([]byte, *smtpwire.Reply) {
	if n.challenge == nil {
		if initial && len(resp) == 0 {
			// MS-SMTPNTLM §2.2.1.2: SMTP_NTLM_Supported_Response, then the client's negotiate.
			n.challenge = []byte{}
			return nil, smtpwire.Fixed("X30")
		}
		flags, ok := parseNegotiate(resp)
		if !ok {
			return nil, n.done("", false)
		}
		return n.challengeMessage(flags), nil
	}
	if len(n.challenge) == 0 {
		flags, ok := parseNegotiate(resp)
		if !ok {
			return nil, n.done("", false)
		}
		return n.challengeMessage(flags), nil
	}
	a, ok := parseAuthenticate(resp)
	if !ok {
		return nil, n.done("", false)
	}
	n.user = a.user
	if a.domain != "" {
		n.user = a.domain + `\` + a.user
	}
	id, password, found := n.accounts(a.user, a.domain)
	if !found || !verifyNTLM(a, n.challenge, password) {
		return nil, n.done("", false)
	}
	return nil, n.done(id, true)
}

// parseNegotiate reads a NEGOTIATE_MESSAGE's flags (MS-NLMP §2.2.1.1).
func parseNegotiate(b []byte) (uint32, bool) {
	if len(b) < 16 || !bytes.Equal(b[:8], ntlmSignature) || binary.LittleEndian.Uint32(b[8:]) != 1 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[12:]), true
}

// challengeMessage builds the CHALLENGE_MESSAGE (MS-NLMP §2.2.1.2) for a client's flags: the
// flags Windows answers with (those the client asked for among the ones it supports, plus
// NTLM, TARGET_TYPE_DOMAIN, TARGET_INFO and VERSION), TargetName the NetBIOS domain, a random
// server challenge and the AV pairs in Windows' order (MS-NLMP §2.2.2.1): MsvAvNbDomainName,
// MsvAvNbComputerName, MsvAvDnsDomainName, MsvAvDnsComputerName, MsvAvDnsTreeName,
// MsvAvTimestamp, MsvAvEOL.
func (n *ntlmServer) challengeMessage(client uint32) []byte {
	f := uint32(ntlmReqTarget | ntlmNTLM | ntlmTypeDomain | ntlmTargetInfo | ntlmVersion)
	if client&ntlmUnicode != 0 {
		f |= ntlmUnicode
	} else {
		f |= ntlmOEM
	}
	f |= client & (ntlmSign | ntlmSeal | ntlmAlwaysSign | ntlm128 | ntlmKeyExchange | ntlm56)
	if client&ntlmESS != 0 {
		f |= ntlmESS // ESS wins over LM_KEY (MS-NLMP §2.2.2.5, flag P)
	}
	n.flags = f
	n.challenge = make([]byte, 8)
	_, _ = rand.Read(n.challenge)

	str := func(s string) []byte {
		if f&ntlmUnicode != 0 {
			return utf16le(s)
		}
		return []byte(strings.ToUpper(s))
	}
	var info bytes.Buffer
	av := func(id uint16, v []byte) {
		_ = binary.Write(&info, binary.LittleEndian, [2]uint16{id, uint16(len(v))})
		info.Write(v)
	}
	t := n.target
	av(2, utf16le(t.NetBIOSDomain))
	av(1, utf16le(t.NetBIOSComputer))
	av(4, utf16le(t.DNSDomain))
	av(3, utf16le(t.DNSComputer))
	av(5, utf16le(t.DNSTree))
	ts := make([]byte, 8)
	binary.LittleEndian.PutUint64(ts, fileTime(n.now()))
	av(7, ts)
	av(0, nil)

	name := str(t.NetBIOSDomain)
	const header = 56
	m := make([]byte, header, header+len(name)+info.Len())
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	putField(m[12:], len(name), header)
	binary.LittleEndian.PutUint32(m[20:], f)
	copy(m[24:32], n.challenge)
	putField(m[40:], info.Len(), header+len(name))
	m[48], m[49] = t.Major, t.Minor
	binary.LittleEndian.PutUint16(m[50:], t.Build)
	m[55] = 0x0F // NTLMSSP_REVISION_W2K3
	m = append(m, name...)
	return append(m, info.Bytes()...)
}

func putField(b []byte, length, offset int) {
	binary.LittleEndian.PutUint16(b, uint16(length))
	binary.LittleEndian.PutUint16(b[2:], uint16(length))
	binary.LittleEndian.PutUint32(b[4:], uint32(offset))
}

// fileTime is t as a Windows FILETIME: 100 ns ticks since 1601-01-01 UTC.
func fileTime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

// ntlmAuthenticate is what the server needs of an AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3).
type ntlmAuthenticate struct {
	lm, nt       []byte
	domain, user string
	flags        uint32
}

func parseAuthenticate(b []byte) (ntlmAuthenticate, bool) {
	var a ntlmAuthenticate
	if len(b) < 64 || !bytes.Equal(b[:8], ntlmSignature) || binary.LittleEndian.Uint32(b[8:]) != 3 {
		return a, false
	}
	field := func(at int) ([]byte, bool) {
		l, off := int(binary.LittleEndian.Uint16(b[at:])), int(binary.LittleEndian.Uint32(b[at+4:]))
		if off < 0 || off > len(b) || l > len(b)-off {
			return nil, false
		}
		return b[off : off+l], true
	}
	flags := binary.LittleEndian.Uint32(b[60:])
	str := func(v []byte) string {
		if flags&ntlmUnicode != 0 {
			return fromUTF16le(v)
		}
		return string(v)
	}
	var ok [4]bool
	var dom, usr []byte
	a.lm, ok[0] = field(12)
	a.nt, ok[1] = field(20)
	dom, ok[2] = field(28)
	usr, ok[3] = field(36)
	if ok != [4]bool{true, true, true, true} {
		return a, false
	}
	a.domain, a.user, a.flags = str(dom), str(usr), flags
	return a, a.user != ""
}

// verifyNTLM checks the client's response with the password (MS-NLMP §3.3): an NT response
// longer than 24 bytes is NTLMv2, 24 bytes NTLMv1 or, when the AUTHENTICATE_MESSAGE's flags
// keep extended session security (MS-NLMP §3.2.5.1.2 reads them from that message), the NTLM2
// session response. Anonymous (empty) responses never pass.
func verifyNTLM(a ntlmAuthenticate, challenge []byte, password string) bool {
	flags := a.flags
	nthash := ntowfv1(password)
	switch {
	case len(a.nt) > 24:
		// NTLMv2 (§3.3.2): NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || temp).
		key := ntowfv2(nthash, a.user, a.domain)
		proof := hmacMD5(key, challenge, a.nt[16:])
		return subtle.ConstantTimeCompare(proof, a.nt[:16]) == 1
	case len(a.nt) == 24:
		c := challenge
		if flags&ntlmESS != 0 && len(a.lm) >= 8 {
			// NTLM2 session response (§3.3.1): the client challenge is LmChallengeResponse[0:8].
			h := md5.Sum(append(append([]byte{}, challenge...), a.lm[:8]...))
			c = h[:8]
		}
		return subtle.ConstantTimeCompare(desl(nthash, c), a.nt) == 1
	case len(a.nt) == 0 && len(a.lm) == 24:
		// LMv2 only (§3.3.2): HMAC_MD5(NTOWFv2, ServerChallenge || ClientChallenge) || CC.
		key := ntowfv2(nthash, a.user, a.domain)
		return subtle.ConstantTimeCompare(hmacMD5(key, challenge, a.lm[16:]), a.lm[:16]) == 1
	}
	return false
}

// ntowfv1 is MD4(UNICODE(password)) (MS-NLMP §3.3.1).
func ntowfv1(password string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return h.Sum(nil)
}

// ntowfv2 is HMAC_MD5(NTOWFv1, UNICODE(Uppercase(user) || domain)) (MS-NLMP §3.3.2).
func ntowfv2(nthash []byte, user, domain string) []byte {
	return hmacMD5(nthash, utf16le(strings.ToUpper(user)+domain))
}

func hmacMD5(key []byte, parts ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// desl is DESL (MS-NLMP §6): the 16-byte key padded to 21 bytes, split in three 7-byte DES keys,
// each encrypting the 8-byte data.
func desl(key, data []byte) []byte {
	k := make([]byte, 21)
	copy(k, key)
	out := make([]byte, 0, 24)
	for i := 0; i < 3; i++ {
		c, _ := des.NewCipher(desKey(k[i*7 : i*7+7]))
		block := make([]byte, 8)
		c.Encrypt(block, data)
		out = append(out, block...)
	}
	return out
}

// desKey spreads 56 key bits over 8 bytes, the low bit of each left for parity (which DES ignores).
func desKey(k []byte) []byte {
	return []byte{
		k[0],
		k[0]<<7 | k[1]>>1,
		k[1]<<6 | k[2]>>2,
		k[2]<<5 | k[3]>>3,
		k[3]<<4 | k[4]>>4,
		k[4]<<3 | k[5]>>5,
		k[5]<<2 | k[6]>>6,
		k[6] << 1,
	}
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

func fromUTF16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
