package smtpreceive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// authSession is fakeSession with Authenticate over one lab mailbox, user1@contoso.test
// (Name "user1", password "P@ssw0rd"), as the frontend and hub sessions wire it.
type authSession struct {
	fakeSession
	rc     *config.ReceiveConnector
	authed *atomic.Value // string: the identity Done was given
}

func (a *authSession) Auth(ctx context.Context, verb, mech string) (SASL, *smtpwire.Reply) {
	if verb != "AUTH" && mech != "NTLM" {
		return a.fakeSession.Auth(ctx, verb, mech)
	}
	check := func(user, password string) (string, bool) {
		return "user1@contoso.test", (user == "user1@contoso.test" || user == "user1") && password == "P@ssw0rd"
	}
	accounts := func(user, domain string) (string, string, bool) {
		ok := strings.EqualFold(user, "user1@contoso.test") || strings.EqualFold(user, "user1") && (domain == "" || strings.EqualFold(domain, "CONTOSO"))
		return "user1@contoso.test", "P@ssw0rd", ok
	}
	target := NTLMTargetFor(&config.Server{Name: "EX01", Fqdn: "ex01.contoso.test", Version: config.Version2019}, "contoso.test")
	return Authenticate(a.rc, mech, AuthOptions{Verb: verb, TLS: false, Check: check, Accounts: accounts, Target: target,
		Done: func(id string, ok bool) {
			if ok {
				a.authed.Store(id)
			}
		}})
}

// startAuthServer runs the engine on a copy of the named default connector with LOGIN allowed
// before TLS and the protocol log on, edited by edit; it returns the address, the log's
// directory and where the session records the identity it authenticated.
func startAuthServer(t *testing.T, name string, edit ...func(*config.ReceiveConnector)) (addr, logDir string, authed *atomic.Value) {
	t.Helper()
	rc := *connector(t, name)
	rc.Bindings = []config.Binding{{Addr: netip.MustParseAddr("127.0.0.1"), Port: 0}}
	rc.TarpitInterval, rc.AuthTarpitInterval = 0, 0
	rc.AuthMechanism = []config.AuthMechanism{config.AuthTls, config.AuthIntegrated, config.AuthBasicAuth}
	rc.ProtocolLoggingLevel = config.LoggingVerbose
	for _, e := range edit {
		e(&rc)
	}
	logDir = t.TempDir()
	plog := smtpwire.NewProtocolLog(logDir, false, smtpwire.ProtocolLogOptions{})
	authed = new(atomic.Value)
	authed.Store("")
	be := &fakeBackend{refuse: map[string]*smtpwire.Reply{}}
	s := &Server{Role: rc.TransportRole, Version: config.Version2019, ProtocolLog: plog,
		Select: func(cs []*config.ReceiveConnector, _ netip.Addr) *config.ReceiveConnector { return cs[0] },
		NewSession: func(ci *ConnInfo) Session {
			return &authSession{fakeSession: fakeSession{srv: be}, rc: &rc, authed: authed}
		}}
	ls, errs := s.Listen([]*config.ReceiveConnector{&rc}, 0, false)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	s.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		plog.Close()
	})
	return ls[0].Addr.String(), logDir, authed
}

// smtpTalk is a line-at-a-time client for exchanges whose next line depends on the last reply.
type smtpTalk struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialTalk(t *testing.T, addr string) *smtpTalk {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	k := &smtpTalk{t: t, c: c, br: bufio.NewReader(c)}
	k.reply() // banner
	return k
}

// reply reads one reply and returns its last line.
func (k *smtpTalk) reply() string {
	k.t.Helper()
	for {
		l, err := k.br.ReadString('\n')
		if err != nil {
			k.t.Fatalf("read: %v", err)
		}
		if len(l) > 3 && l[3] == '-' {
			continue
		}
		return strings.TrimSuffix(l, "\r\n")
	}
}

func (k *smtpTalk) cmd(line string) string {
	k.t.Helper()
	if _, err := k.c.Write([]byte(line + "\r\n")); err != nil {
		k.t.Fatal(err)
	}
	return k.reply()
}

// expect sends line and fails unless the reply is want.
func (k *smtpTalk) expect(line, want string) {
	k.t.Helper()
	if got := k.cmd(line); got != want {
		k.t.Fatalf("%.60s:\n got %q\nwant %q", line, got, want)
	}
}

// The test client's NTLM messages (MS-NLMP §2.2.1). Windows 10's NEGOTIATE flags: UNICODE, OEM,
// REQUEST_TARGET, SIGN, SEAL, LM_KEY, NTLM, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, VERSION,
// 128, KEY_EXCH, 56 (0xe20882b7, as in MS-SMTPNTLM's example "TlRMTVNTUAABAAAAt4II4g...").
func ntlmNegotiate(flags uint32) []byte {
	m := make([]byte, 40)
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 1)
	binary.LittleEndian.PutUint32(m[12:], flags)
	copy(m[32:], []byte{10, 0, 0x63, 0x45, 0, 0, 0, 0x0f})
	return m
}

type challengeMsg struct {
	flags      uint32
	challenge  []byte
	targetName string
	info       []byte
	avs        map[uint16][]byte
	version    []byte
}

func parseChallenge(t *testing.T, b []byte) challengeMsg {
	t.Helper()
	if len(b) < 56 || !bytes.Equal(b[:8], ntlmSignature) || binary.LittleEndian.Uint32(b[8:]) != 2 {
		t.Fatalf("not a CHALLENGE_MESSAGE: %x", b)
	}
	field := func(at int) []byte {
		l, off := binary.LittleEndian.Uint16(b[at:]), binary.LittleEndian.Uint32(b[at+4:])
		return b[off : off+uint32(l)]
	}
	m := challengeMsg{flags: binary.LittleEndian.Uint32(b[20:]), challenge: b[24:32], targetName: fromUTF16le(field(12)),
		info: field(40), avs: map[uint16][]byte{}, version: b[48:56]}
	for i := 0; i+4 <= len(m.info); {
		id, l := binary.LittleEndian.Uint16(m.info[i:]), int(binary.LittleEndian.Uint16(m.info[i+2:]))
		m.avs[id] = m.info[i+4 : i+4+l]
		i += 4 + l
		if id == 0 {
			break
		}
	}
	return m
}

// ntlmAuthenticateMsg builds the AUTHENTICATE_MESSAGE for one of the three response kinds.
func ntlmAuthenticateMsg(ch challengeMsg, kind, domain, user, password string) []byte {
	cc := []byte{0xaa, 0xbb, 0xcc, 0xdd, 0x11, 0x22, 0x33, 0x44}
	var lm, nt []byte
	switch kind {
	case "v2":
		temp := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, ch.avs[7]...)
		temp = append(append(append(temp, cc...), 0, 0, 0, 0), ch.info...)
		temp = append(temp, 0, 0, 0, 0)
		key := ntowfv2(ntowfv1(password), user, domain)
		nt = append(hmacMD5(key, ch.challenge, temp), temp...)
		lm = append(hmacMD5(key, ch.challenge, cc), cc...)
	case "v1":
		nt = desl(ntowfv1(password), ch.challenge)
		lm = nt
	case "ess":
		h := md5.Sum(append(append([]byte{}, ch.challenge...), cc...))
		nt = desl(ntowfv1(password), h[:8])
		lm = append(append([]byte{}, cc...), make([]byte, 16)...)
	}
	payload := [][]byte{lm, nt, utf16le(domain), utf16le(user), utf16le("WS01"), nil}
	m := make([]byte, 72)
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 3)
	off := len(m)
	for i, p := range payload {
		putField(m[12+8*i:], len(p), off)
		off += len(p)
	}
	flags := ch.flags
	if kind == "v1" {
		flags &^= ntlmESS
	}
	binary.LittleEndian.PutUint32(m[60:], flags)
	for _, p := range payload {
		m = append(m, p...)
	}
	return m
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// ntlmLogin runs AUTH NTLM (or, with verb, X-EXPS NTLM) with the initial NEGOTIATE on the command line or (initial false)
// after "334 NTLM supported", and returns the final reply.
func ntlmLogin(t *testing.T, k *smtpTalk, initial bool, kind, domain, user, password string) string {
	return ntlmVerbLogin(t, k, "AUTH", initial, kind, domain, user, password)
}

func ntlmVerbLogin(t *testing.T, k *smtpTalk, verb string, initial bool, kind, domain, user, password string) string {
	t.Helper()
	neg := b64(ntlmNegotiate(0xe20882b7))
	var r string
	if initial {
		r = k.cmd(verb + " NTLM " + neg)
	} else {
		if r = k.cmd(verb + " NTLM"); r != "334 NTLM supported" {
			t.Fatalf("AUTH NTLM: %q, want 334 NTLM supported (MS-SMTPNTLM §2.2.1.2)", r)
		}
		r = k.cmd(neg)
	}
	if !strings.HasPrefix(r, "334 ") {
		t.Fatalf("NEGOTIATE answered %q", r)
	}
	raw, err := base64.StdEncoding.DecodeString(r[4:])
	if err != nil {
		t.Fatal(err)
	}
	return k.cmd(b64(ntlmAuthenticateMsg(parseChallenge(t, raw), kind, domain, user, password)))
}

// TestNTLMChallengeTargetInfo decodes the CHALLENGE_MESSAGE as nmap's smtp-ntlm-info does
// (spec §13.4) and checks each name the organization gives it, the version and the flags.
func TestNTLMChallengeTargetInfo(t *testing.T) {
	for _, tt := range []struct {
		version config.ExchangeVersion
		ver     []byte
	}{
		{config.Version2019, []byte{10, 0, 0x63, 0x45, 0, 0, 0, 0x0f}}, // 10.0.17763, NTLM revision 15
		{config.Version2016, []byte{6, 3, 0x80, 0x25, 0, 0, 0, 0x0f}},  // 6.3.9600
	} {
		n := NewNTLMServer(NTLMTargetFor(&config.Server{Name: "ex01", Fqdn: "Ex01.contoso.test", Version: tt.version}, "contoso.test"),
			nil, nil).(*ntlmServer)
		before := time.Now()
		raw, final := n.Next(ntlmNegotiate(0xe20882b7), true)
		if final != nil {
			t.Fatalf("final %q", final.Text)
		}
		ch := parseChallenge(t, raw)
		if !bytes.Equal(ch.version, tt.ver) {
			t.Errorf("%s: version %x, want %x", tt.version, ch.version, tt.ver)
		}
		if ch.targetName != "CONTOSO" {
			t.Errorf("TargetName %q", ch.targetName)
		}
		for id, want := range map[uint16]string{2: "CONTOSO", 1: "EX01", 4: "contoso.test", 3: "Ex01.contoso.test", 5: "contoso.test"} {
			if got := fromUTF16le(ch.avs[id]); got != want {
				t.Errorf("AV pair %d = %q, want %q", id, got, want)
			}
		}
		var order []uint16
		for i := 0; i+4 <= len(ch.info); i += 4 + int(binary.LittleEndian.Uint16(ch.info[i+2:])) {
			order = append(order, binary.LittleEndian.Uint16(ch.info[i:]))
		}
		if got := order; len(got) != 7 || got[0] != 2 || got[1] != 1 || got[2] != 4 || got[3] != 3 || got[4] != 5 || got[5] != 7 || got[6] != 0 {
			t.Errorf("AV pair order %v, want Windows' [2 1 4 3 5 7 0]", got)
		}
		ts := time.Unix(0, (int64(binary.LittleEndian.Uint64(ch.avs[7]))-116444736000000000)*100)
		if ts.Before(before.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("MsvAvTimestamp %v", ts)
		}
		want := uint32(ntlmUnicode | ntlmReqTarget | ntlmSign | ntlmSeal | ntlmNTLM | ntlmAlwaysSign | ntlmTypeDomain | ntlmESS |
			ntlmTargetInfo | ntlmVersion | ntlm128 | ntlmKeyExchange | ntlm56)
		if ch.flags != want {
			t.Errorf("flags %#x, want %#x", ch.flags, want)
		}
		raw2, _ := NewNTLMServer(NTLMTarget{}, nil, nil).Next(ntlmNegotiate(0xe20882b7), true)
		if bytes.Equal(parseChallenge(t, raw2).challenge, ch.challenge) {
			t.Error("two sessions got the same server challenge")
		}
	}
}

// TestAuthNTLMTranscripts: NTLMv2, NTLMv1 and the NTLM2 session response as .NET, curl and
// Authen::NTLM send them, in every user-name form, and the failures.
func TestAuthNTLMTranscripts(t *testing.T) {
	addr, _, authed := startAuthServer(t, "Default Frontend EX01")
	for _, tt := range []struct {
		name                   string
		initial                bool
		kind, domain, user, pw string
		want                   string
	}{
		{"v2 DOMAIN user", true, "v2", "CONTOSO", "user1", "P@ssw0rd", "235 2.7.0 Authentication successful"},
		{"v2 UPN", false, "v2", "", "user1@contoso.test", "P@ssw0rd", "235 2.7.0 Authentication successful"},
		{"v1 without initial response", false, "v1", "CONTOSO", "User1", "P@ssw0rd", "235 2.7.0 Authentication successful"},
		{"NTLM2 session response", true, "ess", "", "user1", "P@ssw0rd", "235 2.7.0 Authentication successful"},
		{"v2 wrong password", true, "v2", "CONTOSO", "user1", "nope", "535 5.7.3 Authentication unsuccessful"},
		{"v1 wrong password", false, "v1", "CONTOSO", "user1", "nope", "535 5.7.3 Authentication unsuccessful"},
		{"unknown user", true, "v2", "CONTOSO", "user2", "P@ssw0rd", "535 5.7.3 Authentication unsuccessful"},
		{"other domain", true, "v2", "FABRIKAM", "user1", "P@ssw0rd", "535 5.7.3 Authentication unsuccessful"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			authed.Store("")
			k := dialTalk(t, addr)
			k.cmd("EHLO client.example")
			if got := ntlmLogin(t, k, tt.initial, tt.kind, tt.domain, tt.user, tt.pw); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			ok := strings.HasPrefix(tt.want, "235")
			if ok != (authed.Load() == "user1@contoso.test") {
				t.Errorf("session told %q", authed.Load())
			}
			if ok {
				k.expect("AUTH NTLM", "503 5.5.2 Already authenticated")
			}
			k.expect("NOOP", "250 2.0.0 OK")
		})
	}
}

// TestExpsNTLM: NTLM inside X-EXPS GSSAPI NTLM, where Exchange offers it (ExchangeServer on the
// connector), is the same exchange as AUTH NTLM (issue 13 point 1); a connector without
// ExchangeServer does not know X-EXPS.
func TestExpsNTLM(t *testing.T) {
	addr, _, authed := startAuthServer(t, "Default Frontend EX01", func(rc *config.ReceiveConnector) {
		rc.AuthMechanism = append(rc.AuthMechanism, config.AuthExchangeServer)
	})
	k := dialTalk(t, addr)
	k.cmd("EHLO client.example")
	if got := ntlmVerbLogin(t, k, "X-EXPS", false, "v2", "CONTOSO", "user1", "nope"); got != "535 5.7.3 Authentication unsuccessful" {
		t.Fatalf("wrong password: %q", got)
	}
	if got := ntlmVerbLogin(t, k, "X-EXPS", true, "v2", "CONTOSO", "user1", "P@ssw0rd"); got != "235 2.7.0 Authentication successful" || authed.Load() != "user1@contoso.test" {
		t.Fatalf("got %q, session told %q", got, *authed)
	}

	addr, _, _ = startAuthServer(t, "Client Frontend EX01")
	transcript(t, addr, banner+`
		C: EHLO client.example
		S+ 250 SMTPUTF8
		C: X-EXPS NTLM
		S: 500 5.3.3 Unrecognized command`)
}

// TestAuthRefusalsAndBadLines: AUTH PLAIN as on Exchange (spec §13.5), GSSAPI without a KDC, and
// a SASL line that cannot be used ends the exchange with one reply; the next line is a command
// (issue 13 point 9).
func TestAuthRefusalsAndBadLines(t *testing.T) {
	addr, _, _ := startAuthServer(t, "Client Frontend EX01")
	long := strings.Repeat("QUFB", 2000) // 8000 bytes, beyond the 4096-byte line limit
	for _, tt := range []struct{ name, script string }{
		{"PLAIN with an initial response", `
			C: AUTH PLAIN AHVzZXIxQGNvbnRvc28udGVzdABQQHNzdzByZA==
			S: 504 5.7.4 Unrecognized authentication type
			C: NOOP
			S: 250 2.0.0 OK`},
		{"PLAIN without", `
			C: AUTH PLAIN
			S: 504 5.7.4 Unrecognized authentication type
			C: AUTH CRAM-MD5
			S: 504 5.7.4 Unrecognized authentication type`},
		{"GSSAPI", `
			C: AUTH GSSAPI
			S: 334 
			C: YIIBhwYJKoZIhvcSAQICAQBuggF2MIIBcqADAgEF
			S: 535 5.7.3 Authentication unsuccessful
			C: NOOP
			S: 250 2.0.0 OK`},
		{"GSSAPI with an initial token", `
			C: AUTH GSSAPI YIIBhwYJKoZIhvcSAQICAQBuggF2MIIBcqADAgEF
			S: 535 5.7.3 Authentication unsuccessful`},
		{"bad base64, then a command", `
			C: AUTH LOGIN
			S: 334 VXNlcm5hbWU6
			C: not base64!
			S: 501 5.5.2 Cannot decode response
			C: NOOP
			S: 250 2.0.0 OK`},
		{"over-long line, then a command", `
			C: AUTH LOGIN
			S: 334 VXNlcm5hbWU6
			C: ` + long + `
			S: 501 5.5.2 Cannot decode response
			C: dXNlcjFAY29udG9zby50ZXN0
			S: 500 5.3.3 Unrecognized command 'dXNlcjFAY29udG9zby50ZXN0'
			C: NOOP
			S: 250 2.0.0 OK`},
		{"over-long NTLM line", `
			C: AUTH NTLM
			S: 334 NTLM supported
			C: ` + long + `
			S: 501 5.5.2 Cannot decode response
			C: NOOP
			S: 250 2.0.0 OK`},
		{"cancelled", `
			C: AUTH NTLM
			S: 334 NTLM supported
			C: *
			S: 501 5.5.2 Cannot decode response
			C: NOOP
			S: 250 2.0.0 OK`},
		{"bad initial response", `
			C: AUTH NTLM %%%
			S: 501 5.5.2 Cannot decode response
			C: NOOP
			S: 250 2.0.0 OK`},
		{"NTLM garbage instead of a NEGOTIATE", `
			C: AUTH NTLM aGVsbG8=
			S: 535 5.7.3 Authentication unsuccessful
			C: NOOP
			S: 250 2.0.0 OK`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			transcript(t, addr, banner+"\nC: EHLO client.example\nS+ 250 SMTPUTF8\n"+tt.script)
		})
	}
}

// TestAuthProtocolLog compares the protocol-log lines of AUTH exchanges with the capture of spec
// §13.18 (artefacts.help, a 2016 frontend): the command without its initial response, one
// "334 <authentication response>" per challenge, no client lines, and on failure two LogonDenied
// lines and the user name under one sequence number.
func TestAuthProtocolLog(t *testing.T) {
	addr, dir, _ := startAuthServer(t, "Default Frontend EX01")
	k := dialTalk(t, addr)
	k.cmd("EHLO client.example")
	k.expect("AUTH LOGIN dXNlcjFAY29udG9zby50ZXN0", "334 UGFzc3dvcmQ6")
	k.expect("bm9wZQ==", "535 5.7.3 Authentication unsuccessful")
	if got := ntlmLogin(t, k, true, "v2", "CONTOSO", "user1", "wrong"); !strings.HasPrefix(got, "535") {
		t.Fatal(got)
	}
	if got := ntlmLogin(t, k, false, "v2", "CONTOSO", "user1", "P@ssw0rd"); !strings.HasPrefix(got, "235") {
		t.Fatal(got)
	}
	k.expect("QUIT", "221 2.0.0 Service closing transmission channel")
	var lines []smtpwire.LogLine
	deadline := time.Now().Add(5 * time.Second)
	for len(lines) == 0 || lines[len(lines)-1].Event != '-' {
		if time.Now().After(deadline) {
			t.Fatalf("no complete session in the log: %+v", lines)
		}
		time.Sleep(20 * time.Millisecond)
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		lines = nil
		for _, f := range files { // two when the test crosses the hour
			ls, _ := smtpwire.ParseProtocolLog(f)
			lines = append(lines, ls...)
		}
	}
	var got []string
	seq := map[int]int{}
	for _, l := range lines {
		got = append(got, string(l.Event)+","+l.Data+","+l.Context)
		seq[l.Seq]++
	}
	text := strings.Join(got, "\n")
	for _, w := range []string{
		"<,AUTH LOGIN,\n>,334 <authentication response>,\n*,,Inbound AUTH LOGIN failed because of LogonDenied\n" +
			"*,,Inbound AUTH LOGIN failed because of LogonDenied\n*,,User Name: user1@contoso.test\n>,535 5.7.3 Authentication unsuccessful,\n",
		"<,AUTH NTLM,\n>,334 <authentication response>,\n*,,Inbound AUTH NTLM failed because of LogonDenied\n" +
			"*,,Inbound AUTH NTLM failed because of LogonDenied\n*,,User Name: CONTOSO\\user1\n>,535 5.7.3 Authentication unsuccessful,\n",
		"<,AUTH NTLM,\n>,334 <authentication response>,\n>,334 <authentication response>,\n>,235 2.7.0 Authentication successful,\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("no\n%s\nin the log:\n%s", w, text)
		}
	}
	for _, bad := range []string{"dXNlcjFA", "bm9wZQ", "TlRMTVNT", "<,<authentication response>"} {
		if strings.Contains(text, bad) {
			t.Errorf("%q is in the log:\n%s", bad, text)
		}
	}
	// One sequence number for the three failure lines, a number of its own for every other.
	for i, l := range lines {
		shared := l.Event == '*' && (strings.Contains(l.Context, "LogonDenied") || strings.HasPrefix(l.Context, "User Name:"))
		if n := seq[l.Seq]; shared && n != 3 || !shared && n != 1 {
			t.Errorf("line %d %q: sequence number %d used %d times", i, got[i], l.Seq, n)
		}
	}
	if os.Getenv("NTLM_LOG") != "" {
		t.Log(text)
	}
}

// FuzzNTLMMessages feeds arbitrary NEGOTIATE and AUTHENTICATE messages to the NTLM server: it
// must never panic and never authenticate without the password.
func FuzzNTLMMessages(f *testing.F) {
	f.Add(ntlmNegotiate(0xe20882b7), []byte("NTLMSSP\x00\x03\x00\x00\x00"))
	f.Add([]byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2"), bytes.Repeat([]byte{0xff}, 80))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, negotiate, authenticate []byte) {
		accounts := func(user, domain string) (string, string, bool) { return "user1@contoso.test", "P@ssw0rd", true }
		n := NewNTLMServer(NTLMTarget{NetBIOSDomain: "CONTOSO"}, accounts, func(id string, ok bool) *smtpwire.Reply {
			if ok {
				t.Errorf("authenticated %q with a fuzzed message", id)
			}
			return smtpwire.Fixed("R23")
		})
		if _, final := n.Next(negotiate, true); final != nil && final.Code() != 334 {
			return
		}
		n.Next(authenticate, false)
		n.Next(authenticate, false)
	})
}

// TestNTLMMaxLogonFailures: NTLM failures count toward MaxLogonFailures like LOGIN's; the last one
// is answered R26 and ends the session.
func TestNTLMMaxLogonFailures(t *testing.T) {
	addr, _, _ := startAuthServer(t, "Default Frontend EX01", func(rc *config.ReceiveConnector) { rc.MaxLogonFailures = 2 })
	k := dialTalk(t, addr)
	k.cmd("EHLO client.example")
	if got := ntlmLogin(t, k, true, "v2", "CONTOSO", "user1", "nope"); got != "535 5.7.3 Authentication unsuccessful" {
		t.Fatal(got)
	}
	if got := ntlmLogin(t, k, false, "v1", "CONTOSO", "user1", "nope"); got != "421 4.7.0 Too many errors on this connection, closing transmission channel" {
		t.Fatal(got)
	}
	if l, err := k.br.ReadString('\n'); err == nil {
		t.Errorf("the session is still open: %q", l)
	}
}
