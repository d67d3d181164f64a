package smtpwire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"
)

// NewGUID returns a random GUID in Exchange's lower-case 8-4-4-4-12 form.
func NewGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return FormatGUID(b)
}

// FormatGUID renders 16 random bytes as a version-4 GUID (the tracking log formats the
// log-ids of its own generator with it).
func FormatGUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:16])
	return string(out[:])
}

var sessionCounter atomic.Uint64

func init() {
	// Exchange's session ids look like a counter seeded from a .NET tick count (100 ns since
	// 0001-01-01), printed as 16 hex digits (spec §7.1 [I]).
	const ticksAtUnixEpoch = 621355968000000000
	sessionCounter.Store(uint64(time.Now().UnixNano()/100) + ticksAtUnixEpoch)
}

// NewSessionID returns the next protocol-log session id; the receive and the send side draw
// from one counter, so an id names one session of the process.
func NewSessionID() string { return fmt.Sprintf("%016X", sessionCounter.Add(1)) }
