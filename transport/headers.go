package transport

import (
	"bytes"
	"strings"
)

// headerInfo is what the hub reads from a message's header block.
type headerInfo struct {
	end       int // offset just past the header block's last line (before the blank line)
	messageID string
	subject   string
	received  int
	dkimSig   bool // a DKIM-Signature field is present
}

// scanHeaders reads the header block of a CRLF message: where it ends, its Message-ID and
// Subject (unfolded, first occurrence) and how many Received: fields it has (MaxHopCount).
func scanHeaders(msg []byte) headerInfo {
	var h headerInfo
	pos := 0
	var cur string // name of the field being read, for unfolding
	for pos < len(msg) {
		nl := bytes.IndexByte(msg[pos:], '\n')
		var line []byte
		next := len(msg)
		if nl >= 0 {
			line = msg[pos : pos+nl]
			next = pos + nl + 1
		} else {
			line = msg[pos:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			h.end = pos
			return h
		}
		if line[0] == ' ' || line[0] == '\t' {
			switch cur {
			case "subject":
				h.subject += " " + strings.TrimSpace(string(line))
			case "message-id":
				if h.messageID == "" {
					h.messageID = strings.TrimSpace(string(line))
				}
			}
		} else if i := bytes.IndexByte(line, ':'); i > 0 {
			name := bytes.TrimSpace(line[:i])
			cur = ""
			switch {
			case bytes.EqualFold(name, []byte("received")):
				h.received++
			case bytes.EqualFold(name, []byte("dkim-signature")):
				h.dkimSig = true
			case bytes.EqualFold(name, []byte("subject")):
				if h.subject == "" {
					h.subject, cur = strings.TrimSpace(string(line[i+1:])), "subject"
				}
			case bytes.EqualFold(name, []byte("message-id")):
				if h.messageID == "" {
					h.messageID, cur = strings.TrimSpace(string(line[i+1:])), "message-id"
				}
			}
		} else {
			// Not a header line: the message has no header/body separator; treat what came
			// before as the header block.
			h.end = pos
			return h
		}
		pos = next
	}
	h.end = len(msg)
	return h
}

// localHops counts the Received: fields of a header block written by a server of the
// organization: those whose "by" host is one of fqdns (MaxLocalHopCount; Exchange counts the
// hops inside its organization apart from the Internet hops of MaxHopCount).
func localHops(header []byte, fqdns []string) int {
	n := 0
	var field []byte // the Received: field being read, unfolded
	flush := func() {
		if field != nil && receivedBy(field, fqdns) {
			n++
		}
		field = nil
	}
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if field != nil && len(field) < 4096 {
				field = append(append(field, ' '), bytes.TrimSpace(line)...)
			}
			continue
		}
		flush()
		if i := bytes.IndexByte(line, ':'); i > 0 && bytes.EqualFold(bytes.TrimSpace(line[:i]), []byte("received")) {
			field = append([]byte{}, line[i+1:]...)
		}
	}
	flush()
	return n
}

// receivedBy says whether a Received: field's "by" clause names one of fqdns.
func receivedBy(field []byte, fqdns []string) bool {
	words := strings.Fields(string(field))
	for i := 0; i+1 < len(words); i++ {
		if strings.EqualFold(words[i], "by") {
			host := strings.TrimRight(words[i+1], ";")
			for _, f := range fqdns {
				if strings.EqualFold(host, f) {
					return true
				}
			}
			return false
		}
	}
	return false
}
