// headerscan.go holds the scan of a message's header block as the Session reads it:
// MaxHeaderSize and MaxHopCount.

package smtpreceive

import (
	"bytes"
	"io"
	"time"

	"github.com/exlab/exlab/config"
)

// bodyReader gives the session the message reader and nothing else of it, notes when the
// session read its end (the transfer phase's end), and applies MaxHeaderSize: it follows the
// header block to its blank line (CRLF CRLF, or CRLF at the very start) and fails the read
// with ErrHeaderTooLarge when more than hdrLimit bytes come before it.
type bodyReader struct {
	r   io.Reader
	eof time.Time

	hdrLimit    int64  // MaxHeaderSize (0: none)
	hdrN        int64  // header bytes seen so far
	tail        uint32 // the last four bytes seen, for the blank line
	hdrDone     bool
	hdrTooLarge bool

	// MaxHopCount: Received: fields are counted as the header block goes by; one too many
	// fails the read, so the message is never handed on (the frontend's hop to the hub is
	// aborted) and the engine answers R52.
	hopLimit    int
	received    int
	match       int // bytes of "received:" matched at the start of the current line; -1: no match
	hopExceeded bool
}

func newBodyReader(r io.Reader, rc *config.ReceiveConnector) *bodyReader {
	return &bodyReader{r: r, hdrLimit: int64(rc.MaxHeaderSize), hopLimit: rc.MaxHopCount}
}

const receivedName = "received:"

func (d *bodyReader) Read(p []byte) (int, error) {
	switch {
	case d.hdrTooLarge:
		return 0, ErrHeaderTooLarge
	case d.hopExceeded:
		return 0, ErrHopCount
	}
	n, err := d.r.Read(p)
	if !d.hdrDone && n > 0 {
		if i, serr := d.scan(p[:n]); serr != nil {
			return i, serr
		}
	}
	if err == io.EOF && d.eof.IsZero() {
		d.eof = time.Now()
	}
	return n, err
}

// scan follows the header block through p: byte by byte where it matters (a line's first
// bytes, for "Received:", and each line end, for the blank line), and from one line end to the
// next with IndexByte in between. On a limit it returns the bytes of p before the one that
// passed it, and the error.
func (d *bodyReader) scan(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		if d.match < 0 {
			j := bytes.IndexByte(p[i:], '\n')
			end := len(p)
			if j >= 0 {
				end = i + j
			}
			k := int64(end - i)
			if d.hdrLimit > 0 && d.hdrN+k > d.hdrLimit {
				at := i + int(d.hdrLimit-d.hdrN)
				d.hdrN = d.hdrLimit + 1
				d.hdrTooLarge = true
				return at, ErrHeaderTooLarge
			}
			d.hdrN += k
			for _, b := range p[max(i, end-4):end] {
				d.tail = d.tail<<8 | uint32(b)
			}
			if i = end; j < 0 {
				return 0, nil
			}
		}
		b := p[i]
		d.tail = d.tail<<8 | uint32(b)
		d.hdrN++
		if d.tail == 0x0d0a0d0a || (d.hdrN == 2 && d.tail&0xffff == 0x0d0a) {
			d.hdrDone = true
			return 0, nil
		}
		if d.hdrLimit > 0 && d.hdrN > d.hdrLimit {
			d.hdrTooLarge = true
			return i, ErrHeaderTooLarge
		}
		switch {
		case b == '\n':
			d.match = 0
		case d.match >= 0 && d.match < len(receivedName) && b|0x20 == receivedName[d.match]:
			if d.match++; d.match == len(receivedName) {
				d.match = -1
				if d.received++; d.hopLimit > 0 && d.received > d.hopLimit {
					d.hopExceeded = true
					return i, ErrHopCount
				}
			}
		default:
			d.match = -1
		}
	}
	return 0, nil
}
