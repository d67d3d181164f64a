package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport"
)

// queueLab is the lab config with a send connector for fabrikam.test whose smart host is the
// given port, and the retry schedule compressed by the server settings in extra.
func queueLab(port int, extra string) string {
	return labConfig(func(s string) string {
		s = strings.Replace(s, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n"+extra, 1)
		s = strings.Replace(s, "\nMailboxes:", "\n  - Name: fabrikam.test\n    DomainName: fabrikam.test\n    DomainType: ExternalRelay\n\nMailboxes:", 1)
		return strings.Replace(s, "\nSendConnectors: []", fmt.Sprintf(`
SendConnectors:
  - Name: To Fabrikam
    AddressSpaces: ["SMTP:fabrikam.test;1"]
    SmartHosts: ["[127.0.0.1]:%d"]`, port), 1)
	})
}

func queuesOf(t *testing.T, data string) []transport.QueueInfo {
	t.Helper()
	out, errOut, code := exlab(t, "queue", "get", "--data", data, "--format", "json")
	if code != 0 {
		t.Fatalf("queue get: %d %s", code, errOut)
	}
	var qs []transport.QueueInfo
	if err := json.Unmarshal([]byte(out), &qs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return qs
}

func queueNamed(qs []transport.QueueInfo, nextHop string) *transport.QueueInfo {
	for i := range qs {
		if qs[i].NextHopDomain == nextHop {
			return &qs[i]
		}
	}
	return nil
}

// TestQueueTools: a message waiting for a smart host that is down shows in its delivery queue
// (Get-Queue's columns and LastError form) with the compressed retry schedule, can be
// suspended, resumed and removed with an NDR, and the tracking log tells its story.
func TestQueueTools(t *testing.T) {
	dead := freePort(t)
	cfg := queueLab(dead, "    QueueGlitchRetryCount: 2\n    QueueGlitchRetryInterval: \"00:00:00.5\"\n"+
		"    TransientFailureRetryCount: 1\n    TransientFailureRetryInterval: \"00:00:01\"\n"+
		"    OutboundConnectionFailureRetryInterval: \"00:00:02\"")
	s := startServer(t, cfg, "")
	if err := sendMail(t, s.address("Default Frontend EX01"), "user1@contoso.test", []string{"joe@fabrikam.test"},
		"Subject: waiting\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	// Five attempts: at 0, then after 0.5, 0.5 (glitch), 1 (transient), 2 s (connection failure).
	deadline := time.Now().Add(15 * time.Second)
	var defers []transport.TrackingEntry
	for len(defers) < 5 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		defers, _ = transport.SearchTracking(s.data+"/"+trackingDir, "", "joe@fabrikam.test", "DEFER", "", time.Time{}, time.Time{})
	}
	if len(defers) < 5 {
		t.Fatalf("%d DEFER events in the tracking log", len(defers))
	}
	want := []float64{0.5, 0.5, 1, 2}
	for i := 1; i < 5; i++ {
		t0, _ := time.Parse("2006-01-02T15:04:05.000Z", defers[i-1]["date-time"])
		t1, _ := time.Parse("2006-01-02T15:04:05.000Z", defers[i]["date-time"])
		if d := t1.Sub(t0).Seconds(); d < want[i-1]-0.05 || d > want[i-1]+0.6 {
			t.Errorf("attempt %d came %.2fs after the one before, want %.1fs", i+1, d, want[i-1])
		}
	}
	if e := defers[0]; !strings.HasPrefix(e["recipient-status"], "441 4.4.1 ") || e["source"] != "SMTP" || e["connector-id"] != "To Fabrikam" ||
		e["sender-address"] != "user1@contoso.test" || e["message-subject"] != "waiting" {
		t.Errorf("DEFER event: %v", e)
	}

	q := queueNamed(queuesOf(t, s.data), "[127.0.0.1]:"+fmt.Sprint(dead))
	if q == nil || q.DeliveryType != "SmartHostConnectorDelivery" || q.MessageCount != 1 || (q.Status != "Retry" && q.Status != "Active") ||
		!strings.HasPrefix(q.LastError, "[{LRT=") || !strings.Contains(q.LastError, ";{LED=441 4.4.1 Error encountered while communicating with primary target IP address") ||
		!strings.HasSuffix(q.LastError, ";{FQDN=127.0.0.1};{IP=127.0.0.1}]") || !strings.HasPrefix(q.Identity, `EX01\`) {
		t.Fatalf("delivery queue: %+v", q)
	}
	table, _, _ := exlab(t, "queue", "get", "--data", s.data)
	if !strings.HasPrefix(table, "Identity") || !strings.Contains(table, `EX01\Submission`) || !strings.Contains(table, `EX01\Unreachable`) ||
		!strings.Contains(table, q.Identity) {
		t.Errorf("queue get:\n%s", table)
	}
	out, _, code := exlab(t, "message", "get", "--data", s.data, "--queue", q.Identity, "--format", "json")
	var ms []transport.MessageInfo
	if err := json.Unmarshal([]byte(out), &ms); code != 0 || err != nil || len(ms) != 1 || ms[0].Subject != "waiting" ||
		ms[0].FromAddress != "user1@contoso.test" || ms[0].RetryCount < 5 || ms[0].ExpirationTime.IsZero() {
		t.Fatalf("message get (%d): %s", code, out)
	}
	id := ms[0].Identity
	// The queue is also named by its next hop.
	if out, _, _ := exlab(t, "message", "get", "--data", s.data, "--queue", `EX01\[127.0.0.1]:`+fmt.Sprint(dead)); !strings.Contains(out, id) {
		t.Errorf("message get by next hop:\n%s", out)
	}

	if out, errOut, code := exlab(t, "message", "suspend", id, "--data", s.data); code != 0 {
		t.Fatalf("suspend: %s %s", out, errOut)
	}
	time.Sleep(1100 * time.Millisecond) // the tracking writer flushes every second
	defers, _ = transport.SearchTracking(s.data+"/"+trackingDir, "", "joe@fabrikam.test", "DEFER", "", time.Time{}, time.Time{})
	n := len(defers)
	if q := queueNamed(queuesOf(t, s.data), "[127.0.0.1]:"+fmt.Sprint(dead)); q == nil || q.Status != "Ready" {
		t.Errorf("after suspend the queue is %+v", q)
	}
	out, _, _ = exlab(t, "message", "get", "--data", s.data, "--format", "list")
	if !strings.Contains(out, "Status            : Suspended") {
		t.Errorf("suspended message:\n%s", out)
	}
	time.Sleep(3 * time.Second) // longer than the retry interval
	defers, _ = transport.SearchTracking(s.data+"/"+trackingDir, "", "joe@fabrikam.test", "DEFER", "", time.Time{}, time.Time{})
	if len(defers) != n {
		t.Errorf("a suspended message was attempted %d more times", len(defers)-n)
	}
	if _, errOut, code := exlab(t, "message", "resume", id, "--data", s.data); code != 0 {
		t.Fatalf("resume: %s", errOut)
	}
	if _, errOut, code := exlab(t, "message", "remove", id, "--with-ndr", "--data", s.data); code != 0 {
		t.Fatalf("remove: %s", errOut)
	}
	if _, errOut, code := exlab(t, "message", "remove", id, "--data", s.data); code == 0 || !strings.Contains(errOut, "was not found") {
		t.Errorf("removing it again: %d %s", code, errOut)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	ndr, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	if !strings.Contains(ndr, "Subject: Undeliverable: waiting") || !strings.Contains(ndr, "550 4.3.2 QUEUE.Admin; message deleted by administrative action") {
		t.Errorf("NDR of the removed message:\n%s", ndr)
	}
	if q := queueNamed(queuesOf(t, s.data), "[127.0.0.1]:"+fmt.Sprint(dead)); q != nil {
		t.Errorf("the delivery queue still lists %+v", q)
	}

	// The tracking log has the whole story of the message, found by its sender.
	time.Sleep(1200 * time.Millisecond) // the writer flushes every second
	out, _, _ = exlab(t, "tracking", "search", "--data", s.data, "--sender", "user1@contoso.test")
	for _, ev := range []string{"RECEIVE  SMTP", "DEFER    SMTP", "FAIL     ADMIN"} {
		if !strings.Contains(out, ev) {
			t.Errorf("tracking search lacks %s:\n%s", ev, out)
		}
	}
	// The NDR is its own message (null sender) whose DSN event refers to the original.
	out, _, _ = exlab(t, "tracking", "search", "--data", s.data, "--event-id", "DSN", "--recipient", "user1@contoso.test", "--format", "json")
	var dsn []transport.TrackingEntry
	if err := json.Unmarshal([]byte(out), &dsn); err != nil || len(dsn) != 1 || dsn[0]["reference"] != ms[0].InternetMessageId ||
		dsn[0]["source"] != "DSN" {
		t.Errorf("DSN event: %s", out)
	}
	if out, _, _ := exlab(t, "tracking", "search", "--data", s.data, "--event-id", "DELIVER", "--recipient", "user1@contoso.test"); !strings.Contains(out, "Undeliverable: waiting") {
		t.Errorf("the NDR's delivery is not tracked:\n%s", out)
	}
}

// TestExpiryAndDelayDSN: with the timeouts compressed, the sender first gets a delay DSN, then
// the NDR of an expired message (R79).
func TestExpiryAndDelayDSN(t *testing.T) {
	dead := freePort(t)
	cfg := queueLab(dead, "    QueueGlitchRetryInterval: \"00:00:00.5\"\n    TransientFailureRetryInterval: \"00:00:00.5\"\n"+
		"    DelayNotificationTimeout: \"00:00:01\"\n    MessageExpirationTimeout: \"00:00:03\"")
	s := startServer(t, cfg, "")
	if err := sendMail(t, s.address("Default Frontend EX01"), "user1@contoso.test", []string{"joe@fabrikam.test"},
		"Subject: slow\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 2)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	delay := strings.Index(out, "Subject: Delivery delayed:slow")
	expired := strings.Index(out, "Subject: Undeliverable: slow")
	if delay < 0 || expired < delay {
		t.Fatalf("want a delay DSN, then the NDR:\n%s", out)
	}
	for _, want := range []string{"Delivery is delayed to these recipients or groups:", "Action: delayed", "Status: 4.4.7",
		"Diagnostic-Code: smtp;400 4.4.7 Message delayed", "Will-Retry-Until: ",
		"Diagnostic-Code: smtp;550 4.4.7 QUEUE.Expired; message expired", "Action: failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("DSNs lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestKillDuringLoad: kill -9 of the server while clients send (to a local mailbox and through
// a send connector) loses no message that got a 250: after a restart each one is in the
// mailbox and reaches the smart host, duplicates at the smart host limited to deliveries that
// were in flight when the process died.
func TestKillDuringLoad(t *testing.T) {
	sh := startSmartHost(t)
	port := 0
	fmt.Sscanf(sh.addr[strings.LastIndexByte(sh.addr, ':')+1:], "%d", &port)
	cfg := queueLab(port, "    QueueGlitchRetryInterval: \"00:00:00.5\"")
	data := t.TempDir()
	s := startServer(t, cfg, data)
	fe := s.address("Default Frontend EX01")

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				subject := fmt.Sprintf("load-%d-%d", g, i)
				c, err := smtp.Dial(fe)
				if err != nil {
					return
				}
				err = c.SendMail("user1@contoso.test", []string{"user1@contoso.test", "joe@fabrikam.test"},
					strings.NewReader("Subject: "+subject+"\r\n\r\nbody\r\n"))
				c.Close()
				if err == nil {
					mu.Lock()
					acked = append(acked, subject)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.exit
	close(stop)
	wg.Wait()
	if len(acked) < 20 {
		t.Fatalf("only %d messages were acknowledged before the kill", len(acked))
	}
	before := len(sh.messages())

	s2 := startServer(t, cfg, data)
	// At least the acknowledged ones: a message committed just before the kill whose 250 was
	// lost is there too, and its sender will send it again (a duplicate Exchange allows).
	var list string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		list, _, _ = exlab(t, "mailbox", "list", "user1@contoso.test", "--data", data)
		var n int
		if i := strings.LastIndex(strings.TrimSpace(list), "\n"); i >= 0 {
			fmt.Sscanf(strings.TrimSpace(list)[i+1:], "%d message(s)", &n)
		}
		if n >= len(acked) {
			break
		}
	}
	for _, subj := range acked {
		if !strings.Contains(list, " "+subj+" ") {
			t.Errorf("acknowledged message %s is not in the mailbox after the restart", subj)
		}
	}
	seen := map[string]int{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		seen = map[string]int{}
		for _, m := range sh.messages() {
			if i := strings.Index(m, "Subject: "); i >= 0 {
				seen[strings.TrimSpace(m[i+9:strings.Index(m[i:], "\r\n")+i])]++
			}
		}
		missing := 0
		for _, subj := range acked {
			if seen[subj] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	dups := 0
	for _, subj := range acked {
		switch n := seen[subj]; {
		case n == 0:
			t.Errorf("acknowledged message %s never reached the smart host", subj)
		case n > 1:
			dups += n - 1
		}
	}
	srv := config.Default().Servers[0]
	if dups > srv.MaxConcurrentMailboxDeliveries {
		t.Errorf("%d duplicates at the smart host; at most %d deliveries can be in flight", dups, srv.MaxConcurrentMailboxDeliveries)
	}
	t.Logf("%d acknowledged before kill -9, %d at the smart host before it, %d duplicates after the restart", len(acked), before, dups)
	s2.stop()
}

// TestBackPressure: with QueueLength thresholds of a few messages and the smart host down, new
// mail from the Internet gets R34 (452 4.3.1) once the queue is at Medium, and is accepted again
// once the queue has drained below MediumToLow.
func TestBackPressure(t *testing.T) {
	port := freePort(t)
	cfg := queueLab(port, "    QueueGlitchRetryInterval: \"00:00:00.3\"\n    BackPressure:\n      ResourceMeteringInterval: \"00:00:00.2\"\n"+
		"      QueueLength: {LowToMedium: 3, MediumToHigh: 100, HighToMedium: 50, MediumToLow: 1}")
	s := startServer(t, cfg, "")
	fe := s.address("Default Frontend EX01")
	for i := 0; i < 3; i++ {
		if err := sendMail(t, fe, "a@example.org", []string{"joe@fabrikam.test"}, fmt.Sprintf("Subject: q%d\r\n\r\nx\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = sendMail(t, fe, "a@example.org", []string{"user1@contoso.test"}, "Subject: more\r\n\r\nx\r\n"); err != nil {
			break
		}
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) || se.Message != "Insufficient system resources" {
		t.Fatalf("under pressure: %v", err)
	}
	if !strings.Contains(s.stderr(), "EventID=15004") || !strings.Contains(s.stderr(), "The resource pressure increased from Normal to Medium") {
		t.Errorf("no Event 15004:\n%s", s.stderr())
	}
	// The next hop comes up; the queue drains and mail is accepted again.
	startSmartHostOn(t, fmt.Sprintf("127.0.0.1:%d", port))
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = sendMail(t, fe, "a@example.org", []string{"user1@contoso.test"}, "Subject: later\r\n\r\nx\r\n"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
	if !strings.Contains(s.stderr(), "EventID=15005") {
		t.Errorf("no Event 15005")
	}
}

// TestDSNParameters: RET, ENVID, NOTIFY and ORCPT (RFC 3461) shape the DSNs the sender gets:
// Delivered for a mailbox and Relayed for a smart host when NOTIFY=SUCCESS, an NDR with the
// envelope id, the original recipient and headers only for NOTIFY=FAILURE, nothing for
// NOTIFY=NEVER.
func TestDSNParameters(t *testing.T) {
	sh := startSmartHost(t)
	port := 0
	fmt.Sscanf(sh.addr[strings.LastIndexByte(sh.addr, ':')+1:], "%d", &port)
	s := startServer(t, queueLab(port, ""), "")
	c, err := smtp.Dial(s.address("Default Frontend EX01"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("user1@contoso.test", &smtp.MailOptions{Return: smtp.DSNReturnHeaders, EnvelopeID: "env-42"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		to     string
		notify []smtp.DSNNotify
		orcpt  string
	}{
		{"admin@contoso.test", []smtp.DSNNotify{smtp.DSNNotifySuccess}, ""},
		{"nobody@contoso.test", []smtp.DSNNotify{smtp.DSNNotifyFailure}, "orig-nobody@contoso.test"},
		{"ghost@contoso.test", []smtp.DSNNotify{smtp.DSNNotifyNever}, ""},
		{"joe@fabrikam.test", []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}, ""},
	} {
		o := &smtp.RcptOptions{Notify: r.notify}
		if r.orcpt != "" {
			o.OriginalRecipientType, o.OriginalRecipient = smtp.DSNAddressTypeRFC822, r.orcpt
		}
		if err := c.Rcpt(r.to, o); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "Subject: dsn\r\nX-Marker: original\r\n\r\nsecret body\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 3)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	for _, want := range []string{
		"Subject: Delivered: dsn", "Your message has been delivered to the following recipients:", "Action: delivered",
		"Subject: Relayed: dsn", "Final-Recipient: rfc822;joe@fabrikam.test", "Action: relayed",
		"Subject: Undeliverable: dsn", "Original-Envelope-Id: env-42", "Original-Recipient: rfc822;orig-nobody@contoso.test",
		"Final-Recipient: rfc822;nobody@contoso.test", "Content-Type: text/rfc822-headers",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("DSNs lack %q", want)
		}
	}
	if strings.Contains(out, "ghost@contoso.test") || strings.Contains(out, "secret body") {
		t.Errorf("NOTIFY=NEVER or RET=HDRS not honoured")
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestQueueRetry: a recipient no connector routes waits in EX01\Unreachable; once a send
// connector is added (exlab config apply), Retry-Queue -Resubmit routes it out; a delivery
// queue in Retry is attempted at once by exlab queue retry, not after its interval.
func TestQueueRetry(t *testing.T) {
	sh := startSmartHost(t)
	port := 0
	fmt.Sscanf(sh.addr[strings.LastIndexByte(sh.addr, ':')+1:], "%d", &port)
	dead := freePort(t)
	base := deadSmartHostConfig(dead)
	dir := t.TempDir()
	cfgPath := dir + "/org.yaml"
	writeFile(t, cfgPath, base)
	data := t.TempDir()
	s := startServerFile(t, cfgPath, data)
	c := dialSubmission(t, s.address("Client Frontend EX01"), "user1@contoso.test", "P@ssw0rd")
	if err := c.SendMail("user1@contoso.test", []string{"joe@fabrikam.test", "ann@tailspin.test"}, strings.NewReader("Subject: stuck\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	var qs []transport.QueueInfo
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		qs = queuesOf(t, data)
		if u, d := queueNamed(qs, "Unreachable Domain"), queueNamed(qs, fmt.Sprintf("[127.0.0.1]:%d", dead)); u != nil && u.MessageCount == 1 &&
			d != nil && d.Status == "Retry" {
			break
		}
	}
	if u := queueNamed(qs, "Unreachable Domain"); u == nil || u.MessageCount != 1 || u.Identity != `EX01\Unreachable` || u.DeliveryType != "Unreachable" ||
		!strings.Contains(u.LastError, "no route") {
		t.Fatalf("queues: %+v", qs)
	}

	// Route fabrikam.test through the smart host that is up, and point Tailspin at it too.
	withRoute := strings.Replace(base, "\nSendConnectors:", fmt.Sprintf(`
SendConnectors:
  - Name: Fabrikam
    AddressSpaces: ["SMTP:fabrikam.test;1"]
    SmartHosts: ["[127.0.0.1]:%d"]`, port), 1)
	writeFile(t, cfgPath, withRoute)
	if out, errOut, code := exlab(t, "config", "apply", cfgPath, "--data", data); code != 0 {
		t.Fatalf("config apply: %s %s", out, errOut)
	}
	if out, errOut, code := exlab(t, "queue", "retry", `EX01\Unreachable`, "--resubmit", "--data", data); code != 0 ||
		!strings.Contains(out, "1 message(s)") {
		t.Fatalf("queue retry: %s %s", out, errOut)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(sh.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := sh.messages(); len(got) != 1 || !strings.HasPrefix(got[0], "RCPT TO:<joe@fabrikam.test>") {
		t.Fatalf("after resubmitting, the smart host got %q", got)
	}
	// Tailspin's queue waits 10 minutes for its next glitch retry; Retry-Queue does not wait.
	sh2 := startSmartHostOn(t, fmt.Sprintf("127.0.0.1:%d", dead))
	if out, errOut, code := exlab(t, "queue", "retry", fmt.Sprintf(`EX01\[127.0.0.1]:%d`, dead), "--data", data); code != 0 {
		t.Fatalf("queue retry: %s %s", out, errOut)
	}
	for deadline := time.Now().Add(10 * time.Second); len(sh2.messages()) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := sh2.messages(); len(got) != 1 || !strings.HasPrefix(got[0], "RCPT TO:<ann@tailspin.test>") {
		t.Fatalf("after Retry-Queue the Tailspin host got %q", got)
	}
	if _, errOut, code := exlab(t, "queue", "retry", `EX01\Nowhere`, "--data", data); code == 0 || !strings.Contains(errOut, "was not found") {
		t.Errorf("retrying a queue that does not exist: %d %s", code, errOut)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// deadSmartHostConfig is the lab organization with a send connector for tailspin.test to a
// loopback port nothing listens on, and a glitch retry long enough that its messages stay in
// their queue while a test looks at them.
func deadSmartHostConfig(dead int) string {
	return labConfig(func(s string) string {
		s = strings.Replace(s, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n    QueueGlitchRetryInterval: \"00:10:00\"", 1)
		return strings.Replace(s, "\nSendConnectors: []", fmt.Sprintf(`
SendConnectors:
  - Name: Tailspin
    AddressSpaces: ["SMTP:tailspin.test;1"]
    SmartHosts: ["[127.0.0.1]:%d"]`, dead), 1)
	})
}
