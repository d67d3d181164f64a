// data.go holds the message readers: DATA's dot reader (dot-stuffing, CRLF normalisation,
// strict end-of-data framing) and the BDAT chunk stream.

package smtpreceive

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/exlab/exlab/transport/smtpwire"
)

// ErrTooLarge is returned by a message reader once the message passes the session's size
// limit. The consumer must stop and return; the engine consumes the rest and answers R51.
var ErrTooLarge = errors.New("smtpreceive: message exceeds the size limit")

// ErrHeaderTooLarge is returned by a message reader once the header block passes the
// connector's MaxHeaderSize; the engine answers X09 after consuming the rest of the data.
var ErrHeaderTooLarge = errors.New("smtpreceive: header exceeds MaxHeaderSize")

// ErrHopCount is returned by a message reader once the header block has more Received: fields
// than the connector's MaxHopCount; the engine answers R52.
var ErrHopCount = errors.New("smtpreceive: more Received: fields than MaxHopCount")

// errInterrupted is returned by a BDAT stream when the client sent another command instead of
// the next chunk; the transaction is abandoned.
var errInterrupted = errors.New("smtpreceive: BDAT transfer interrupted by a command")

const (
	stBOL = iota // at the beginning of a line (after CRLF)
	stText
	stCR
	stDot   // "." at the beginning of a line
	stDotCR // ".\r" at the beginning of a line
)

// dotReader decodes a DATA body: it removes dot-stuffing, ends only at <CRLF>.<CRLF>, and
// normalises bare CR and bare LF to CRLF without ever treating them as line starts, so
// <LF>.<LF>, <LF>.<CRLF>, <CR>.<CR> and their kin are content, never the end of data (SMTP
// smuggling, RELIABILITY §1.2 and §6 row 5; go-smtp PRs 244 and 246). It never buffers a line:
// long lines cost nothing but their bytes.
type dotReader struct {
	r       *bufio.Reader
	state   int
	limit   int64 // 0: no limit
	n       int64 // decoded bytes produced
	pbuf    [4]byte
	pending []byte
	done    bool
	err     error
	noFast  bool // tests: decode byte by byte only, as the reference
}

func newDotReader(r *bufio.Reader, limit int64) *dotReader {
	return &dotReader{r: r, state: stBOL, limit: limit}
}

// Read implements io.Reader for the consumer: decoded bytes, then io.EOF at the terminator.
func (d *dotReader) Read(p []byte) (int, error) {
	if d.limit > 0 && d.n > d.limit {
		return 0, ErrTooLarge
	}
	n, err := d.read(p)
	d.n += int64(n)
	if d.limit > 0 && d.n > d.limit {
		return n, ErrTooLarge
	}
	return n, err
}

// Size is the number of decoded bytes read so far.
func (d *dotReader) Size() int64 { return d.n }

// finish consumes the rest of the data to its end and says how the transfer ended
// (messageSource).
func (d *dotReader) finish() (int64, bool, error) {
	err := d.drain()
	return d.n, d.limit > 0 && d.n > d.limit, err
}

// drain consumes the rest of the body up to the terminator. It returns an error only when the
// connection failed first.
func (d *dotReader) drain() error {
	var scratch [4096]byte
	for {
		_, err := d.read(scratch[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (d *dotReader) read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pending) > 0 {
			c := copy(p[n:], d.pending)
			d.pending = d.pending[c:]
			n += c
			continue
		}
		if d.done {
			break
		}
		if d.err != nil {
			break
		}
		if n > 0 && d.r.Buffered() == 0 {
			break // return what we have rather than block
		}
		if !d.noFast && (d.state == stText || d.state == stBOL) {
			// Fast path: copy straight from the buffer up to the next byte that needs the state
			// machine. A CRLF whose next byte is visible and is not a dot needs nothing, so
			// ordinary lines are copied in one run.
			if buf, _ := d.r.Peek(d.r.Buffered()); len(buf) > 0 && !(d.state == stBOL && buf[0] == '.') {
				run := cleanRun(buf[:min(len(buf), len(p)-n)])
				if run > 0 {
					copy(p[n:], buf[:run])
					_, _ = d.r.Discard(run)
					n += run
					d.state = stText
					if buf[run-1] == '\n' {
						d.state = stBOL
					}
					continue
				}
			}
		}
		c, err := d.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			d.err = err
			break
		}
		d.step(c)
	}
	if n == 0 {
		if d.done {
			return 0, io.EOF
		}
		if d.err != nil {
			return 0, d.err
		}
	}
	return n, nil
}

// cleanRun returns how many leading bytes of buf are plain text or CRLF line ends followed by
// a byte that is not a dot: bytes the decoder would copy unchanged.
func cleanRun(buf []byte) int {
	n := 0
	for n < len(buf) {
		i := bytes.IndexByte(buf[n:], '\n')
		if i < 0 {
			if j := bytes.IndexByte(buf[n:], '\r'); j >= 0 {
				return n + j
			}
			return len(buf)
		}
		seg := buf[n : n+i] // the bytes before the LF
		if len(seg) == 0 || seg[len(seg)-1] != '\r' || bytes.IndexByte(seg[:len(seg)-1], '\r') >= 0 {
			if j := bytes.IndexByte(seg, '\r'); j >= 0 {
				return n + j // stop at a bare CR
			}
			return n + i // stop at a bare LF
		}
		next := n + i + 1
		if next >= len(buf) || buf[next] == '.' {
			return n + i - 1 // stop before the CR: the state machine sees what follows
		}
		n = next
	}
	return n
}

// isCRLF says whether every line end in b is CRLF (a final CR may wait for its LF).
func isCRLF(b []byte) bool {
	n := 0
	for {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			j := bytes.IndexByte(b[n:], '\r')
			return j < 0 || n+j == len(b)-1
		}
		seg := b[n : n+i]
		if len(seg) == 0 || seg[len(seg)-1] != '\r' || bytes.IndexByte(seg[:len(seg)-1], '\r') >= 0 {
			return false
		}
		n += i + 1
	}
}

func (d *dotReader) emit(b ...byte) { d.pending = append(d.pbuf[:0], b...) }

func (d *dotReader) step(c byte) {
	switch d.state {
	case stBOL, stText:
		switch c {
		case '.':
			if d.state == stBOL {
				d.state = stDot
				return
			}
			d.emit(c)
		case '\r':
			d.state = stCR
		case '\n':
			d.emit('\r', '\n') // bare LF: normalised, and not a line start
			d.state = stText
		default:
			d.emit(c)
			d.state = stText
		}
	case stCR:
		switch c {
		case '\n':
			d.emit('\r', '\n')
			d.state = stBOL
		case '\r':
			d.emit('\r', '\n') // bare CR; the new CR waits
		default:
			d.emit('\r', '\n', c) // bare CR, then c; not a line start
			d.state = stText
		}
	case stDot:
		switch c {
		case '\r':
			d.state = stDotCR
		case '\n':
			d.emit('.', '\r', '\n')
			d.state = stText
		default:
			d.emit(c) // the stuffing dot is dropped (RFC 5321 §4.5.2)
			d.state = stText
		}
	case stDotCR:
		switch c {
		case '\n':
			d.done = true
		case '\r':
			d.emit('.', '\r', '\n')
			d.state = stCR
		default:
			d.emit('.', '\r', '\n', c)
			d.state = stText
		}
	}
}

// normalizer turns bare CR and bare LF into CRLF across chunk boundaries (for BDAT bodies that
// are not BINARYMIME).
type normalizer struct {
	cr bool // a CR is held until the next byte shows whether LF follows
}

// appendTo appends the normalised form of src to dst.
func (z *normalizer) appendTo(dst, src []byte) []byte {
	for len(src) > 0 {
		if z.cr {
			z.cr = false
			dst = append(dst, '\r', '\n')
			if src[0] == '\n' {
				src = src[1:]
			}
			continue
		}
		i := bytes.IndexAny(src, "\r\n")
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		if src[i] == '\r' {
			z.cr = true
		} else {
			dst = append(dst, '\r', '\n')
		}
		src = src[i+1:]
	}
	return dst
}

// flush ends the stream: a held bare CR becomes CRLF.
func (z *normalizer) flush(dst []byte) []byte {
	if z.cr {
		z.cr = false
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// bdatStream is the message reader of a BDAT transfer (RFC 3030). It reads the current chunk
// exactly to its octet count; when a non-LAST chunk ends it answers it and reads the next
// command itself, which must be BDAT. Anything else ends the stream with errInterrupted and is
// handed back to the engine as the next command.
type bdatStream struct {
	c         *conn
	remaining int64 // octets left in the current chunk
	chunk     int64 // size of the current chunk
	last      bool
	binary    bool
	norm      normalizer
	limit     int64
	n         int64 // octets received (raw) in all chunks
	out       []byte
	raw       []byte
	done      bool
	err       error
	interrupt string // the command line that interrupted the transfer
	tooLarge  bool
}

func (s *bdatStream) Read(p []byte) (int, error) {
	for {
		if len(s.out) > 0 {
			n := copy(p, s.out)
			s.out = s.out[n:]
			return n, nil
		}
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		if s.remaining == 0 {
			if s.last {
				if !s.binary {
					s.out = s.norm.flush(s.out[:0])
				}
				s.done = true
				continue
			}
			if err := s.nextChunk(); err != nil {
				s.err = err
				continue
			}
			continue
		}
		want := int64(len(p))
		direct := s.binary || !s.norm.cr
		if !direct {
			if s.raw == nil {
				// Only a chunk after a held CR is read through raw: allocated then, not
				// for every transaction (4 KiB zeroed per message on the hub and on 475).
				s.raw = make([]byte, 0, 4096)
			}
			want = int64(cap(s.raw))
		}
		if want > s.remaining {
			want = s.remaining
		}
		var n int
		var err error
		if direct {
			n, err = s.c.br.Read(p[:want])
		} else {
			n, err = s.c.br.Read(s.raw[:want])
		}
		s.remaining -= int64(n)
		s.n += int64(n)
		if s.limit > 0 && s.n > s.limit {
			s.tooLarge = true
			s.err = ErrTooLarge
			return 0, ErrTooLarge
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			s.err = err
			if n == 0 {
				continue
			}
		}
		if s.binary {
			return n, nil
		}
		if direct {
			// Read straight into the consumer's buffer; only a chunk with bare CR or LF goes
			// through the normalizer. A final CR is held until the next byte shows its LF.
			// From a clean peer (an in-process hop) the scan is skipped: at 100 KiB it was 8%
			// of the frontend path's CPU, on the hub and again on Mailbox Transport.
			if s.c.cleanPeer || isCRLF(p[:n]) {
				if n > 0 && p[n-1] == '\r' {
					s.norm.cr = true
					n--
				}
				if n > 0 {
					return n, nil
				}
				continue
			}
			s.raw = append(s.raw[:0], p[:n]...)
		}
		s.out = s.norm.appendTo(s.out[:0], s.raw[:n])
	}
}

// nextChunk answers the chunk just read and reads the next BDAT command.
func (s *bdatStream) nextChunk() error {
	s.c.reply(smtpwire.Render("R53", "n", itoa(s.chunk)))
	line, err := s.c.readLine()
	if err != nil {
		return err
	}
	cmd := parseCommand(line)
	if cmd.Verb != "BDAT" {
		s.interrupt = line
		return errInterrupted
	}
	size, last, ok := parseBdatArg(cmd.Arg)
	if !ok {
		s.interrupt = line
		return errInterrupted
	}
	s.chunk, s.remaining, s.last = size, size, last
	return nil
}

// finish says how the BDAT transfer ended (messageSource): an interrupting command first,
// then a broken connection, else the rest of the current chunk is consumed.
func (s *bdatStream) finish() (int64, bool, error) {
	switch {
	case s.interrupt != "":
		return s.n, false, &interruption{s.interrupt}
	case s.err != nil && !s.tooLarge:
		return s.n, false, s.err
	}
	if err := s.discardChunk(); err != nil {
		return s.n, s.tooLarge, err
	}
	return s.n, s.tooLarge, nil
}

// discardChunk consumes what is left of the current chunk.
func (s *bdatStream) discardChunk() error {
	for s.remaining > 0 {
		n, err := s.c.br.Discard(int(min(s.remaining, 1<<20)))
		s.remaining -= int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

func parseBdatArg(arg string) (size int64, last bool, ok bool) {
	f := bytes.Fields([]byte(arg))
	if len(f) == 0 || len(f) > 2 {
		return 0, false, false
	}
	for _, c := range f[0] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	if len(f[0]) > 18 {
		return 0, false, false
	}
	var n int64
	for _, c := range f[0] {
		n = n*10 + int64(c-'0')
	}
	if len(f) == 2 {
		if !bytes.EqualFold(f[1], []byte("LAST")) {
			return 0, false, false
		}
		last = true
	}
	return n, last, true
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
