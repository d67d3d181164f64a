// itemcodec.go writes a mailbox item's record without encoding/json's reflection: one item per
// delivered recipient is written on the hot path (about 3% of a message's CPU under load went
// to json.Marshal). The output is JSON that json.Unmarshal reads back into the same item;
// TestAppendItemJSON holds it to that for every field, so a new field cannot be forgotten.

package queue

import (
	"strconv"
	"time"
	"unicode/utf8"
)

func appendItemJSON(b []byte, d *MailboxItem) []byte {
	b = append(b, `{"Mailbox":`...)
	b = appendJSONString(b, d.Mailbox)
	b = append(b, `,"ID":`...)
	b = strconv.AppendUint(b, d.ID, 10)
	b = append(b, `,"MessageID":`...)
	b = appendJSONString(b, d.MessageID)
	b = append(b, `,"From":`...)
	b = appendJSONString(b, d.From)
	b = append(b, `,"To":`...)
	if d.To == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range d.To {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	if d.Subject != "" {
		b = append(b, `,"Subject":`...)
		b = appendJSONString(b, d.Subject)
	}
	b = append(b, `,"Received":"`...)
	b = d.Received.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","Size":`...)
	b = strconv.AppendInt(b, d.Size, 10)
	if d.HeaderPrefix != "" {
		b = append(b, `,"HeaderPrefix":`...)
		b = appendJSONString(b, d.HeaderPrefix)
	}
	if d.HeaderSuffix != "" {
		b = append(b, `,"HeaderSuffix":`...)
		b = appendJSONString(b, d.HeaderSuffix)
	}
	b = append(b, `,"HeaderEnd":`...)
	b = strconv.AppendInt(b, d.HeaderEnd, 10)
	return append(b, '}')
}

// appendJSONString quotes s as a JSON string: quote, backslash and control characters
// escaped, invalid UTF-8 as U+FFFD (as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
