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

// TestProxyFromFormat pins the argument's bytes: the hub of an older exlab parses them.
func TestProxyFromFormat(t *testing.T) {
	for _, tc := range []struct {
		p    ProxyFrom
		want string
	}{
		{ProxyFrom{SessionID: "08DC42C8FF236A1F", IP: "203.0.113.7", Port: 4711, Helo: "mta.example", Seq: 3, Perms: 15, AuthSrc: "Anonymous"},
			"SID=08DC42C8FF236A1F IP=203.0.113.7 PORT=4711 DOMAIN=mta.example SEQNUM=3 PERMS=15 AUTHSRC=Anonymous"},
		{ProxyFrom{SessionID: "1", IP: "2001:db8::1", Port: 1, Helo: "we ird=+name", Seq: 1, Perms: 4294967295, AuthSrc: "Internal",
			User: "user1@contoso.test", AuthDomain: "fabrikam.test", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
			"SID=1 IP=2001:db8::1 PORT=1 DOMAIN=we+20ird+3D+2Bname SEQNUM=1 PERMS=4294967295 AUTHSRC=Internal USER=user1@contoso.test " +
				"AUTHDOMAIN=fabrikam.test TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{ProxyFrom{}, "SID= IP= PORT=0 DOMAIN= SEQNUM=0 PERMS=0 AUTHSRC="},
	} {
		if got := tc.p.Format(); got != tc.want {
			t.Errorf("Format() = %q\n want %q", got, tc.want)
		}
	}
}
