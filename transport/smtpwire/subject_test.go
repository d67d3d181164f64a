package smtpwire

import (
	"mime"
	"strings"
	"testing"
)

// TestDecodeSubject is RFC 2047 decoding as Outlook and Get-Message show subjects: charsets of
// the standard library and of x/text, adjacent words joined, folded values, malformed words and
// unknown charsets shown as written.
func TestDecodeSubject(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Quarterly figures", "Quarterly figures"},
		{"  padded  ", "padded"},
		{"=?utf-8?B?R3LDvMOfZQ==?=", "Grüße"},
		{"=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=", "Grüße aus Berlin"},
		{"=?iso-8859-1?q?caf=E9?=", "café"},
		{"=?windows-1252?Q?=80_price?=", "€ price"},
		{"=?iso-8859-2?Q?=A3=F3d=BC?=", "Łódź"},
		{"=?koi8-r?B?8NLJ18XU?=", "Привет"},
		{"=?shift_jis?B?k/qWe4zq?=", "日本語"},
		// Two words: the folding whitespace between them is not text (RFC 2047 §6.2).
		{"=?utf-8?B?VW5kZWxpdmVyYWJsZTog?=\r\n =?utf-8?B?R3LDvMOfZQ==?=", "Undeliverable: Grüße"},
		{"=?utf-8?B?VW5kZWxpdmVyYWJsZTog?= =?utf-8?B?R3LDvMOfZQ==?=", "Undeliverable: Grüße"},
		// Text around words keeps its spaces.
		{"Re: =?utf-8?Q?caf=C3=A9?= today", "Re: café today"},
		// A folded ASCII value is unfolded.
		{"a long\r\n subject", "a long subject"},
		// Malformed words are shown raw: bad base64, an unknown encoding letter, an unknown charset.
		{"=?utf-8?B?***?=", "=?utf-8?B?***?="},
		{"=?utf-8?X?abc?=", "=?utf-8?X?abc?="},
		{"=?x-no-such-charset?Q?abc?=", "=?x-no-such-charset?Q?abc?="},
		// A word cannot put a line break into the subject.
		{"=?utf-8?Q?a=0D=0AX-Injected:_b?=", "a  X-Injected: b"},
		// Raw UTF-8 (SMTPUTF8) passes through.
		{"Grüße", "Grüße"},
	} {
		if got := DecodeSubject(tc.in); got != tc.want {
			t.Errorf("DecodeSubject(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestEncodeSubject writes subjects as exlab's NDRs carry them and checks that each decodes
// back (the round trip) and keeps within RFC 2047's line lengths.
func TestEncodeSubject(t *testing.T) {
	long := "Undeliverable: " + strings.Repeat("Überweisung für März ", 8)
	for _, tc := range []struct {
		name, in, want string // want "" = only the round trip and the line lengths are checked
	}{
		{"ascii", "Undeliverable: Quarterly figures", "Undeliverable: Quarterly figures"},
		{"utf-8", "Undeliverable: Grüße", "=?utf-8?B?VW5kZWxpdmVyYWJsZTogR3LDvMOfZQ==?="},
		{"looks encoded", "Undeliverable: =?not?really?=", "=?utf-8?B?VW5kZWxpdmVyYWJsZTogPT9ub3Q/cmVhbGx5Pz0=?="},
		{"long ascii folds at a space", "Undeliverable: " + strings.Repeat("quarterly figures ", 6) + "end",
			"Undeliverable: quarterly figures quarterly figures quarterly figures\r\n quarterly figures quarterly figures quarterly figures end"},
		{"long utf-8 folds into words", long, ""},
		{"emoji stays whole", strings.Repeat("😀", 40), ""},
		{"invalid utf-8", "Undeliverable: caf\xe9", "=?utf-8?B?VW5kZWxpdmVyYWJsZTogY2Fm77+9?="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EncodeSubject(tc.in)
			if tc.want != "" && got != tc.want {
				t.Errorf("EncodeSubject(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			for i, line := range strings.Split("Subject: "+got, "\r\n") {
				if i > 0 && !strings.HasPrefix(line, " ") {
					t.Errorf("continuation line %q does not start with a space", line)
				}
				if max := 78; strings.Contains(got, "=?") && len(line) > encodedWordMax || len(line) > max && strings.Contains(line[1:], " ") {
					t.Errorf("line of %d columns: %q", len(line), line)
				}
			}
			back := DecodeSubject(got)
			if want := strings.ToValidUTF8(tc.in, "\uFFFD"); back != want {
				t.Errorf("round trip: %q decodes to %q, want %q", got, back, want)
			}
			// The standard library's decoder reads it the same way (what any client does).
			dec := new(mime.WordDecoder)
			if std, err := dec.DecodeHeader(strings.ReplaceAll(got, "\r\n", "")); err != nil || std != strings.ToValidUTF8(tc.in, "\uFFFD") {
				t.Errorf("mime.WordDecoder: %q, %v", std, err)
			}
		})
	}
}

// TestSubjectNeverDoubleEncoded: an NDR of an already encoded subject decodes it first, so the
// result holds no encoded-word inside an encoded-word.
func TestSubjectNeverDoubleEncoded(t *testing.T) {
	orig := "=?iso-8859-1?Q?R=E9sum=E9?="
	got := EncodeSubject("Undeliverable: " + DecodeSubject(orig))
	if back := DecodeSubject(got); back != "Undeliverable: Résumé" {
		t.Fatalf("%q decodes to %q", got, back)
	}
	if strings.Contains(DecodeSubject(got), "=?") {
		t.Fatalf("double-encoded: %q", got)
	}
}
