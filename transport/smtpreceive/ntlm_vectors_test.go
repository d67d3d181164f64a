package smtpreceive

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNTLMVectors checks the NTLM computations against the published test vectors of MS-NLMP
// §4.2 (User "User", UserDom "Domain", Password "Password", ServerChallenge 0123456789abcdef,
// ClientChallenge aaaaaaaaaaaaaaaa, Time 0, AV pairs "Domain"/"Server").
func TestNTLMVectors(t *testing.T) {
	server := unhex(t, "01 23 45 67 89 ab cd ef")
	client := unhex(t, "aa aa aa aa aa aa aa aa")
	// §4.2.2.1.2 NTOWFv1.
	if got, want := ntowfv1("Password"), unhex(t, "a4 f4 9c 40 65 10 bd ca b6 82 4e e7 c3 0f d8 52"); !bytes.Equal(got, want) {
		t.Errorf("NTOWFv1 %x, want %x", got, want)
	}
	// §4.2.2.2.1 NTLMv1 response.
	v1 := unhex(t, "67 c4 30 11 f3 02 98 a2 ad 35 ec e6 4f 16 33 1c 44 bd be d9 27 84 1f 94")
	if got := desl(ntowfv1("Password"), server); !bytes.Equal(got, v1) {
		t.Errorf("NTLMv1 response %x, want %x", got, v1)
	}
	// §4.2.3.2.2 NTLM2 session response (extended session security).
	ess := unhex(t, "75 37 f8 03 ae 36 71 28 ca 45 82 04 bd e7 ca f8 1e 97 ed 26 83 26 72 32")
	lmESS := append(append([]byte{}, client...), make([]byte, 16)...)
	// §4.2.4.1.1 NTOWFv2.
	if got, want := ntowfv2(ntowfv1("Password"), "User", "Domain"), unhex(t, "0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f"); !bytes.Equal(got, want) {
		t.Errorf("NTOWFv2 %x, want %x", got, want)
	}
	// §4.2.4.2.2 NTLMv2 response: NTProofStr || temp.
	avs := unhex(t, "02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00 00 00 00 00")
	temp := append(append(append(unhex(t, "01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00"), client...), 0, 0, 0, 0), avs...)
	temp = append(temp, 0, 0, 0, 0)
	proof := unhex(t, "68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c")
	v2 := append(append([]byte{}, proof...), temp...)
	// §4.2.4.2.1 LMv2 response.
	lmv2 := unhex(t, "86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa aa aa aa aa")

	for _, tt := range []struct {
		name     string
		a        ntlmAuthenticate
		flags    uint32
		password string
		want     bool
	}{
		{"NTLMv1", ntlmAuthenticate{nt: v1, user: "User", domain: "Domain"}, ntlmNTLM, "Password", true},
		{"NTLMv1 wrong password", ntlmAuthenticate{nt: v1, user: "User", domain: "Domain"}, ntlmNTLM, "password", false},
		{"NTLM2 session", ntlmAuthenticate{lm: lmESS, nt: ess, user: "User", domain: "Domain"}, ntlmNTLM | ntlmESS, "Password", true},
		{"NTLM2 session without ESS negotiated", ntlmAuthenticate{lm: lmESS, nt: ess, user: "User", domain: "Domain"}, ntlmNTLM, "Password", false},
		{"NTLMv2", ntlmAuthenticate{nt: v2, user: "User", domain: "Domain"}, ntlmNTLM | ntlmESS, "Password", true},
		{"NTLMv2 user name in another case", ntlmAuthenticate{nt: v2, user: "USER", domain: "Domain"}, ntlmNTLM | ntlmESS, "Password", true},
		{"NTLMv2 other domain", ntlmAuthenticate{nt: v2, user: "User", domain: "DOMAIN"}, ntlmNTLM | ntlmESS, "Password", false},
		{"NTLMv2 wrong password", ntlmAuthenticate{nt: v2, user: "User", domain: "Domain"}, ntlmNTLM | ntlmESS, "Passwort", false},
		{"LMv2 only", ntlmAuthenticate{lm: lmv2, user: "User", domain: "Domain"}, ntlmNTLM, "Password", true},
		{"anonymous", ntlmAuthenticate{lm: []byte{0}, user: "User"}, ntlmNTLM, "", false},
	} {
		tt.a.flags = tt.flags
		if got := verifyNTLM(tt.a, server, tt.password); got != tt.want {
			t.Errorf("%s: verify = %v, want %v", tt.name, got, tt.want)
		}
	}
}
