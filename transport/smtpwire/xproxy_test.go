package smtpwire

import "testing"

func TestProxyFromRoundTrip(t *testing.T) {
	tests := []ProxyFrom{
		{SessionID: "08DC42C8FF236A1F", IP: "203.0.113.7", Port: 4711, Helo: "mta.example", Seq: 3, Perms: 15, AuthSrc: "Anonymous"},
		{SessionID: "1", IP: "2001:db8::1", Port: 1, Helo: "we ird=+name", Seq: 1, AuthSrc: "Internal", User: "user1@contoso.test"},
	}
	for _, p := range tests {
		got, err := ParseProxyFrom(p.Format())
		if err != nil || got != p {
			t.Errorf("%q → %+v, %v; want %+v", p.Format(), got, err, p)
		}
	}
	for _, bad := range []string{"", "IP", "IP=1.2.3.4 PORT=x", "IP=1.2.3.4 FOO=1", "IP=1.2.3.4 DOMAIN=a+zz"} {
		if _, err := ParseProxyFrom(bad); err == nil {
			t.Errorf("ParseProxyFrom(%q) accepted", bad)
		}
	}
}

func TestXtext(t *testing.T) {
	for in, want := range map[string]string{"a+b=c d": "a+2Bb+3Dc+20d", "plain": "plain", "\x7f": "+7F"} {
		if got := EncodeXtext(in); got != want {
			t.Errorf("EncodeXtext(%q) = %q, want %q", in, got, want)
		}
		if back, err := DecodeXtext(want); err != nil || back != in {
			t.Errorf("DecodeXtext(%q) = %q, %v", want, back, err)
		}
	}
}
