package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// The organization of docs/examples/two-servers.yaml run as two processes on one machine, each
// server on a loopback address of its own (Linux routes all of 127.0.0.0/8 to lo) with
// Exchange's real ports, so that each server's connectors are where the other dials them
// (ReceiveConnector.PeerAddress: a specific binding as it is).

// twoServers is a running EX01 and EX02 of the example organization.
type twoServers struct {
	cfg  string // the organization file
	ip   map[string]string
	data map[string]string
	srv  map[string]*server
	t    *testing.T
}

var bindingLine = regexp.MustCompile(`(?m)^(\s+)Bindings: \[.*\]$`)

// twoServerConfig is the example with each server's connectors bound to ip[server] (the port
// of their first binding), no tarpits, protocol logs on, a one-second retry.
func twoServerConfig(t *testing.T, ip map[string]string) string {
	b, err := os.ReadFile("../../docs/examples/two-servers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	server := ""
	for i, l := range lines {
		if m := regexp.MustCompile(`^\s+Server: (EX0\d)$`).FindStringSubmatch(l); m != nil {
			server = m[1]
		}
		if bindingLine.MatchString(l) {
			if server == "" {
				t.Fatalf("line %d: Bindings before Server", i+1)
			}
			port := regexp.MustCompile(`:(\d+)"`).FindStringSubmatch(l)[1]
			lines[i] = bindingLine.ReplaceAllString(l, fmt.Sprintf(`${1}Bindings: ["%s:%s"]`, ip[server], port))
		}
		if strings.HasPrefix(l, "  - Name: ") {
			server = ""
		}
	}
	s := strings.Join(lines, "\n")
	s = strings.ReplaceAll(s, `TarpitInterval: "00:00:05"`, `TarpitInterval: "00:00:00"`)
	s = strings.ReplaceAll(s, "ProtocolLoggingLevel: None", "ProtocolLoggingLevel: Verbose")
	for _, srv := range []string{"DB01", "DB02"} {
		s = strings.Replace(s, "    MailboxDatabase: "+srv+"\n", "    MailboxDatabase: "+srv+"\n    QueueGlitchRetryInterval: \"00:00:01\"\n"+
			"    MailboxDeliveryConnectorProtocolLoggingLevel: Verbose\n    ProxyConnectTimeout: \"00:00:03\"\n", 1)
	}
	return noTarpits(s)
}

// startTwoServers starts EX02, then EX01, on two fresh loopback addresses.
func startTwoServers(t *testing.T) *twoServers { return startTwoServersWith(t, nil) }

// startTwoServersWith is startTwoServers with edit applied to the organization file.
func startTwoServersWith(t *testing.T, edit func(string) string) *twoServers {
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("binds Exchange's ports below 1024 on loopback addresses: needs root (CI runs it)")
	}
	a, b := 1+rand.IntN(250), 1+rand.IntN(250)
	ts := &twoServers{t: t, ip: map[string]string{"EX01": fmt.Sprintf("127.%d.%d.11", a, b), "EX02": fmt.Sprintf("127.%d.%d.12", a, b)},
		data: map[string]string{"EX01": t.TempDir(), "EX02": t.TempDir()}, srv: map[string]*server{}}
	ts.cfg = filepath.Join(t.TempDir(), "two-servers.yaml")
	cfg := twoServerConfig(t, ts.ip)
	if edit != nil {
		cfg = edit(cfg)
	}
	if err := os.WriteFile(ts.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ts.start("EX02")
	ts.start("EX01")
	return ts
}

func (ts *twoServers) start(name string) *server {
	ts.t.Helper()
	s := startService(ts.t, "serve", "", ts.data[name], "--config", ts.cfg, "--server", name)
	ts.srv[name] = s
	return s
}

// kill ends a server with SIGKILL, as a crash would.
func (ts *twoServers) kill(name string) {
	s := ts.srv[name]
	_ = s.cmd.Process.Kill()
	<-s.exit
}

// send sends one message to EX01's Default Frontend and returns the final reply's text.
func (ts *twoServers) send(to []string, subject string) (string, error) {
	ts.t.Helper()
	c, err := smtp.Dial(ts.ip["EX01"] + ":25")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		return "", err
	}
	if err := c.Mail("sender@example.org", nil); err != nil {
		return "", err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(w, "From: sender@example.org\r\nSubject: %s\r\n\r\nbody\r\n", subject)
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	_ = c.Quit()
	return resp.StatusText, nil
}

// fileLines waits until the files matching glob have a line containing every one of want.
func fileLines(t *testing.T, glob string, want ...string) string {
	t.Helper()
	var found string
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(glob)
		var all strings.Builder
		for _, f := range files {
			b, _ := os.ReadFile(f)
			all.Write(b)
			for l := range strings.SplitSeq(string(b), "\n") {
				ok := true
				for _, w := range want {
					ok = ok && strings.Contains(l, w)
				}
				if ok {
					found = l
					return found
				}
			}
		}
		if time.Now().After(deadline) {
			dump := all.String()
			if len(dump) > 4000 {
				dump = "…" + dump[len(dump)-4000:]
			}
			t.Fatalf("waited 10s for a line of %s with %q; the files (%d) hold:\n%s", glob, want, len(files), dump)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwoServersRouting: a message received on EX01's frontend for a mailbox homed on EX02
// is proxied to EX02's hub (the frontend picks the recipients' home server, spec §6.1) and
// delivered there; a message for mailboxes on both goes to one hub, which delivers the other
// server's mailbox through that server's Mailbox Transport Delivery (475, an
// SmtpDeliveryToMailbox queue named after its database). Each hop is in the protocol logs,
// the Received: headers and the tracking logs of both sides.
func TestTwoServersRouting(t *testing.T) {
	ts := startTwoServers(t)
	ex01, ex02 := ts.data["EX01"], ts.data["EX02"]

	rep, err := ts.send([]string{"user1@contoso.test"}, "to EX02")
	if err != nil || !strings.Contains(rep, "Hostname=ex02.contoso.test") {
		t.Fatalf("for a mailbox homed on EX02: %q, %v (want EX02's hub's reply)", rep, err)
	}
	waitMailbox(t, ex02, "user1@contoso.test", 1)
	// The frontend's SmtpSend log on EX01 and the hub's SmtpReceive log on EX02 have the hop.
	fileLines(t, filepath.Join(ex01, "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpSend/*.LOG"), ts.ip["EX02"]+":2525", "XPROXYFROM")
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/Hub/ProtocolLog/SmtpReceive/*.LOG"), `EX02\Default EX02`, ts.ip["EX01"], "X-EXPS")

	rep, err = ts.send([]string{"administrator@contoso.test", "user1@contoso.test"}, "to both")
	if err != nil || !strings.Contains(rep, "Hostname=ex01.contoso.test") {
		t.Fatalf("for mailboxes on EX01 and EX02 (EX01 first): %q, %v (want EX01's hub's reply)", rep, err)
	}
	waitMailbox(t, ex01, "administrator@contoso.test", 1)
	out := waitMailbox(t, ex02, "user1@contoso.test", 2)
	if !strings.Contains(out, "to both") {
		t.Fatalf("EX02's mailbox of user1:\n%s", out)
	}
	// EX01's hub sent it to EX02's Mailbox Delivery: SEND in EX01's tracking log with the
	// endpoint, the session in EX01's hub SmtpSend log; DELIVER in EX02's MSGTRKMD log, the
	// session in EX02's Mailbox Delivery SmtpReceive log.
	mbx := ts.ip["EX02"] + ":475"
	fileLines(t, filepath.Join(ex01, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"),
		ts.ip["EX02"]+",,Intra-Organization SMTP Send Connector,SMTP,SEND", "user1@contoso.test", "Hostname=ex02.contoso.test", "to both")
	fileLines(t, filepath.Join(ex01, "TransportRoles/Logs/Hub/ProtocolLog/SmtpSend/*.LOG"), mbx, "RCPT TO:<user1@contoso.test>")
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/MessageTracking/MSGTRKMD*.LOG"), "STOREDRIVER,DELIVER", "user1@contoso.test", "to both")
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/Mailbox/ProtocolLog/SmtpReceive/Delivery/*.LOG"),
		"Default Mailbox Delivery EX02", ts.ip["EX01"])
	// EX01 does not write the delivery EX02 made.
	if l := findLine(filepath.Join(ex01, "TransportRoles/Logs/MessageTracking/MSGTRKMD*.LOG"), "DELIVER", "user1@contoso.test"); l != "" {
		t.Errorf("EX01's MSGTRKMD log has EX02's delivery: %s", l)
	}
	show, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", ex02)
	i := strings.Index(show, "Subject: to both")
	if i < 0 {
		t.Fatalf("mailbox show:\n%s", show)
	}
	msg := show[strings.LastIndex(show[:i], "==== "):i]
	msg = regexp.MustCompile(`\r?\n[ \t]+`).ReplaceAllString(msg, " ") // unfolded
	for _, want := range []string{
		"Received: from ex01.contoso.test (" + ts.ip["EX01"] + ") by ex02.contoso.test", // Mailbox Transport on EX02
		"by ex01.contoso.test (" + ts.ip["EX01"] + ") with Microsoft SMTP Server",       // EX01's hub, from its frontend
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message in EX02's mailbox lacks %q:\n%s", want, show)
		}
	}
}

// findLine is the first line of the files of glob with every one of want, or "".
func findLine(glob string, want ...string) string {
	files, _ := filepath.Glob(glob)
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for l := range strings.SplitSeq(string(b), "\n") {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				return l
			}
		}
	}
	return ""
}

// TestTwoServersFailover: with EX02 gone, EX01's frontend proxies EX02's mail to EX01's own
// hub (the client sees no PRX), which queues it for DB02 until EX02 is back; EX02 is skipped
// while down and chosen again once it answers. A hub that answers the session's set-up with a
// 4xx is passed over too.
func TestTwoServersFailover(t *testing.T) {
	ts := startTwoServers(t)
	ex01, ex02 := ts.data["EX01"], ts.data["EX02"]
	ts.kill("EX02")
	rep, err := ts.send([]string{"user1@contoso.test"}, "while EX02 is down")
	if err != nil || !strings.Contains(rep, "Hostname=ex01.contoso.test") {
		t.Fatalf("with EX02 down: %q, %v (want EX01's hub to take it)", rep, err)
	}
	if !strings.Contains(ts.srv["EX01"].stderr(), "a hub does not answer") {
		t.Errorf("EX01 did not say that EX02's hub is down:\n%s", ts.srv["EX01"].stderr())
	}
	waitUntil(t, 10*time.Second, "EX01's queue for DB02", func() bool {
		out, _, _ := exlab(t, "queue", "get", "--data", ex01)
		return strings.Contains(out, "DB02") && strings.Contains(out, "SmtpDeliveryToMailbox")
	})
	// EX02 comes back with its Default connector refusing EHLO with a 4xx: once the frontend's
	// probe has seen its banner (EX02 is no longer down), EX02's mail goes to EX02 first, is
	// refused at the session's set-up, and goes to EX01's hub (a new session: the fault is set
	// before EX01's frontend has one pooled to EX02).
	ts.start("EX02")
	if out, errOut, code := exlab(t, "fault", "set", "--data", ex02, "--name", "busy", "--connector", "Default EX02",
		"--step", "Ehlo", "--reply-id", "R05"); code != 0 {
		t.Fatalf("fault set: %s%s", out, errOut)
	}
	waitMailbox(t, ex02, "user1@contoso.test", 1) // retried by EX01's hub once EX02 listens
	waitUntil(t, 10*time.Second, "EX01's frontend to see EX02's banner again", func() bool {
		return strings.Contains(ts.srv["EX01"].stderr(), "a hub answers again")
	})
	rep, err = ts.send([]string{"user1@contoso.test"}, "EX02 busy")
	if err != nil || !strings.Contains(rep, "Hostname=ex01.contoso.test") {
		t.Fatalf("with EX02 refusing EHLO: %q, %v (want EX01's hub to take it)", rep, err)
	}
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/Hub/ProtocolLog/SmtpReceive/*.LOG"),
		`EX02\Default EX02`, ts.ip["EX01"], "421 4.3.2")
	// The fault cleared, EX02 takes its mail again.
	if out, errOut, code := exlab(t, "fault", "clear", "--data", ex02); code != 0 {
		t.Fatalf("fault clear: %s%s", out, errOut)
	}
	rep, err = ts.send([]string{"user1@contoso.test"}, "after EX02 is back")
	if err != nil || !strings.Contains(rep, "Hostname=ex02.contoso.test") {
		t.Fatalf("with EX02 back: %q, %v (want EX02's hub)", rep, err)
	}
	waitMailbox(t, ex02, "user1@contoso.test", 3)

	// EX01's frontend now holds a pooled session to EX02's hub. EX02 stopping (SIGTERM) or
	// dying (SIGKILL) ends it; the next message finds that out before it is sent and goes to
	// EX01's hub, not to the client as a PRX reply.
	for _, how := range []string{"stop", "kill"} {
		if how == "stop" {
			ts.srv["EX02"].stop()
		} else {
			ts.start("EX02")
			waitUntil(t, 10*time.Second, "EX01's frontend to choose EX02 again", func() bool {
				rep, err := ts.send([]string{"user1@contoso.test"}, "EX02 again")
				return err == nil && strings.Contains(rep, "Hostname=ex02.contoso.test")
			})
			ts.kill("EX02")
		}
		rep, err := ts.send([]string{"user1@contoso.test"}, "after EX02 went ("+how+")")
		if err != nil || !strings.Contains(rep, "Hostname=ex01.contoso.test") {
			t.Fatalf("EX02 gone (%s) with a session pooled to it: %q, %v (want EX01's hub)", how, rep, err)
		}
	}
}

// TestTwoServersNoHub: a frontend with no hub that takes the message answers PRX.
func TestTwoServersNoHub(t *testing.T) {
	ts := startTwoServers(t)
	ts.kill("EX02")
	// EX01's own hub refuses at session set-up too: no hub of the site takes the message.
	if out, errOut, code := exlab(t, "fault", "set", "--data", ts.data["EX01"], "--name", "busy", "--connector", "Default EX01",
		"--step", "Ehlo", "--reply-id", "R05"); code != 0 {
		t.Fatalf("fault set: %s%s", out, errOut)
	}
	_, err := ts.send([]string{"user1@contoso.test"}, "nobody takes it")
	var se *smtp.SMTPError
	if !errorsAs(err, &se) || se.Code != 451 || !strings.Contains(se.Message, "PRX") {
		t.Fatalf("with no hub taking it: %v (want 451 4.7.0 … PRXn)", err)
	}
}

// shadowConfig shortens the shadow heartbeat to a second and the resubmit time to three, and
// every retry interval to a second (a server that was down is tried again soon).
func shadowConfig(s string) string {
	s = strings.ReplaceAll(s, "    QueueGlitchRetryInterval: \"00:00:01\"\n", "    QueueGlitchRetryInterval: \"00:00:01\"\n    TransientFailureRetryInterval: \"00:00:01\"\n")
	return s + "\nTransportConfig:\n  ShadowHeartbeatFrequency: \"00:00:01\"\n  ShadowResubmitTimeSpan: \"00:00:03\"\n"
}

// TestTwoServersShadow: a message EX01's hub accepts with a recipient left to deliver (user1,
// homed on EX02) gets a shadow copy on EX02 before the 250 (HAREDIRECT on EX01 with EX02's
// R50, HARECEIVE on EX02); once EX01 has delivered it, EX02 discards the copy at its next
// heartbeat (HADISCARD). When EX01 dies holding a message (EX02's Mailbox Delivery refusing
// it for a while), EX02 resubmits its copy after ShadowResubmitTimeSpan and delivers it
// ("with ShadowRedundancy", RESUBMIT); EX01, started again, delivers its own: the duplicate
// Exchange makes too.
func TestTwoServersShadow(t *testing.T) {
	ts := startTwoServersWith(t, shadowConfig)
	ex01, ex02 := ts.data["EX01"], ts.data["EX02"]
	both := []string{"administrator@contoso.test", "user1@contoso.test"}
	rep, err := ts.send(both, "shadowed")
	if err != nil || !strings.Contains(rep, "Hostname=ex01.contoso.test") {
		t.Fatalf("for mailboxes on EX01 and EX02: %q, %v (want EX01's hub)", rep, err)
	}
	fileLines(t, filepath.Join(ex01, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"),
		`"ex02.contoso.test=250 2.6.0 <`, "Queued mail for redundancy", "SMTP,HAREDIRECT", "user1@contoso.test", "shadowed")
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"), "SMTP,HARECEIVE", "user1@contoso.test", "shadowed")
	waitMailbox(t, ex02, "user1@contoso.test", 1)
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"), "REDUNDANCY,HADISCARD", "user1@contoso.test", "shadowed")
	// The shadow session is in EX01's SmtpSend log and EX02's SmtpReceive log.
	fileLines(t, filepath.Join(ex01, "TransportRoles/Logs/Hub/ProtocolLog/SmtpSend/*.LOG"), ts.ip["EX02"]+":2525", "XSHADOWREQUEST ex01.contoso.test ")
	fileLines(t, filepath.Join(ex01, "TransportRoles/Logs/Hub/ProtocolLog/SmtpReceive/*.LOG"), `EX01\Default EX01`, ts.ip["EX02"], "XQDISCARD ex02.contoso.test")

	// EX02's Mailbox Delivery refuses for now: EX01 keeps user1's copy queued, EX02 its shadow.
	if out, errOut, code := exlab(t, "fault", "set", "--data", ex02, "--name", "busy", "--connector", "Default Mailbox Delivery EX02",
		"--step", "Rcpt", "--reply-id", "R05"); code != 0 {
		t.Fatalf("fault set: %s%s", out, errOut)
	}
	if rep, err = ts.send(both, "primary dies"); err != nil || !strings.Contains(rep, "Hostname=ex01.contoso.test") {
		t.Fatalf("second message: %q, %v (want EX01's hub)", rep, err)
	}
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"), "SMTP,HARECEIVE", "user1@contoso.test", "primary dies")
	waitUntil(t, 10*time.Second, "EX01's queue for DB02 to hold the message", func() bool {
		out, _, _ := exlab(t, "queue", "get", "--data", ex01)
		return strings.Contains(out, "DB02") && strings.Contains(out, "Retry")
	})
	// Get-Queue on EX02 lists the copy in a shadow queue for EX01.
	if out, _, _ := exlab(t, "queue", "get", "--data", ex02); !regexp.MustCompile(`EX02\\Shadow\\\d+\s+ShadowRedundancy\s+Ready\s+1\s+ex01\.contoso\.test`).MatchString(out) {
		t.Errorf("EX02's Get-Queue has no shadow queue for EX01 with the copy:\n%s", out)
	}
	ts.kill("EX01")
	if out, errOut, code := exlab(t, "fault", "clear", "--data", ex02); code != 0 {
		t.Fatalf("fault clear: %s%s", out, errOut)
	}
	// ShadowResubmitTimeSpan (3 s) after EX02 first found EX01 silent: resubmitted, delivered.
	waitMailbox(t, ex02, "user1@contoso.test", 2)
	show, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", ex02)
	show = regexp.MustCompile(`\r?\n[ \t]+`).ReplaceAllString(show, " ")
	want := "Received: from ex01.contoso.test (" + ts.ip["EX01"] + ") by ex02.contoso.test (" + ts.ip["EX02"] + ") with ShadowRedundancy"
	if k := strings.Index(show, "Subject: primary dies"); k < 0 || !strings.Contains(show[strings.LastIndex(show[:k], "==== "):k], want) {
		t.Errorf("the resubmitted copy in user1's mailbox lacks %q:\n%s", want, show)
	}
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"), "REDUNDANCY,RESUBMIT", "user1@contoso.test", "primary dies")
	if !strings.Contains(ts.srv["EX02"].stderr(), "resubmitting its shadow messages") {
		t.Errorf("EX02 did not say it resubmits:\n%s", ts.srv["EX02"].stderr())
	}
	// EX01 comes back with its queue and delivers its own copy: a duplicate, not a loss.
	ts.start("EX01")
	waitMailbox(t, ex02, "user1@contoso.test", 3)
}

// TestTwoServersSourceTransportServers: a send connector whose SourceTransportServers is EX01
// alone routes mail that EX02's hub accepts: EX02 relays it to EX01's Default connector
// (SmtpRelayToConnectorSourceServers, the Intra-Organization SMTP Send Connector), and EX01
// sends it out through the connector's smart host.
func TestTwoServersSourceTransportServers(t *testing.T) {
	sh := startSmartHost(t)
	ts := startTwoServersWith(t, func(s string) string {
		s = strings.Replace(s, "    SourceTransportServers: [EX01, EX02]\n", "    SourceTransportServers: [EX01]\n", 1)
		s = strings.Replace(s, `SmartHosts: ["[127.0.0.1]:2626"]`, `SmartHosts: ["`+"["+strings.Replace(sh.addr, ":", "]:", 1)+`"]`, 1)
		return strings.Replace(s, "\nMailboxes:", "\n  - Name: fabrikam.test\n    DomainName: fabrikam.test\n    DomainType: ExternalRelay\n\nMailboxes:", 1)
	})
	ex01, ex02 := ts.data["EX01"], ts.data["EX02"]
	// user1 is homed on EX02: EX02's hub takes the message, delivers user1, relays joe.
	rep, err := ts.send([]string{"user1@contoso.test", "joe@fabrikam.test"}, "via EX01")
	if err != nil || !strings.Contains(rep, "Hostname=ex02.contoso.test") {
		t.Fatalf("%q, %v (want EX02's hub)", rep, err)
	}
	waitUntil(t, 15*time.Second, "the smart host to get joe's copy", func() bool { return len(sh.messages()) > 0 })
	got := sh.messages()[0]
	unfolded := regexp.MustCompile(`\r?\n[ \t]+`).ReplaceAllString(got, " ")
	if !strings.HasPrefix(got, "RCPT TO:<joe@fabrikam.test>\n") || !strings.Contains(unfolded, "Received: from ex02.contoso.test ("+ts.ip["EX02"]+") by ex01.contoso.test") {
		t.Errorf("the smart host got:\n%s", got)
	}
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"),
		ts.ip["EX01"]+",,Intra-Organization SMTP Send Connector,SMTP,SEND", "joe@fabrikam.test", "Hostname=ex01.contoso.test", "via EX01")
	fileLines(t, filepath.Join(ex01, "TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG"), ",Internet,SMTP,SEND", "joe@fabrikam.test", "via EX01")
	waitMailbox(t, ex02, "user1@contoso.test", 1)
}

// TestTwoServersEnvelopeRefusedFailover: a hub refusing the envelope with a 4xx (back
// pressure's 452 4.3.1 at MAIL) on a pooled session is passed over for the next hub of the
// site with the same message, as Exchange's frontend does at its proxy step; the client never
// sees the 452.
func TestTwoServersEnvelopeRefusedFailover(t *testing.T) {
	ts := startTwoServers(t)
	ex02 := ts.data["EX02"]
	if rep, err := ts.send([]string{"user1@contoso.test"}, "pooled"); err != nil || !strings.Contains(rep, "Hostname=ex02.contoso.test") {
		t.Fatalf("first message: %q, %v (want EX02's hub)", rep, err)
	}
	if out, errOut, code := exlab(t, "fault", "set", "--data", ex02, "--name", "pressure", "--connector", "Default EX02",
		"--step", "Mail", "--reply-id", "R34"); code != 0 {
		t.Fatalf("fault set: %s%s", out, errOut)
	}
	rep, err := ts.send([]string{"user1@contoso.test"}, "EX02 under pressure")
	if err != nil || !strings.Contains(rep, "Hostname=ex01.contoso.test") {
		t.Fatalf("with EX02 refusing MAIL: %q, %v (want EX01's hub)", rep, err)
	}
	fileLines(t, filepath.Join(ex02, "TransportRoles/Logs/Hub/ProtocolLog/SmtpReceive/*.LOG"), `EX02\Default EX02`, ts.ip["EX01"], ">,452 4.3.1")
	if out, errOut, code := exlab(t, "fault", "clear", "--data", ex02); code != 0 {
		t.Fatalf("fault clear: %s%s", out, errOut)
	}
	if rep, err := ts.send([]string{"user1@contoso.test"}, "EX02 again"); err != nil || !strings.Contains(rep, "Hostname=ex02.contoso.test") {
		t.Fatalf("after the fault: %q, %v (want EX02's hub)", rep, err)
	}
	waitMailbox(t, ex02, "user1@contoso.test", 3)
}
