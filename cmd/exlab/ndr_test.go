package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// TestNDRWithEncodedSubject is issue 13 point 8 end to end over real sockets: a message with a
// non-ASCII, RFC 2047-encoded subject to an unknown recipient of an authoritative domain gets
// its sender an NDR whose subject decodes to "Undeliverable: <subject>" and whose text gives
// the recipient-not-found explanation (NDR-E16); exlab mailbox list (table and --json) and the
// message tracking log (exlab tracking search) show the subjects decoded.
func TestNDRWithEncodedSubject(t *testing.T) {
	s := startServer(t, labConfig(nil), "")
	subject := "Grüße aus Köln – Quartalszahlen für März, Überweisungen und Rückfragen 📈"
	encoded := mime.BEncoding.Encode("utf-8", subject) // several encoded-words, as a client folds them
	body := "From: <user1@contoso.test>\r\nTo: <nobody@contoso.test>\r\nSubject: " + strings.ReplaceAll(encoded, " ", "\r\n ") +
		"\r\nMessage-ID: <umlaut@contoso.test>\r\n\r\nanyone?\r\n"
	if err := sendMail(t, s.address("Default Frontend EX01"), "user1@contoso.test", []string{"nobody@contoso.test"}, body); err != nil {
		t.Fatal(err)
	}
	want := "Undeliverable: " + subject

	list := waitMailbox(t, s.data, "user1@contoso.test", 1)
	if !strings.Contains(list, want) {
		t.Errorf("mailbox list does not show the decoded subject %q:\n%s", want, list)
	}
	out, _, code := exlab(t, "mailbox", "list", "user1@contoso.test", "--json", "--data", s.data)
	var items []struct{ Subject, From string }
	if err := json.Unmarshal([]byte(out), &items); err != nil || code != 0 || len(items) != 1 || items[0].Subject != want || items[0].From != "" {
		t.Errorf("mailbox list --json: %+v %v (exit %d)\n%s", items, err, code, out)
	}

	// The same from the data directory of the stopped server (the queue database, not the admin
	// listener) is checked at the end.
	defer func() {
		s.stop()
		out, _, code := exlab(t, "mailbox", "list", "user1@contoso.test", "--json", "--data", s.data)
		var items []struct{ Subject string }
		if err := json.Unmarshal([]byte(out), &items); err != nil || code != 0 || len(items) != 1 || items[0].Subject != want {
			t.Errorf("mailbox list --json of a stopped server: %+v %v (exit %d)\n%s", items, err, code, out)
		}
	}()

	// The NDR as stored, read as a mail client reads it.
	out, _, _ = exlab(t, "mailbox", "show", "user1@contoso.test", "--data", s.data)
	_, raw, ok := strings.Cut(out, "\n")
	if !ok {
		t.Fatalf("mailbox show:\n%s", out)
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if h := msg.Header.Get("Subject"); !strings.HasPrefix(h, "=?utf-8?B?") {
		t.Errorf("NDR Subject %q is not RFC 2047-encoded", h)
	}
	if got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || got != want {
		t.Errorf("NDR subject decodes to %q (%v), want %q", got, err, want)
	}
	for _, line := range strings.Split(strings.SplitN(raw, "\r\n\r\n", 2)[0], "\r\n") {
		if len(line) > 998 || strings.HasPrefix(line, "Subject:") && len(line) > 76 {
			t.Errorf("header line of %d columns: %q", len(line), line)
		}
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	// The first part is the multipart/alternative of the text and the HTML; the text first.
	alt, err := multipart.NewReader(msg.Body, params["boundary"]).NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	_, altParams, err := mime.ParseMediaType(alt.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := multipart.NewReader(alt, altParams["boundary"]).NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("first alternative is %q", ct)
	}
	var r io.Reader = p
	if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		r = quotedprintable.NewReader(p)
	}
	text, _ := io.ReadAll(r)
	for _, w := range []string{
		"Delivery has failed to these recipients or groups:\r\n\r\nnobody@contoso.test<mailto:nobody@contoso.test>\r\n" +
			"The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message. " +
			"If the problem continues, please contact your email admin.\r\n",
		"Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'",
		"Original message headers:",
	} {
		if !bytes.Contains(text, []byte(w)) {
			t.Errorf("NDR text lacks %q:\n%s", w, text)
		}
	}

	// The tracking log: the RECEIVE of the message and the DSN event of the NDR, each with its
	// subject as it reads (the writer flushes every second).
	var events []map[string]string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		out, _, _ := exlab(t, "tracking", "search", "--data", s.data, "--json")
		events = nil
		_ = json.Unmarshal([]byte(out), &events)
		n := 0
		for _, e := range events {
			if e["event-id"] == "DSN" || e["event-id"] == "RECEIVE" && e["message-id"] == "<umlaut@contoso.test>" {
				n++
			}
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no RECEIVE and DSN events in the tracking log:\n%s", out)
		}
	}
	for _, e := range events {
		switch {
		case e["event-id"] == "RECEIVE" && e["message-id"] == "<umlaut@contoso.test>" && e["message-subject"] != subject,
			e["event-id"] == "DSN" && e["message-subject"] != want:
			t.Errorf("%s event: message-subject %q", e["event-id"], e["message-subject"])
		}
	}
}
