package smtpreceive

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestDotReader covers dot-unstuffing, the only end of data (<CRLF>.<CRLF>), bare line endings
// normalised to CRLF, and the smuggling sequences of RELIABILITY §6 row 5: none of them may end
// the message, so what follows them stays content.
func TestDotReader(t *testing.T) {
	tests := []struct {
		name, in, body, rest string
	}{
		{"plain", "a\r\nb\r\n.\r\nNEXT", "a\r\nb\r\n", "NEXT"},
		{"empty message", ".\r\nNEXT", "", "NEXT"},
		{"dot stuffed", "..x\r\n..\r\n.\r\n", ".x\r\n.\r\n", ""},
		{"dot inside line", "a.b\r\n.\r\n", "a.b\r\n", ""},
		{"LF.LF smuggling", "a\n.\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"LF.CRLF smuggling", "a\n.\r\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CRLF.LF smuggling", "a\r\n.\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CR.CR smuggling", "a\r.\rMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CR.CRLF smuggling", "a\r.\r\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CRLF.CR smuggling", "a\r\n.\rMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"bare LF lines", "a\nb\r\n.\r\n", "a\r\nb\r\n", ""},
		{"bare LF then dot is content", "a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", ""},
		{"bare CR", "a\rb\r\n.\r\n", "a\r\nb\r\n", ""},
		{"CR CR LF", "a\r\r\n.\r\n", "a\r\n\r\n", ""},
		{"long line", strings.Repeat("x", 100000) + "\r\n.\r\n", strings.Repeat("x", 100000) + "\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			d := newDotReader(br, 0)
			got, err := io.ReadAll(d)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if string(got) != tt.body {
				t.Errorf("body\n got %q\nwant %q", got, tt.body)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tt.rest {
				t.Errorf("after the terminator got %q, want %q", rest, tt.rest)
			}
		})
	}
}

func TestDotReaderLimitAndEOF(t *testing.T) {
	in := strings.Repeat("0123456789\r\n", 100) + ".\r\nQUIT\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	d := newDotReader(br, 500)
	_, err := io.ReadAll(d)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if err := d.drain(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "QUIT\r\n" {
		t.Errorf("drain stopped at %q", rest)
	}

	d = newDotReader(bufio.NewReader(strings.NewReader("no terminator\r\n.")), 0)
	if _, err := io.ReadAll(d); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a cut-off body gave %v, want io.ErrUnexpectedEOF (never io.EOF: it must not be stored)", err)
	}
}

func TestNormalizer(t *testing.T) {
	tests := []struct {
		chunks []string
		want   string
	}{
		{[]string{"a\r\nb"}, "a\r\nb"},
		{[]string{"a\r", "\nb"}, "a\r\nb"},
		{[]string{"a\r", "b"}, "a\r\nb"},
		{[]string{"a\n", "b\r"}, "a\r\nb\r\n"},
		{[]string{"\r\r\n"}, "\r\n\r\n"},
	}
	for _, tt := range tests {
		var z normalizer
		var out []byte
		for _, c := range tt.chunks {
			out = z.appendTo(out, []byte(c))
		}
		out = z.flush(out)
		if string(out) != tt.want {
			t.Errorf("%q: got %q, want %q", tt.chunks, out, tt.want)
		}
	}
}

func FuzzDotReader(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", "\n.\n", "..\r\n.\r\n", "\r.\r\n.\r\n", ".\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d := newDotReader(bufio.NewReaderSize(strings.NewReader(in), 16), 1<<20)
		out, err := io.ReadAll(d)
		if err == nil {
			// A message that ended must have ended at CRLF.CRLF (or start with .CRLF), and
			// its body must contain no bare CR or LF.
			if !strings.HasPrefix(in, ".\r\n") && !strings.Contains(in, "\r\n.\r\n") {
				t.Fatalf("ended without <CRLF>.<CRLF>: %q", in)
			}
			s := strings.ReplaceAll(string(out), "\r\n", "")
			if strings.ContainsAny(s, "\r\n") {
				t.Fatalf("bare line ending in output %q", out)
			}
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"FROM:<a@b.c>", "FROM:<>", "FROM: <@x,@y:a@b> SIZE=5", `FROM:<"a b"@c>`, "FROM:<a@b@c>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, _, err := parsePath(s, "FROM:", false)
		if err == nil && strings.ContainsAny(addr, "\x00\r\n") {
			t.Fatalf("accepted %q", addr)
		}
	})
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		arg, addr, params string
		err               error
	}{
		{"TO:<user1@contoso.test>", "user1@contoso.test", "", nil},
		{"to: <user1@contoso.test> NOTIFY=NEVER", "user1@contoso.test", "NOTIFY=NEVER", nil},
		{"TO:<@relay.example:user1@contoso.test>", "user1@contoso.test", "", nil},
		{`TO:<"x@other"@contoso.test>`, `"x@other"@contoso.test`, "", nil},
		{"TO:<x%other@contoso.test>", "x%other@contoso.test", "", nil},
		{"TO:<victim@relay-probe.invalid@contoso.test>", "", "", errInvalidAddress},
		{"TO:<a@[192.0.2.1]>", "a@[192.0.2.1]", "", nil},
		{"TO:<a\x00b@contoso.test>", "", "", errInvalidAddress},
		{"TO:<a@b..c>", "", "", errInvalidAddress},
		// Without angle brackets, as Exchange takes it (spec §13.2).
		{"TO:user1@contoso.test", "user1@contoso.test", "", nil},
		{"to: user1@contoso.test NOTIFY=NEVER", "user1@contoso.test", "NOTIFY=NEVER", nil},
		{"TO: a@@contoso.test", "", "", errInvalidAddress},
		{"TO: ", "", "", errSyntax},
		{"TO:<user1@contoso.test", "", "", errSyntax},
		{"FROM:<a@b>", "", "", errSyntax},
		{"TO:<>", "", "", nil},
		{"TO:<" + strings.Repeat("a", 65) + "@b.c>", "", "", errInvalidAddress},
	}
	for _, tt := range tests {
		addr, params, err := parsePath(tt.arg, "TO:", false)
		if !errors.Is(err, tt.err) || addr != tt.addr || params != tt.params {
			t.Errorf("parsePath(%q) = %q, %q, %v; want %q, %q, %v", tt.arg, addr, params, err, tt.addr, tt.params, tt.err)
		}
	}
}

func TestMailParams(t *testing.T) {
	all := extensions{size: true, dsn: true, eightBit: true, binary: true, utf8: true}
	tests := []struct {
		params string
		ext    extensions
		ok     bool
		want   MailOptions
	}{
		{"SIZE=1000 BODY=8BITMIME", all, true, MailOptions{Size: 1000, Body: "8BITMIME"}},
		{"RET=HDRS ENVID=QQ+2B1", all, true, MailOptions{Return: "HDRS", EnvelopeID: "QQ+1"}},
		{"SMTPUTF8", all, true, MailOptions{SMTPUTF8: true}},
		{"SIZE=abc", all, false, MailOptions{}},
		{"SIZE=-1", all, false, MailOptions{}},
		{"SIZE=18446744073709551617", all, false, MailOptions{}},
		{"BODY=BINARYMIME", extensions{}, false, MailOptions{}},
		{"RET=FULL", extensions{}, false, MailOptions{}},
		{"FOO=bar", all, false, MailOptions{}},
	}
	for _, tt := range tests {
		got, err := parseMailParams(tt.params, tt.ext)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseMailParams(%q) = %+v, %v", tt.params, got, err)
		}
	}
	r, err := parseRcptParams("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c", all)
	if err != nil || len(r.Notify) != 2 || r.OrcptType != "RFC822" || r.OrcptAddress != "a+b@c" {
		t.Errorf("parseRcptParams: %+v %v", r, err)
	}
	if _, err := parseRcptParams("NOTIFY=NEVER,FAILURE", all); err == nil {
		t.Error("NOTIFY=NEVER with others accepted")
	}
}

// FuzzDotReaderFastPath: the fast path decodes exactly as the byte-by-byte state machine does,
// whatever the input and however the buffer splits it.
func FuzzDotReaderFastPath(f *testing.F) {
	for _, s := range []string{"a\r\nb\r\n.\r\n", "\r\n..\r\n\r\n.\r\n", "x\ry\n\r\n.\r\n", "abc\r", ".\r\n"} {
		f.Add(s, uint8(16))
	}
	f.Fuzz(func(t *testing.T, in string, size uint8) {
		decode := func(noFast bool) (string, error) {
			d := newDotReader(bufio.NewReaderSize(strings.NewReader(in), 16+int(size)), 0)
			d.noFast = noFast
			var out []byte
			buf := make([]byte, 7+int(size)%50)
			for {
				n, err := d.Read(buf)
				out = append(out, buf[:n]...)
				if err == io.EOF {
					return string(out), nil
				}
				if err != nil {
					return string(out), err
				}
			}
		}
		fast, ferr := decode(false)
		slow, serr := decode(true)
		if fast != slow || (ferr == nil) != (serr == nil) {
			t.Fatalf("input %q: fast %q %v, reference %q %v", in, fast, ferr, slow, serr)
		}
	})
}

func TestIsCRLF(t *testing.T) {
	for in, want := range map[string]bool{"": true, "a\r\nb": true, "a\r\n\r\n": true, "a\r": true, "a\n": false,
		"\n": false, "a\rb": false, "a\r\r\n": false} {
		if got := isCRLF([]byte(in)); got != want {
			t.Errorf("isCRLF(%q) = %v", in, got)
		}
	}
}

// TestBodyReaderLimits: MaxHeaderSize and MaxHopCount are applied while the header block goes
// by, whatever the read sizes, and stop at the blank line.
func TestBodyReaderLimits(t *testing.T) {
	recv := func(n int) string { return strings.Repeat("Received: from a by b; date\r\n", n) }
	for _, c := range []struct {
		name    string
		msg     string
		hdr     int64
		hops    int
		wantErr error
	}{
		{"small", "Subject: x\r\n\r\nbody\r\n", 100, 5, nil},
		{"header over the limit", "X: " + strings.Repeat("h", 200) + "\r\n\r\nbody\r\n", 100, 5, ErrHeaderTooLarge},
		{"a large body is not a header", "Subject: x\r\n\r\n" + strings.Repeat("b", 1000), 100, 5, nil},
		{"no header at all", "\r\n" + strings.Repeat("b", 1000), 100, 5, nil},
		{"hops at the limit", recv(5) + "\r\nbody\r\n", 0, 5, nil},
		{"one hop too many", recv(6) + "\r\nbody\r\n", 0, 5, ErrHopCount},
		{"any case", strings.ToUpper(recv(3)) + "received: x\r\n\r\n", 0, 3, ErrHopCount},
		{"not a Received: field", "X-Received: a\r\nReceivedx: b\r\nSubject: received: c\r\n\r\n", 0, 1, nil},
		{"Received: in the body", "Subject: x\r\n\r\n" + recv(10), 0, 5, nil},
		{"no limits", recv(100) + "\r\n", 0, 0, nil},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(c.msg)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			br := &bodyReader{r: r, hdrLimit: c.hdr, hopLimit: c.hops}
			_, err := io.Copy(io.Discard, br)
			if !errors.Is(err, c.wantErr) && !(err == nil && c.wantErr == nil) {
				t.Errorf("%s (one byte reads %v): %v, want %v", c.name, oneByte, err, c.wantErr)
			}
		}
	}
}
