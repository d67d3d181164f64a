package transport

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestQueuedReplyFigures: the "<bytes> bytes in <secs>, <rate> KB/sec" of 250 2.6.0 (R48) count
// the message as the hub stored it, with the headers it stamped, and the real time from the
// start of the data to the reply (spec §13.19: SANS SEC560's "1559 bytes in 14.755, 0.103
// KB/sec" for a short message typed by hand; KB = 1024 bytes).
func TestQueuedReplyFigures(t *testing.T) {
	h, st, addr := startHub(t, nil, nil)
	c := dial(t, addr)
	c.cmd("EHLO ex01.contoso.test")
	if r := c.exps(key); r != "235 2.7.0 Authentication successful" {
		t.Fatalf("X-EXPS: %q", r)
	}
	c.cmd("XPROXYFROM SID=08DC42C8FF236A1F IP=203.0.113.7 PORT=4711 DOMAIN=mta.example SEQNUM=1 PERMS=15 AUTHSRC=Anonymous")
	c.cmd("MAIL FROM:<a@example.org>")
	c.cmd("RCPT TO:<user1@contoso.test>")
	if r := c.cmd("DATA"); r[:3] != "354" {
		t.Fatalf("DATA: %q", r)
	}
	body := "Subject: figures\r\nMessage-ID: <figures@example.org>\r\n\r\nbody\r\n"
	// A client that takes its time, like SEC560's telnet session: the time runs from the data's
	// start, not from its last byte.
	const pause = 400 * time.Millisecond
	time.Sleep(pause)
	r := c.cmd(body + ".")
	m := regexp.MustCompile(`^250 2\.6\.0 <figures@example\.org> \[InternalId=\d+, Hostname=ex01\.contoso\.test\] (\d+) bytes in (\d+\.\d{3}), (\d+\.\d{3}) KB/sec Queued mail for delivery$`).FindStringSubmatch(r)
	if m == nil {
		t.Fatalf("end of data: %q", r)
	}
	n, _ := strconv.Atoi(m[1])
	secs, _ := strconv.ParseFloat(m[2], 64)
	rate, _ := strconv.ParseFloat(m[3], 64)
	if secs < pause.Seconds() || secs > 10 {
		t.Errorf("%s s: the time is from the start of the data (%v before the body) to the reply", m[2], pause)
	}
	// The rate is computed from the unrounded time: within the rounding of <secs>.
	if lo, hi := float64(n)/1024/(secs+0.0005), float64(n)/1024/max(secs-0.0005, 1e-9); rate < lo-0.001 || rate > hi+0.001 {
		t.Errorf("rate %s KB/sec is not %d bytes / 1024 / %s s", m[3], n, m[2])
	}
	deadline := time.Now().Add(10 * time.Second)
	for !h.Drained() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	items, _ := st.MailboxItems("user1@contoso.test")
	if len(items) != 1 {
		t.Fatalf("mailbox: %+v", items)
	}
	_, content, _ := st.MailboxContent("user1@contoso.test", items[0].ID)
	if n <= len(body) || n != len(content) {
		t.Errorf("%d bytes reported; the client sent %d, the hub stored %d with its headers", n, len(body), len(content))
	}
}
