package smtpwire

import (
	"strconv"
	"strings"
)

// QueuedReply renders R48 ("250 2.6.0 <msgid> [InternalId=<internalid>, Hostname=<hubfqdn>]
// <bytes> bytes in <secs>, <rate> KB/sec Queued mail for delivery") without the template
// machinery, as it is sent for every message (by the hub and by Mailbox Delivery): it appends
// the row's literal pieces (r48, cut from the table at start) and the values in between.
// TestQueuedReplyIsR48 (package transport) checks it against Render.
func QueuedReply(msgID string, id uint64, host string, size int, secs float64) *Reply {
	b := make([]byte, 0, 160+len(msgID)+len(host))
	b = append(b, r48[0]...)
	b = append(b, msgID...)
	b = append(b, r48[1]...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, r48[2]...)
	b = append(b, host...)
	b = append(b, r48[3]...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, r48[4]...)
	b = strconv.AppendFloat(b, secs, 'f', 3, 64)
	b = append(b, r48[5]...)
	b = strconv.AppendFloat(b, float64(size)/1024/max(secs, 1e-6), 'f', 3, 64)
	b = append(b, r48[6]...)
	return &Reply{ID: R48, Text: string(b)}
}

// r48 is R48's template cut at its placeholders, in order: <msgid>, <internalid>, <hubfqdn>,
// <bytes>, <secs>, <rate>. It panics at start if the row no longer has them in that order.
var r48 = func() [7]string {
	row, _ := LookupRow(R48)
	var parts [7]string
	rest := row.Text
	for i, ph := range []string{"<msgid>", "<internalid>", "<hubfqdn>", "<bytes>", "<secs>", "<rate>"} {
		before, after, ok := strings.Cut(rest, ph)
		if !ok {
			panic("smtpwire: R48 has no " + ph)
		}
		parts[i], rest = before, after
	}
	parts[6] = rest
	return parts
}()
