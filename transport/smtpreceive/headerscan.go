// headerscan.go holds the scan of a message's header block as the Session reads it:
// MaxHeaderSize and MaxHopCount.

package smtpreceive

import (
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
		for i, b := range p[:n] {
			d.tail = d.tail<<8 | uint32(b)
			d.hdrN++
			if d.tail == 0x0d0a0d0a || (d.hdrN == 2 && d.tail&0xffff == 0x0d0a) {
				d.hdrDone = true
				break
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
	}
	if err == io.EOF && d.eof.IsZero() {
		d.eof = time.Now()
	}
	return n, err
}
