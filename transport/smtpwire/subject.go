package smtpwire

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
)

// Subjects as people read them and as Exchange writes them (issue 13, point 8). A Subject
// field travels RFC 2047-encoded when it is not ASCII ("=?utf-8?B?…?=", "=?iso-8859-2?Q?…?="),
// folded over several lines; Outlook, Get-Message, the message tracking log's message-subject
// and exlab's mailbox list show the decoded text. DecodeSubject is that decoding, EncodeSubject
// the way back for the subjects exlab writes itself (NDRs, DSNs).
//
// Charsets beyond the three the standard library knows (utf-8, iso-8859-1, us-ascii) come from
// golang.org/x/text's WHATWG index (windows-1252, iso-8859-2, koi8-r, shift_jis, gb18030,
// big5, euc-kr …): the one module outside the standard library this package imports.

// subjectDecoder decodes encoded-words in every charset x/text knows by name.
var subjectDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("smtpwire: unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(input), nil
}}

// DecodeSubject returns a Subject field's value (as read from the header block, folded or
// unfolded) as a person reads it: unfolded, its RFC 2047 encoded-words decoded, the whitespace
// between two adjacent encoded-words dropped (RFC 2047 §6.2). A malformed encoded-word stays as
// written, as Outlook shows it; so does the whole value when a word names a charset nobody
// knows. Raw 8-bit text (SMTPUTF8) passes through; control characters a word decodes to
// become spaces.
func DecodeSubject(v string) string {
	v = unfold(v)
	if !strings.Contains(v, "=?") {
		return v
	}
	s, err := subjectDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	// A subject is one line: control characters an encoded-word carried (=0D=0A) become
	// spaces, so that no log, table or DSN text gets a line the sender wrote into it.
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func unfold(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return strings.TrimSpace(v)
	}
	v = strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v)
	return strings.TrimSpace(v)
}

// subjectFold is the column Exchange folds header lines at (spec §9.1: about 78 columns);
// encodedWordMax is RFC 2047 §2's limit on one encoded-word's line.
const (
	subjectFold    = 78
	encodedWordMax = 76
	subjectName    = len("Subject: ")
)

// EncodeSubject returns what follows "Subject: " for the text s: s itself when it is ASCII
// (folded at a space before column 78), else s as RFC 2047 B encoded-words in UTF-8, each line
// within RFC 2047's 76 columns, one word a line, continuation lines starting with a space.
// Text that would read as an encoded-word ("=?") is encoded too, so that a decoder shows it as
// written. Give it decoded text (DecodeSubject first): an encoded subject is never encoded twice
// that way. Invalid UTF-8 becomes U+FFFD.
//
// Exchange's own MIME writer is not public; B over the whole value in UTF-8 is what Exchange
// 2016/2019 messages carry for non-ASCII subjects [I].
func EncodeSubject(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if isPlain(s) {
		return foldASCII(s)
	}
	const pre, post = "=?utf-8?B?", "?="
	var b strings.Builder
	limit := encodedWordMax - subjectName // the first word shares its line with "Subject: "
	for len(s) > 0 {
		// The longest run of whole characters whose word fits the line.
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if len(pre)+base64.StdEncoding.EncodedLen(n+size)+len(post) > limit {
				break
			}
			n += size
		}
		if n == 0 { // cannot happen with limits this wide; never loop forever
			_, n = utf8.DecodeRuneInString(s)
		}
		if b.Len() > 0 {
			b.WriteString("\r\n ")
		}
		b.WriteString(pre + base64.StdEncoding.EncodeToString([]byte(s[:n])) + post)
		s = s[n:]
		limit = encodedWordMax - 1
	}
	return b.String()
}

// isPlain reports whether s can be written as it is: printable ASCII, nothing a decoder would
// take for an encoded-word.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c > 0x7e {
			return false
		}
	}
	return !strings.Contains(s, "=?")
}

// foldASCII folds an ASCII value at the last space before column 78 of each line (counting
// "Subject: "); a word longer than a line stays whole.
func foldASCII(s string) string {
	var b strings.Builder
	col := subjectName
	for len(s) > 0 {
		if col+len(s) <= subjectFold {
			b.WriteString(s)
			break
		}
		cut := strings.LastIndexByte(s[:subjectFold-col], ' ')
		if cut <= 0 {
			if cut = strings.IndexByte(s[1:], ' ') + 1; cut <= 0 {
				b.WriteString(s)
				break
			}
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n")
		s = s[cut:] // the space starts the continuation line
		col = 0
	}
	return b.String()
}
