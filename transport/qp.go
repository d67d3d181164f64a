package transport

import "strings"

// writeQP writes s quoted-printable encoded to b, byte for byte what mime/quotedprintable's
// Writer (text mode) and its Close write: runs of plain characters are copied whole, not a
// byte at a time through the writer's line buffer, which cost a quarter of an NDR's making.
// TestWriteQP holds it to the standard library's output.
func writeQP(b *strings.Builder, s string) {
	const maxLen = 76 // mime/quotedprintable's lineMaxLen
	const hex = "0123456789ABCDEF"
	var line [maxLen + 2]byte // as the Writer's: a line of at most 75 bytes, then "=" or CRLF
	i := 0                    // bytes in line
	cr := false               // the previous byte was CR: a following LF is that line end
	flush := func() { b.Write(line[:i]); i = 0 }
	crlf := func() { line[i], line[i+1] = '\r', '\n'; i += 2; flush() }
	soft := func() { line[i] = '='; i++; crlf() }
	encode := func(c byte) {
		if maxLen-1-i < 3 {
			soft()
		}
		line[i], line[i+1], line[i+2] = '=', hex[c>>4], hex[c&0x0f]
		i += 3
	}
	lastWhitespace := func() { // a space or tab before a line end is encoded
		if i > 0 && (line[i-1] == ' ' || line[i-1] == '\t') {
			i--
			encode(line[i])
		}
	}
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c == '\r' || c == '\n':
			if cr && c == '\n' {
				cr = false
				continue
			}
			cr = c == '\r'
			lastWhitespace()
			crlf()
		case qpPlain(c):
			j := k + 1
			for j < len(s) && qpPlain(s[j]) {
				j++
			}
			for k < j { // the run, in pieces that fill each line up to its soft break
				if i == maxLen-1 {
					soft()
				}
				n := copy(line[i:maxLen-1], s[k:j])
				i += n
				k += n
			}
			k--
			cr = false
		default:
			encode(c)
		}
	}
	lastWhitespace()
	flush()
}

// qpPlain says whether c is written as itself (then a space or tab at a line end is encoded).
func qpPlain(c byte) bool { return c >= '!' && c <= '~' && c != '=' || c == ' ' || c == '\t' }
