package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/transport"
)

// End-to-end tests of the Mailbox Transport Delivery service (issue 13, point 7): the hub's
// mailbox deliveries cross the 475 hop, the Mailbox Transport ports answer as a 2019 server's,
// and Get-Queue shows the mailbox database's queue while Mailbox Delivery is held.

// mailboxLab is labConfig with extra server settings.
func mailboxLab(extra string) string {
	return labConfig(func(s string) string {
		return strings.Replace(s, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n"+extra, 1)
	})
}

// trackingEvents returns the tracking log's events of one message as "EVENT SOURCE" in the
// order of their time, once the writers have flushed.
func trackingEvents(t *testing.T, data, messageID string) ([]string, []transport.TrackingEntry) {
	t.Helper()
	time.Sleep(1200 * time.Millisecond) // the writers flush every second
	out, errOut, code := exlab(t, "tracking", "search", "--data", data, "--message-id", messageID, "--format", "json")
	if code != 0 {
		t.Fatalf("tracking search: %d %s", code, errOut)
	}
	var es []transport.TrackingEntry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var evs []string
	for _, e := range es {
		evs = append(evs, e["event-id"]+" "+e["source"])
	}
	return evs, es
}

// TestMailboxTransportHop: a message through 25 reaches the mailbox through Mailbox Delivery:
// the tracking log shows RECEIVE, SEND/SMTP to the 475 connector, DELIVER/STOREDRIVER (spec
// §7.2's sequence, DELIVER in an MSGTRKMD file), and the mailbox copy carries the Mailbox
// Transport's Received: line above the hub's.
func TestMailboxTransportHop(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"},
		"Subject: through 475\r\nMessage-ID: <hop475@example.org>\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
	out, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	mbx := strings.Index(out, " via Mailbox Transport;")
	hub := strings.Index(out, "Received: from ex01.contoso.test (127.0.0.1) by ex01.contoso.test (127.0.0.1)\r\n with Microsoft SMTP Server id 15.2.")
	fe := strings.Index(out, " via Frontend Transport;")
	if mbx < 0 || fe < 0 || hub < 0 || !(mbx < fe) || !strings.HasPrefix(out[strings.Index(out, "Received:"):], "Received: from ex01.contoso.test (127.0.0.1) by ex01.contoso.test (127.0.0.1)\r\n with Microsoft SMTP Server id 15.2.") {
		t.Errorf("the mailbox copy lacks the Mailbox Transport's Received: line on top:\n%s", out)
	}
	evs, es := trackingEvents(t, s.data, "<hop475@example.org>")
	if strings.Join(evs, ",") != "RECEIVE SMTP,SEND SMTP,DELIVER STOREDRIVER" {
		t.Fatalf("tracking events %v", evs)
	}
	send := es[1]
	mbxAddr := s.address("Default Mailbox Delivery EX01")
	if send["server-ip"] != "127.0.0.1" || !strings.HasPrefix(send["recipient-status"], "250 2.6.0 <hop475@example.org> [InternalId=") ||
		send["recipient-address"] != "user1@contoso.test" || send["connector-id"] != "Intra-Organization SMTP Send Connector" {
		t.Errorf("SEND event %v (Mailbox Delivery at %s)", send, mbxAddr)
	}
	if es[2]["recipient-status"] != "250 2.1.5 Recipient OK" {
		t.Errorf("DELIVER event %v", es[2])
	}
	md, _ := filepath.Glob(filepath.Join(s.data, "TransportRoles", "Logs", "MessageTracking", "MSGTRKMD*.LOG"))
	if len(md) != 1 {
		t.Fatalf("MSGTRKMD files: %v", md)
	}
	if b, _ := os.ReadFile(md[0]); !strings.Contains(string(b), ",STOREDRIVER,DELIVER,") || strings.Contains(string(b), ",RECEIVE,") {
		t.Errorf("MSGTRKMD log:\n%s", b)
	}
	// Nothing stays in the hub's queues.
	for _, q := range queuesOf(t, s.data) {
		if q.MessageCount != 0 {
			t.Errorf("queue %+v", q)
		}
	}
}

// TestMailboxTransportTranscript: 475, 476 and 477 as the SANS SEC560 masscan of a 2019 server
// shows them (spec §13.20): the upper-case R94 banner and R95 for a command before EHLO. The
// EHLO list is inferred (no capture): the hub connector's keywords for an Exchange server, no
// AUTH. Anonymous clients may not submit.
func TestMailboxTransportTranscript(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	script := `S~ 220 ex01\.contoso\.test MICROSOFT ESMTP MAIL SERVICE READY AT (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}
C: MAIL FROM:<a@example.org>
S: 503 5.5.1 Bad sequence of commands
C: AUTH TLS
S: 503 5.5.1 Bad sequence of commands
C: EHLO client.example
S: 250-ex01.contoso.test Hello [127.0.0.1]
S: 250-SIZE
S: 250-PIPELINING
S: 250-DSN
S: 250-ENHANCEDSTATUSCODES
S: 250-STARTTLS
S: 250-X-ANONYMOUSTLS
S: 250-X-EXPS GSSAPI NTLM
S: 250-8BITMIME
S: 250-BINARYMIME
S: 250-CHUNKING
S: 250-SMTPUTF8
S: 250 XRDST
C: MAIL FROM:<a@example.org>
S: 530 5.7.1 Client was not authenticated
C: QUIT
S: 221 2.0.0 Service closing transmission channel
`
	for _, name := range []string{"Default Mailbox Delivery EX01", "Mailbox Transport 476 EX01", "Mailbox Transport 477 EX01"} {
		t.Run(name, func(t *testing.T) { runTranscript(t, s.address(name), script) })
	}
}

// TestMailboxDeliveryHeld: while a fault holds Default Mailbox Delivery <SERVER> (every MAIL
// answered 451), the hub still takes the message, Get-Queue shows it in the
// SmtpDeliveryToMailbox queue of the mailbox database with the reply as LastError, and
// Retry-Queue delivers it once the fault is cleared.
func TestMailboxDeliveryHeld(t *testing.T) {
	s := startServer(t, mailboxLab("    MailboxDatabase: Mailbox Database 0471695037"), "")
	if _, errOut, code := exlab(t, "fault", "set", "--data", s.data, "--name", "store-down", "--connector", "Default Mailbox Delivery EX01",
		"--step", "Mail", "--reply", "451 4.3.2 Mailbox database offline"); code != 0 {
		t.Fatalf("fault set: %s", errOut)
	}
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"user1@contoso.test"},
		"Subject: held\r\n\r\nbody\r\n"); err != nil {
		t.Fatalf("the hub refused while Mailbox Delivery is held: %v", err)
	}
	q := queueNamed(queuesOf(t, s.data), "Mailbox Database 0471695037")
	if q == nil || q.DeliveryType != "SmtpDeliveryToMailbox" || q.MessageCount != 1 || q.Status != "Retry" ||
		!strings.Contains(q.LastError, "{LED=451 4.3.2 Mailbox database offline}") {
		t.Fatalf("Get-Queue: %+v", queuesOf(t, s.data))
	}
	out, _, _ := exlab(t, "queue", "get", "--data", s.data)
	if !strings.Contains(out, "SmtpDeliveryToMailbox") || !strings.Contains(out, "Mailbox Database 0471695037") {
		t.Errorf("queue get:\n%s", out)
	}
	if out, _, _ := exlab(t, "mailbox", "list", "user1@contoso.test", "--data", s.data); !strings.Contains(out, "0 message(s)") {
		t.Fatalf("delivered while held:\n%s", out)
	}
	exlab(t, "fault", "clear", "store-down", "--data", s.data)
	if _, errOut, code := exlab(t, "queue", "retry", q.Identity, "--data", s.data); code != 0 {
		t.Fatalf("queue retry: %s", errOut)
	}
	waitMailbox(t, s.data, "user1@contoso.test", 1)
}

// TestMailboxDeliveryOverTcp: MailboxDeliveryTransport Tcp sends the hub's mailbox deliveries
// over loopback to the 475 binding; with MailboxDeliveryConnectorProtocolLoggingLevel Verbose the
// sessions are in the Mailbox Transport Delivery service's own protocol log folder (spec §7.1).
func TestMailboxDeliveryOverTcp(t *testing.T) {
	s := startServer(t, mailboxLab("    MailboxDeliveryTransport: Tcp\n    MailboxDeliveryConnectorProtocolLoggingLevel: Verbose"), "")
	if err := sendMail(t, s.address("Default Frontend EX01"), "a@example.org", []string{"admin@contoso.test"},
		"Subject: over tcp\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, s.data, "administrator@contoso.test", 1)
	mbx := s.address("Default Mailbox Delivery EX01")
	s.stop() // the hub's pooled session to 475 ends, and with it the session's log lines
	files, _ := filepath.Glob(filepath.Join(s.data, "TransportRoles", "Logs", "Mailbox", "ProtocolLog", "SmtpReceive", "Delivery", "*.LOG"))
	if len(files) == 0 {
		t.Fatalf("no Delivery protocol log files")
	}
	var log string
	for _, f := range files { // two when the test crosses the hour
		b, _ := os.ReadFile(f)
		log += string(b)
	}
	for _, want := range []string{"EX01\\Default Mailbox Delivery EX01,", "," + mbx + ",127.0.0.1:", "MICROSOFT ESMTP MAIL SERVICE READY AT",
		"<,MAIL FROM:<a@example.org>", "<,RCPT TO:<admin@contoso.test>", ">,334 <authentication response>,", ",-,,Local"} {
		if !strings.Contains(log, want) {
			t.Errorf("the Delivery protocol log lacks %q:\n%s", want, log)
		}
	}
}

// needTool returns the path of a real client, skipping the test when it is not installed
// (failing instead when CI is set: .ci/run installs them).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// TestMailboxTransportRealClients: swaks and nmap's smtp-commands script against 475 see what
// the SANS SEC560 scan of a 2019 server saw (spec §13.20): the upper-case banner, and a server
// that takes no mail from a client that is not an Exchange server.
func TestMailboxTransportRealClients(t *testing.T) {
	swaks, nmap := needTool(t, "swaks"), needTool(t, "nmap")
	s := startServer(t, labConfig(nil), "")
	addr := s.address("Default Mailbox Delivery EX01")
	host, port, _ := net.SplitHostPort(addr)
	out, _ := exec.Command(swaks, "--server", host, "--port", port, "--from", "a@example.org", "--to", "user1@contoso.test",
		"--timeout", "10").CombinedOutput()
	for _, want := range []string{"<-  220 ex01.contoso.test MICROSOFT ESMTP MAIL SERVICE READY AT ", "<-  250-X-EXPS GSSAPI NTLM",
		"<** 530 5.7.1 Client was not authenticated"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("swaks lacks %q:\n%s", want, out)
		}
	}
	out, err := exec.Command(nmap, "-Pn", "-n", "-p", port, "--script", "+smtp-commands", host).CombinedOutput() // "+": on an ephemeral port too
	if err != nil {
		t.Fatalf("nmap: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ex01.contoso.test Hello") || !strings.Contains(string(out), "X-EXPS GSSAPI NTLM") ||
		!strings.Contains(string(out), "CHUNKING") {
		t.Errorf("nmap smtp-commands:\n%s", out)
	}
}
