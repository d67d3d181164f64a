package transport

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpwire"
)

var update = flag.Bool("update", false, "rewrite testdata/dsn/*.golden from the DSN writer's output")

// TestDSNGolden renders one DSN of each kind Exchange sends and compares it byte for byte with
// testdata/dsn/<name>.golden (go test ./transport -run DSNGolden -update rewrites them). The
// GUIDs count up and the clock and time zone are fixed, so the output is stable.
func TestDSNGolden(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	arrived := time.Date(2024, 3, 13, 9, 1, 17, 0, time.UTC)
	now := arrived.Add(4*time.Hour + 3*time.Minute)
	body := []byte("Received: from mta.example (203.0.113.7) by ex01.contoso.test\r\nFrom: <sender@example.org>\r\n" +
		"To: <rcpt@contoso.test>\r\nSubject: Quarterly figures\r\nMessage-ID: <q1@example.org>\r\n\r\nThe figures.\r\n")
	msg := func(ret string, rcpts ...queue.Recipient) *queue.Message {
		return &queue.Message{ID: 100, MessageID: "<q1@example.org>", From: "sender@example.org", Subject: "Quarterly figures",
			Arrived: arrived, LastRetryTime: now.Add(-5 * time.Minute), ClientHostname: "mta.example", Return: ret,
			EnvelopeID: "env-1", Size: int64(len(body)), Recipients: rcpts}
	}
	rcpt := func(addr, lastError, host string) queue.Recipient {
		return queue.Recipient{Address: addr, Status: queue.StatusFailed, LastError: lastError, LastHost: host}
	}
	fabrikam5xx := "550 5.1.1 <b@fabrikam.example>: Recipient address rejected: User unknown in virtual mailbox table"
	for _, tc := range []struct {
		name    string
		kind    dsnKind
		ret     string
		rcpts   []queue.Recipient
		subject string // the original's Subject field when not "Quarterly figures"; "names": To names the recipients
	}{
		{"ndr-recipient-not-found", dsnFailed, "", []queue.Recipient{rcpt("nobody@contoso.test", smtpwire.Fixed(smtpwire.R74).Text, "")}, ""},
		{"ndr-size-limit", dsnFailed, "HDRS", []queue.Recipient{rcpt("b@fabrikam.example", smtpwire.Fixed("X10").Text, "")}, ""},
		{"ndr-expired", dsnFailed, "", []queue.Recipient{{Address: "b@fabrikam.example", Status: queue.StatusFailed, LastError: expiredError,
			LastHost: "[127.0.0.1]:2500", AttemptError: smtpwire.Render("X20", "winsock", "10061", "ip", "127.0.0.1", "port", "2500").Text},
			rcpt("c@fabrikam.example", expiredError, "[127.0.0.1]:2500")}, ""},
		{"ndr-admin-removal", dsnFailed, "", []queue.Recipient{rcpt("b@fabrikam.example", removedError, "")}, ""},
		{"ndr-next-hop-5xx", dsnFailed, "FULL", []queue.Recipient{
			{Address: "b@fabrikam.example", Status: queue.StatusFailed, LastError: fabrikam5xx, LastHost: "[127.0.0.1]:2500",
				OrcptType: "RFC822", OrcptAddress: "B@fabrikam.example"}}, ""},
		{"ndr-relay-denied", dsnFailed, "", []queue.Recipient{rcpt("b@fabrikam.example", smtpwire.Fixed(smtpwire.R38).Text, "[127.0.0.1]:717"),
			rcpt("c@fabrikam.example", smtpwire.Fixed(smtpwire.R38).Text, "[127.0.0.1]:717")}, ""},
		{"ndr-loop", dsnFailed, "", []queue.Recipient{rcpt("b@fabrikam.example", smtpwire.Fixed(smtpwire.R52).Text, "[127.0.0.1]:2500")}, ""},
		// A subject that arrived encoded: decoded, prefixed, encoded again (UTF-8 B); the text
		// part that quotes the headers stays ASCII.
		{"ndr-encoded-subject", dsnFailed, "", []queue.Recipient{rcpt("nobody@contoso.test", smtpwire.Fixed(smtpwire.R74).Text, "")},
			"=?iso-8859-1?Q?R=E9sum=E9_f=FCr_M=E4rz?="},
		// A raw UTF-8 subject (SMTPUTF8) in a delay DSN: its text part quotes it, so it is UTF-8.
		// The original names its recipients in To: the NDR shows the names (label, X-Display-Name).
		{"ndr-display-names", dsnFailed, "", []queue.Recipient{rcpt("b@fabrikam.example", smtpwire.Fixed(smtpwire.R38).Text, "[127.0.0.1]:2500"),
			rcpt("c@fabrikam.example", expiredError, "[127.0.0.1]:2500")}, "names"},
		{"delay-utf8-subject", dsnDelayed, "", []queue.Recipient{{Address: "b@fabrikam.example", Status: queue.StatusPending}}, "Grüße aus Köln"},
		{"delay", dsnDelayed, "", []queue.Recipient{{Address: "b@fabrikam.example", Status: queue.StatusPending, RetryCount: 3,
			LastHost: "[127.0.0.1]:2500", LastError: "451 4.4.0 Primary target IP address responded with: \"421 4.3.2 Service not available.\" " +
				"Attempted failover to alternate host, but that did not succeed. Either there are no alternate hosts, or delivery failed to " +
				"all alternate hosts. The last endpoint attempted was [127.0.0.1]:2500"}}, ""},
		{"delivered", dsnDelivered, "", []queue.Recipient{{Address: "user1@contoso.test", Status: queue.StatusDelivered,
			Mailbox: "user1@contoso.test", Notify: []string{"SUCCESS"}}}, ""},
		{"relayed", dsnRelayed, "", []queue.Recipient{{Address: "b@fabrikam.example", Status: queue.StatusDelivered,
			LastHost: "[127.0.0.1]:2500", Notify: []string{"SUCCESS", "FAILURE"}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, body := msg(tc.ret, tc.rcpts...), body
			if tc.name == "ndr-recipient-not-found" {
				// The hub's own stamp is in the NDR's copy, the organization headers are not.
				m.HeaderPrefix = "Received: from mta.example (203.0.113.7) by ex01.contoso.test (192.0.2.10) with Microsoft SMTP Server id 15.2.1544.4;\r\n Wed, 13 Mar 2024 10:01:17 +0100\r\n"
				m.HeaderSuffix = "X-MS-Exchange-Organization-AuthAs: Anonymous\r\n"
			}
			switch tc.subject {
			case "":
			case "names":
				body = []byte(strings.Replace(string(body), "To: <rcpt@contoso.test>",
					"To: \"Bob Fabrikam\" <B@fabrikam.example>,\r\n =?utf-8?Q?J=C3=BCrgen?= <c@fabrikam.example>", 1))
			default:
				m.Subject = tc.subject
				body = []byte(strings.Replace(string(body), "Subject: Quarterly figures", "Subject: "+tc.subject, 1))
			}
			notify := dsnOwed(m, tc.rcpts, tc.kind)
			if len(notify) != len(tc.rcpts) {
				t.Fatalf("owed to %d of %d recipients", len(notify), len(tc.rcpts))
			}
			n := 0
			dw := dsnWriter{Fqdn: "ex01.contoso.test", Domain: "contoso.test", Expiration: 48 * time.Hour, Loc: loc,
				NewGUID: func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) },
				// The relay-denied NDR is QA-RELAY's: a DNS-routed send connector's.
				DNSRouted: func(queue.Recipient) bool { return tc.name == "ndr-relay-denied" }}
			got := dw.write(m, body, notify, tc.kind, now, 200)
			if got.Message.ID != 200 || !got.Message.IsDSN || got.Message.From != "" ||
				len(got.Message.Recipients) != 1 || got.Message.Recipients[0].Address != "sender@example.org" ||
				got.Message.Size != int64(len(got.Body)) || smtpwire.DecodeSubject(got.Message.Subject) != dsnKinds[tc.kind].subject+smtpwire.DecodeSubject(m.Subject) {
				t.Errorf("message %+v", got.Message)
			}
			path := filepath.Join("testdata", "dsn", tc.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got.Body, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got.Body) != string(want) {
				t.Errorf("%s differs (-update rewrites it):\n%s", path, firstDiff(string(got.Body), string(want)))
			}
		})
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\r\n"), strings.Split(want, "\r\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	return "(same lines, different line ends)"
}

// TestDSNOwed is who gets a DSN of each kind (RFC 3461 NOTIFY; a null sender or a DSN gets none).
func TestDSNOwed(t *testing.T) {
	r := func(notify ...string) queue.Recipient { return queue.Recipient{Address: "x@y", Notify: notify} }
	for _, tc := range []struct {
		from  string
		isDSN bool
		rcpt  queue.Recipient
		kind  dsnKind
		owed  bool
	}{
		{"s@x", false, r(), dsnFailed, true},
		{"s@x", false, r(), dsnDelayed, true},
		{"s@x", false, r(), dsnDelivered, false},
		{"s@x", false, r("SUCCESS"), dsnDelivered, true},
		{"s@x", false, r("SUCCESS"), dsnFailed, false},
		{"s@x", false, r("FAILURE", "DELAY"), dsnDelayed, true},
		{"s@x", false, r("NEVER"), dsnFailed, false},
		{"", false, r(), dsnFailed, false},
		{"s@x", true, r(), dsnFailed, false},
	} {
		m := &queue.Message{From: tc.from, IsDSN: tc.isDSN}
		if got := len(dsnOwed(m, []queue.Recipient{tc.rcpt}, tc.kind)) == 1; got != tc.owed {
			t.Errorf("from %q dsn %v notify %v kind %d: owed %v, want %v", tc.from, tc.isDSN, tc.rcpt.Notify, tc.kind, got, tc.owed)
		}
	}
}

// TestNDRCauses renders an NDR for each cause the hub reports and reads it back as a client
// does (net/mail, mime/multipart): the subject, the explanation Exchange picks for the status
// (by enhanced code, with its fallbacks), the block the recipient is listed in, and the RFC 3464
// fields of the recipient. A status a next hop gave is shown once as an internal NDR ("The
// following organization rejected your message: …", a smart host) and once as an external one
// ("… rejected your message to the following email addresses: …", a DNS-routed connector).
func TestNDRCauses(t *testing.T) {
	notFound, tooBig := smtpwire.Fixed(smtpwire.R74).Text, smtpwire.Fixed("X10").Text
	for _, tc := range []struct {
		name      string
		lastError string
		lastHost  string
		cause     ndrCause
		status    string
	}{
		{"recipient not found (categorizer, R74)", notFound, "", causeNotFound, "5.1.10"},
		{"recipient not found, 2010 text", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", "", causeNotFound, "5.1.1"},
		{"user unknown at the next hop", "550 5.1.1 <b@fabrikam.example>: Recipient address rejected: User unknown", "[192.0.2.5]:25", causeNotFound, "5.1.1"},
		{"too large for the route (X10)", tooBig, "", causeSize, "5.3.4"},
		{"too large for the next hop", "552 5.3.4 Message size exceeds fixed maximum message size", "[192.0.2.5]:25", causeSize, "5.3.4"},
		{"too large for the recipient", "550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient", "", causeSize, "5.2.3"},
		{"too large, SMTPSEND", "550 5.3.4 SMTPSEND.OverAdvertisedSize; message size exceeds fixed maximum size", "", causeSize, "5.3.4"},
		{"expired (R79) after attempts", expiredError, "[192.0.2.5]:25", causeExpired, "4.4.7"},
		{"removed by an administrator (X11): 4.3.2 falls back to 5.0.0", removedError, "", causeGeneric, "4.3.2"},
		{"relay denied by the next hop (R38)", smtpwire.Fixed(smtpwire.R38).Text, "[192.0.2.5]:717", causeRelay, "5.7.54"},
		{"relay denied, 2010 wording (R39): 5.7.1", smtpwire.Fixed(smtpwire.R39).Text, "[192.0.2.5]:25", causePermission, "5.7.1"},
		{"refused as spam: 5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering.", "[192.0.2.5]:25", causePermission, "5.7.1"},
		{"other 5.7.x falls back to 5.7.0", "550 5.7.64 TenantAttribution; Relay Access Denied", "[192.0.2.5]:25", causeRejected, "5.7.64"},
		{"loop (R52)", smtpwire.Fixed(smtpwire.R52).Text, "[192.0.2.5]:25", causeLoop, "5.4.6"},
		{"forwarding loop in the directory", "550 5.4.6 RESOLVER.FWD.Loop; there is a forwarding loop configured in the directory", "", causeLoop, "5.4.6"},
		{"loop, 5.4.14", "554 5.4.14 Hop count exceeded - possible mail loop ATTR34", "[192.0.2.5]:25", causeLoop, "5.4.14"},
		{"unknown local failure", "550 5.6.0 CAT.InvalidContent.Exception", "", causeGeneric, "5.6.0"},
	} {
		remote := rejectedBy(queue.Recipient{LastError: tc.lastError, LastHost: tc.lastHost}) != ""
		for _, dns := range []bool{false, true} {
			if dns && !remote {
				continue
			}
			name := tc.name
			if dns {
				name += ", DNS-routed"
			}
			t.Run(name, func(t *testing.T) {
				r := queue.Recipient{Address: "b@fabrikam.example", Status: queue.StatusFailed, LastError: tc.lastError, LastHost: tc.lastHost, NextHop: "Internet"}
				if got := ndrCauseOf(r); got != tc.cause {
					t.Fatalf("cause %q, want %q", got.name, tc.cause.name)
				}
				body := []byte("From: <s@example.org>\r\nSubject: =?utf-8?Q?caf=C3=A9?=\r\nMessage-ID: <m1@example.org>\r\n\r\nhi\r\n")
				m := &queue.Message{ID: 1, From: "s@example.org", Subject: "=?utf-8?Q?caf=C3=A9?=", MessageID: "<m1@example.org>",
					Arrived: time.Unix(1700000000, 0), ClientHostname: "mta.example", Recipients: []queue.Recipient{r}}
				dw := dsnWriter{Fqdn: "ex01.contoso.test", Domain: "contoso.test", Expiration: 48 * time.Hour, Loc: time.UTC,
					DNSRouted: func(x queue.Recipient) bool { return dns && x.NextHop == "Internet" }}
				n := dw.write(m, body, []queue.Recipient{r}, dsnFailed, time.Unix(1700003600, 0), 2)
				text, status := readReport(t, n.Body, "Undeliverable: café")
				link := "b@fabrikam.example<mailto:b@fabrikam.example>\r\n" + tc.cause.explain + "\r\n\r\n"
				want := []string{"Delivery has failed to these recipients or groups:\r\n\r\n" + link}
				switch {
				case dns:
					want = []string{"192.0.2.5 rejected your message to the following email addresses:\r\n\r\n" + link +
						"192.0.2.5 gave this error:\r\n" + replyDetail(tc.lastError) + "\r\n"}
				case remote:
					want = append(want, "\r\nThe following organization rejected your message: 192.0.2.5.\r\n")
				}
				if remote {
					want = append(want, "b@fabrikam.example\r\n192.0.2.5\r\nRemote Server returned '"+tc.lastError+"'\r\n")
				}
				for _, w := range want {
					if !strings.Contains(text, w) {
						t.Errorf("text part lacks %q:\n%s", w, text)
					}
				}
				if strings.Contains(text, "rejected your message to the following") != dns || strings.Contains(text, "Delivery has failed") == dns ||
					strings.Contains(text, "The following organization rejected") != (remote && !dns) {
					t.Errorf("wrong form (remote %v, DNS-routed %v):\n%s", remote, dns, text)
				}
				for _, f := range []string{"Final-Recipient: rfc822;b@fabrikam.example", "Action: failed", "Status: " + tc.status,
					"Diagnostic-Code: smtp;" + tc.lastError} {
					if !strings.Contains(status, "\r\n"+f+"\r\n") {
						t.Errorf("delivery-status lacks %q:\n%s", f, status)
					}
				}
				if got := strings.Contains(status, "Remote-MTA: dns;192.0.2.5\r\n"); got != remote {
					t.Errorf("Remote-MTA present %v, want %v", got, remote)
				}
			})
		}
	}
}

// readReport parses a DSN as a mail client would and returns its decoded text part and its
// message/delivery-status part, checking the subject, the three parts of the report and the
// text and HTML alternatives of the first.
func readReport(t *testing.T, raw []byte, subject string) (text, status string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || got != subject {
		t.Errorf("Subject %q (%v), want %q", got, err, subject)
	}
	var types []string
	var html string
	var walk func(r io.Reader, contentType string, depth int)
	walk = func(r io.Reader, contentType string, depth int) {
		mt, params, err := mime.ParseMediaType(contentType)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", contentType, err)
		}
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ct := p.Header.Get("Content-Type")
			pt, _, _ := mime.ParseMediaType(ct)
			types = append(types, strings.Repeat(">", depth)+pt)
			if strings.HasPrefix(pt, "multipart/") {
				walk(p, ct, depth+1)
				continue
			}
			var body io.Reader = p
			if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
				body = quotedprintable.NewReader(p)
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			switch pt {
			case "text/plain":
				text = string(b)
			case "text/html":
				html = string(b)
			case "message/delivery-status":
				status = "\r\n" + string(b)
			}
		}
		_ = mt
	}
	walk(msg.Body, msg.Header.Get("Content-Type"), 0)
	if want := "multipart/alternative >text/plain >text/html message/delivery-status text/rfc822-headers"; strings.Join(types, " ") != want {
		t.Errorf("parts %v, want %s", types, want)
	}
	if !strings.HasPrefix(html, "<html>\r\n<Head></head><body>\r\n<p><b>") || !strings.HasSuffix(html, "</body>\r\n</html>") ||
		!strings.Contains(html, "<p><b>Diagnostic information for administrators:</b></p>") {
		t.Errorf("HTML part:\n%s", html)
	}
	return text, status
}

// TestDNSRoutedIn: an NDR is "external" for recipients whose send connector routes by DNS.
func TestDNSRoutedIn(t *testing.T) {
	org := &config.Organization{SendConnectors: []config.SendConnector{{Name: "Internet", DNSRoutingEnabled: true},
		{Name: "Smart host", SmartHosts: []string{"relay.example"}}}}
	f := dnsRoutedIn(org)
	for hop, want := range map[string]bool{"Internet": true, "Smart host": false, "": false, "gone": false} {
		if got := f(queue.Recipient{NextHop: hop}); got != want {
			t.Errorf("NextHop %q: %v, want %v", hop, got, want)
		}
	}
}

// TestReferences: a DSN's References continue the original's thread (WriteReferencesHeader).
func TestReferences(t *testing.T) {
	for _, tc := range []struct{ header, id, want string }{
		{"Subject: x", "<m@x>", "<m@x>"},
		{"References: <a@x> <b@x>\r\nIn-Reply-To: <b@x>", "<m@x>", "<a@x> <b@x> <m@x>"},
		{"In-Reply-To: <b@x>", "<m@x>", "<b@x> <m@x>"},
		{"In-Reply-To: <b@x>", "", "<b@x>"},
		{"Subject: x", "", ""},
		{"not a header", "<m@x>", "<m@x>"},
	} {
		if got := references(parseHeader([]byte(tc.header)), tc.id); got != tc.want {
			t.Errorf("%q, %q: %q, want %q", tc.header, tc.id, got, tc.want)
		}
	}
}
