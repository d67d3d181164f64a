package adminapi

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode every charset go-message knows to UTF-8

	"github.com/exlab/exlab/transport/smtpwire"
)

// maxParts bounds the parts one message is parsed into, and maxDepth their nesting, so a
// hostile message cannot make the API build an unbounded tree.
const (
	maxParts = 1000
	maxDepth = 32
)

// ParseMessage is the parsed form of stored content (go-message): the headers decoded, the MIME
// tree and the attachments. What cannot be parsed is said in ParseError; what was read before
// it is still returned.
func ParseMessage(s MessageSummary, content []byte) Message {
	m := Message{MessageSummary: s, Headers: []Header{}, Attachments: []Attachment{}}
	e, err := message.Read(bytes.NewReader(content))
	if e == nil {
		m.ParseError = err.Error()
		m.Root = Part{Path: "1", ContentType: "text/plain"}
		return m
	}
	for f := e.Header.Fields(); f.Next(); {
		v, derr := f.Text()
		if derr != nil {
			v = f.Value()
		}
		if strings.EqualFold(f.Key(), "Subject") {
			v = smtpwire.DecodeSubject(f.Value()) // as Outlook shows it (also undeclared 8-bit)
		}
		m.Headers = append(m.Headers, Header{Name: f.Key(), Value: v})
	}
	w := walker{}
	m.Root = w.part(e, err, "", 0)
	m.Attachments = w.attachments
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	if w.err != "" {
		m.ParseError = w.err
	}
	return m
}

type walker struct {
	n           int
	attachments []Attachment
	err         string
	// want is the path FindPart looks for; found and body are what it found.
	want  string
	found *Part
	body  []byte
}

func (w *walker) fail(format string, args ...any) {
	if w.err == "" {
		w.err = fmt.Sprintf(format, args...)
	}
}

// part describes entity e at path (readErr is go-message's error from reading its header:
// an unknown charset or transfer encoding leaves the body readable as it is).
func (w *walker) part(e *message.Entity, readErr error, path string, depth int) Part {
	w.n++
	mt, params, _ := e.Header.ContentType()
	if mt == "" {
		mt = "text/plain"
	}
	p := Part{Path: path, ContentType: strings.ToLower(mt), Charset: params["charset"], Encoding: strings.ToLower(e.Header.Get("Content-Transfer-Encoding")),
		ContentID: strings.Trim(e.Header.Get("Content-Id"), "<> ")}
	for k, v := range params {
		if k != "charset" && k != "boundary" {
			if p.Params == nil {
				p.Params = map[string]string{}
			}
			p.Params[k] = v
		}
	}
	if disp, dp, err := e.Header.ContentDisposition(); err == nil {
		p.Disposition = strings.ToLower(disp)
		p.Filename = dp["filename"]
	}
	if p.Filename == "" {
		p.Filename = params["name"]
	}
	if readErr != nil {
		w.fail("part %q: %v", path, readErr)
	}
	if mr := e.MultipartReader(); mr != nil && depth < maxDepth {
		p.Parts = []Part{}
		for i := 1; ; i++ {
			if w.n >= maxParts {
				w.fail("more than %d parts: the rest are not shown", maxParts)
				break
			}
			child, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if child == nil {
				w.fail("part %q: %v", path, err)
				break
			}
			cp := strconv.Itoa(i)
			if path != "" {
				cp = path + "." + cp
			}
			p.Parts = append(p.Parts, w.part(child, err, cp, depth+1))
		}
		return p
	}
	if path == "" {
		path, p.Path = "1", "1" // a single-part message's body is part 1 (RFC 3501 §6.4.5)
	}
	body, err := io.ReadAll(e.Body)
	if err != nil {
		w.fail("part %q: %v", path, err)
	}
	p.Size = int64(len(body))
	if strings.HasPrefix(p.ContentType, "text/") && p.Disposition != "attachment" {
		t := string(body)
		p.Text = &t
	}
	if p.Filename != "" || p.Disposition == "attachment" {
		w.attachments = append(w.attachments, Attachment{Path: path, Filename: p.Filename, ContentType: p.ContentType, Size: p.Size})
	}
	if path == w.want && w.found == nil {
		cp := p
		w.found, w.body = &cp, body
	}
	return p
}

// FindPart returns the leaf part at path (an IMAP section number, as Part.Path) of content and
// its decoded bytes (text decoded to UTF-8).
func FindPart(content []byte, path string) (Part, []byte, error) {
	e, err := message.Read(bytes.NewReader(content))
	if e == nil {
		return Part{}, nil, fmt.Errorf("the message cannot be parsed: %v", err)
	}
	w := walker{want: path}
	w.part(e, err, "", 0)
	if w.found == nil {
		return Part{}, nil, fmt.Errorf("the message has no leaf part %q", path)
	}
	return *w.found, w.body, nil
}
