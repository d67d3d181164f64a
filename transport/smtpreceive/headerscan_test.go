package smtpreceive

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// refScan is the byte-at-a-time header scan that bodyReader.scan replaced: the reference its
// results must equal.
func refScan(d *bodyReader, p []byte) (int, error) {
	for i, b := range p {
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

// TestHeaderScanMatchesReference feeds messages in random pieces to scan and to the reference
// and wants the same state and the same limit hits, at the same byte.
func TestHeaderScanMatchesReference(t *testing.T) {
	lines := []string{"Received: from a by b\r\n", "RECEIVED:x\r\n", "Receive: no\r\n", "X-Received: no\r\n", "Subject: hi\r\n",
		"\tfolded\r\n", "Received:\r\n", "From: a@b\r\n", "\r\n", "\n", "body line\r\n", "Recei", "ved: split\r\n", "\r", "x"}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 3000; n++ {
		var sb strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			sb.WriteString(lines[rng.IntN(len(lines))])
		}
		msg := []byte(sb.String())
		limit, hops := int64(rng.IntN(120)), rng.IntN(4)
		a := &bodyReader{hdrLimit: limit, hopLimit: hops}
		b := &bodyReader{hdrLimit: limit, hopLimit: hops}
		for off := 0; off < len(msg) && !a.hdrDone && !b.hdrDone; {
			end := min(len(msg), off+1+rng.IntN(40))
			ia, ea := a.scan(msg[off:end])
			ib, eb := refScan(b, msg[off:end])
			if ia != ib || ea != eb {
				t.Fatalf("%q (limit %d, hops %d) at %d: scan %d %v, reference %d %v", msg, limit, hops, off, ia, ea, ib, eb)
			}
			if ea != nil {
				break
			}
			off = end
		}
		if a.hdrDone != b.hdrDone || a.received != b.received || a.hdrN != b.hdrN || (!a.hdrTooLarge && !a.hopExceeded && (a.tail != b.tail || a.match != b.match)) || a.hdrTooLarge != b.hdrTooLarge || a.hopExceeded != b.hopExceeded {
			t.Fatalf("%q (limit %d, hops %d): scan %+v, reference %+v", msg, limit, hops, *a, *b)
		}
	}
}
