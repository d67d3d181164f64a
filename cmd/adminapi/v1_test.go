package adminapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// openAPIValidator is the committed document loaded with libopenapi-validator, checked
// against the OpenAPI 3.1 schema itself once.
var openAPIValidator = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(OpenAPI)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		var msgs []string
		for _, e := range verrs {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %s", strings.Join(msgs, "; "))
	}
	return v, nil
})

// validating checks every response a test receives against the OpenAPI document (all of
// /api/v1 but the event stream, whose body never ends), counting what it checked.
type validating struct {
	t       testing.TB
	next    http.RoundTripper
	checked atomic.Int64
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, PathV1) || resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	val, verr := openAPIValidator()
	if verr != nil {
		v.t.Error(verr)
		return resp, nil
	}
	check := *resp
	check.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := val.ValidateHttpResponse(req, &check); !ok {
		for _, e := range errs {
			v.t.Errorf("%s %s → %s: response does not conform to openapi.json: %s\n%s", req.Method, req.URL, resp.Status, e.Error(), body)
		}
	}
	v.checked.Add(1)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// apiServer is /api/v1 on a real loopback socket over a real store.
type apiServer struct {
	store *queue.Store
	srv   *httptest.Server
	c     *Client
	val   *validating
	dir   string
	// tracking is the stream /api/v1/events subscribes to for tracking events.
	tracking chan transport.TrackingEntry
	orgMu    sync.Mutex
	org      []byte // the organization file GET/PUT /api/v1/organization serve
	certs    []CertificateInfo
}

func newAPIServer(t testing.TB) *apiServer {
	t.Helper()
	dir := t.TempDir()
	st, err := queue.Open(filepath.Join(dir, "Queue"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	trk := filepath.Join(dir, "tracking")
	_ = os.MkdirAll(trk, 0o700)
	org := config.Default()
	a := &apiServer{store: st, dir: dir, tracking: make(chan transport.TrackingEntry, 16), org: config.DefaultYAML}
	logs := []ProtocolLogDir{{"FrontEnd", "SmtpReceive", filepath.Join(dir, "FrontEnd")}, {"Hub", "SmtpReceive", filepath.Join(dir, "Hub")}}
	h := Handler(Options{Token: "secret", Store: st, Org: func() *config.Organization { return org }, TrackingDir: func() string { return trk },
		ProtocolLogDirs: func() []ProtocolLogDir { return logs },
		TrackingEvents:  func(int) (<-chan transport.TrackingEntry, func()) { return a.tracking, func() {} },
		Organization: func() (string, []byte, error) {
			a.orgMu.Lock()
			defer a.orgMu.Unlock()
			return "org.yaml", a.org, nil
		},
		EventLog: func() [][]byte {
			return [][]byte{[]byte(`{"TimeCreated":"2026-12-02T10:00:00Z","EventID":1020,"Source":"MSExchangeFrontEndTransport","Level":"Error","Message":"bind"}`)}
		},
		Certificates: func() []CertificateInfo {
			a.orgMu.Lock()
			defer a.orgMu.Unlock()
			return a.certs
		},
		SetOrganization: func(src []byte) (string, error) {
			if _, err := config.Parse("org.yaml", src); err != nil {
				return "org.yaml", err
			}
			a.orgMu.Lock()
			defer a.orgMu.Unlock()
			a.org = src
			return "org.yaml", nil
		}})
	srv := httptest.NewServer(h)
	c := NewClient(strings.TrimPrefix(srv.URL, "http://"), "secret")
	v := &validating{t: t, next: http.DefaultTransport}
	c.http.Transport = v
	a.srv, a.c, a.val = srv, c, v
	t.Cleanup(func() {
		srv.Close()
		_ = st.Close()
	})
	return a
}

// deliver stores content for the given mailboxes as Mailbox Delivery does (one Submit, one
// item per mailbox), and returns its id.
func (a *apiServer) deliver(t testing.TB, from string, to []string, content string, at time.Time) uint64 {
	t.Helper()
	id, err := a.store.NextID()
	if err != nil {
		t.Fatal(err)
	}
	h := headerOf(content)
	m := &queue.Message{ID: id, MessageID: h["message-id"], Subject: h["subject"], From: from, Size: int64(len(content)), Arrived: at}
	var items []queue.MailboxItem
	for _, r := range to {
		m.Recipients = append(m.Recipients, queue.Recipient{Address: r, Status: queue.StatusDelivered, Mailbox: r})
		items = append(items, queue.MailboxItem{Mailbox: r, ID: id, MessageID: h["message-id"], From: from, To: []string{r},
			Subject: h["subject"], Received: at, Size: int64(len(content)), HeaderEnd: int64(strings.Index(content, "\r\n\r\n") + 2)})
	}
	if err := a.store.Submit(queue.Submission{Message: m, Body: []byte(content), Deliveries: items}); err != nil {
		t.Fatal(err)
	}
	return id
}

func headerOf(content string) map[string]string {
	h := map[string]string{}
	head, _, _ := strings.Cut(content, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			h[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return h
}

func simple(id, subject, body string) string {
	return "Message-ID: <" + id + "@example.org>\r\nFrom: a@example.org\r\nTo: user1@contoso.test\r\nSubject: " + subject +
		"\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body + "\r\n"
}

const multipartMsg = "Message-ID: <mime1@example.org>\r\n" +
	"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\n" +
	"To: user1@contoso.test\r\n" +
	"Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b2\"\r\n" +
	"\r\n" +
	"--b2\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Gr=FC=DFe\r\n" +
	"--b2\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n" +
	"--b2--\r\n" +
	"--b1\r\n" +
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n" +
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQK\r\n" +
	"--b1--\r\n"

func TestV1ListFilters(t *testing.T) {
	a := newAPIServer(t)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	ids := []uint64{
		a.deliver(t, "alice@example.org", []string{"user1@contoso.test"}, simple("m1", "invoice 1", "pay now"), t0),
		a.deliver(t, "bob@example.net", []string{"administrator@contoso.test"}, simple("m2", "hello", "the needle is here"), t0.Add(time.Minute)),
		a.deliver(t, "alice@example.org", []string{"user1@contoso.test", "administrator@contoso.test"}, simple("m3", "=?utf-8?q?caf=C3=A9?=", "x"), t0.Add(2*time.Minute)),
	}
	type key struct {
		mb string
		id uint64
	}
	cases := []struct {
		name string
		f    Filter
		want []key
	}{
		{"all, newest first, equal ids by mailbox", Filter{}, []key{{"administrator@contoso.test", ids[2]}, {"user1@contoso.test", ids[2]},
			{"administrator@contoso.test", ids[1]}, {"user1@contoso.test", ids[0]}}},
		{"mailbox", Filter{Mailbox: "user1@contoso.test"}, []key{{"user1@contoso.test", ids[2]}, {"user1@contoso.test", ids[0]}}},
		{"mailbox by alias", Filter{Mailbox: "ADMIN@contoso.test"}, []key{{"administrator@contoso.test", ids[2]}, {"administrator@contoso.test", ids[1]}}},
		{"sender substring", Filter{Sender: "BOB"}, []key{{"administrator@contoso.test", ids[1]}}},
		{"recipient", Filter{Recipient: "user1@"}, []key{{"user1@contoso.test", ids[2]}, {"user1@contoso.test", ids[0]}}},
		{"decoded subject", Filter{Subject: "café"}, []key{{"administrator@contoso.test", ids[2]}, {"user1@contoso.test", ids[2]}}},
		{"text in the body", Filter{Text: "NEEDLE"}, []key{{"administrator@contoso.test", ids[1]}}},
		{"message id without brackets", Filter{MessageID: "m1@example.org"}, []key{{"user1@contoso.test", ids[0]}}},
		{"message id with brackets", Filter{MessageID: "<m2@example.org>"}, []key{{"administrator@contoso.test", ids[1]}}},
		{"since", Filter{Since: t0.Add(time.Minute)}, []key{{"administrator@contoso.test", ids[2]}, {"user1@contoso.test", ids[2]}, {"administrator@contoso.test", ids[1]}}},
		{"before", Filter{Before: t0.Add(time.Minute)}, []key{{"user1@contoso.test", ids[0]}}},
		{"nothing", Filter{Sender: "carol"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := a.c.ListMessages(ctx, c.f, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			var got []key
			for _, m := range l.Messages {
				got = append(got, key{m.Mailbox, m.ID})
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) || l.NextCursor != "" {
				t.Errorf("got %v (next %q), want %v", got, l.NextCursor, c.want)
			}
		})
	}
	// The subject comes decoded.
	l, _ := a.c.ListMessages(ctx, Filter{MessageID: "m3@example.org", Mailbox: "user1@contoso.test"}, 0, "")
	if len(l.Messages) != 1 || l.Messages[0].Subject != "café" {
		t.Errorf("decoded subject: %+v", l.Messages)
	}
	// Cursor paging: every item once, in order, pages of one.
	var paged []string
	cursor := ""
	for range 10 {
		l, err := a.c.ListMessages(ctx, Filter{}, 1, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range l.Messages {
			paged = append(paged, fmt.Sprint(m.Mailbox, m.ID))
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	all, err := a.c.AllMessages(ctx, Filter{})
	var want []string
	for _, m := range all {
		want = append(want, fmt.Sprint(m.Mailbox, m.ID))
	}
	if err != nil || len(paged) != 4 || fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Errorf("paging: %v, all: %v %v", paged, want, err)
	}
	// Bad parameters: 400 in the one error shape.
	for _, q := range []string{"limit=0", "limit=x", "cursor=!!", "since=yesterday"} {
		resp := a.get(t, PathV1Messages+"?"+q)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s", q, resp.Status)
		}
	}
	if a.val.checked.Load() == 0 {
		t.Error("no response was validated")
	}
}

// get sends an authorized GET through the validating transport.
func (a *apiServer) get(t testing.TB, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := (&http.Client{Transport: a.val}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestV1MessageParsedRawPartsTracking(t *testing.T) {
	a := newAPIServer(t)
	ctx := context.Background()
	id := a.deliver(t, "j@example.org", []string{"user1@contoso.test"}, multipartMsg, time.Now().UTC())
	m, err := a.c.Message(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Grüße aus Köln" || m.ParseError != "" {
		t.Errorf("subject %q, parse error %q", m.Subject, m.ParseError)
	}
	hdr := map[string]string{}
	for _, h := range m.Headers {
		hdr[h.Name] = h.Value
	}
	if hdr["From"] != "Jörg <j@example.org>" || hdr["Subject"] != "Grüße aus Köln" {
		t.Errorf("decoded headers: %v", hdr)
	}
	r := m.Root
	if r.ContentType != "multipart/mixed" || r.Path != "" || len(r.Parts) != 2 || len(r.Parts[0].Parts) != 2 {
		t.Fatalf("tree: %+v", r)
	}
	plain, html, pdf := r.Parts[0].Parts[0], r.Parts[0].Parts[1], r.Parts[1]
	for _, c := range []struct {
		p                 Part
		path, ct, charset string
		text              string
		size              int64
	}{
		{plain, "1.1", "text/plain", "iso-8859-1", "Grüße", int64(len("Grüße"))},
		{html, "1.2", "text/html", "utf-8", "<p>Grüße</p>", int64(len("<p>Grüße</p>"))},
		{pdf, "2", "application/pdf", "", "", 9},
	} {
		text := ""
		if c.p.Text != nil {
			text = *c.p.Text
		}
		if c.p.Path != c.path || c.p.ContentType != c.ct || c.p.Charset != c.charset || text != c.text || c.p.Size != c.size {
			t.Errorf("part %s: %+v (text %q)", c.path, c.p, text)
		}
	}
	if len(m.Attachments) != 1 || m.Attachments[0] != (Attachment{Path: "2", Filename: "report.pdf", ContentType: "application/pdf", Size: 9}) {
		t.Errorf("attachments: %+v", m.Attachments)
	}
	if b, err := a.c.MessagePart(ctx, id, "", "2"); err != nil || string(b) != "%PDF-1.4\n" {
		t.Errorf("attachment: %q %v", b, err)
	}
	if _, err := a.c.MessagePart(ctx, id, "", "9"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("missing part: %v", err)
	}
	raw, err := a.c.RawMessage(ctx, id, "user1@contoso.test")
	if err != nil || string(raw) != multipartMsg {
		t.Errorf("raw: %v\n%q", err, raw)
	}
	if _, err := a.c.Message(ctx, id+1000, ""); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := a.c.Message(ctx, id, "administrator@contoso.test"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("id not in that mailbox: %v", err)
	}
	if resp := a.get(t, PathV1Messages+"/abc"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad id: %s", resp.Status)
	}
	// A single-part message's body is part 1.
	sid := a.deliver(t, "a@example.org", []string{"user1@contoso.test"}, simple("s1", "plain", "body text"), time.Now().UTC())
	if sm, err := a.c.Message(ctx, sid, ""); err != nil || sm.Root.Path != "1" || sm.Root.Text == nil || *sm.Root.Text != "body text\r\n" {
		t.Errorf("single part: %+v %v", sm.Root, err)
	}

	// Tracking: the entries of the message's Message-ID, from every tracking file.
	log := "#Software: Microsoft Exchange Server\r\n#Fields: date-time,event-id,source,internal-message-id,message-id,recipient-address\r\n" +
		"2026-12-01T10:00:00.000Z,RECEIVE,SMTP,111,<mime1@example.org>,user1@contoso.test\r\n" +
		"2026-12-01T10:00:01.000Z,RECEIVE,SMTP,112,<other@example.org>,user1@contoso.test\r\n"
	logMD := "#Fields: date-time,event-id,source,internal-message-id,message-id,recipient-address\r\n" +
		fmt.Sprintf("2026-12-01T10:00:02.000Z,DELIVER,STOREDRIVER,%d,<mime1@example.org>,user1@contoso.test\r\n", id)
	_ = os.WriteFile(filepath.Join(a.dir, "tracking", "MSGTRK2026120110-1.LOG"), []byte(log), 0o600)
	_ = os.WriteFile(filepath.Join(a.dir, "tracking", "MSGTRKMD2026120110-1.LOG"), []byte(logMD), 0o600)
	es, err := a.c.MessageTracking(ctx, id, "")
	if err != nil || len(es) != 2 || es[0]["event-id"] != "RECEIVE" || es[1]["event-id"] != "DELIVER" {
		t.Errorf("tracking: %v %v", es, err)
	}
	// The document itself, without a token.
	resp, err := http.Get(a.srv.URL + PathV1OpenAPI)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("openapi.json: %v %v", resp, err)
	}
	// An unknown path (not in the document, so checked here): the one error shape.
	ureq, _ := http.NewRequest(http.MethodGet, a.srv.URL+PathV1+"/nothing", nil)
	ureq.Header.Set("Authorization", "Bearer secret")
	if resp, err := http.DefaultClient.Do(ureq); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %v %v", resp, err)
	} else {
		var eb ErrorBody
		if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || eb.Error.Code != CodeNotFound {
			t.Errorf("unknown path's body: %+v %v", eb, err)
		}
		resp.Body.Close()
	}
	// A missing token: 401 in the one error shape, validated.
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+PathV1Messages, nil)
	if resp, err := (&http.Client{Transport: a.val}).Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %v %v", resp, err)
	}
	if ms, err := a.c.ListMailboxes(ctx); err != nil || len(ms) != 1 || ms[0].Count != 2 {
		t.Errorf("mailboxes: %+v %v", ms, err)
	}
}

func TestV1Delete(t *testing.T) {
	a := newAPIServer(t)
	ctx := context.Background()
	now := time.Now().UTC()
	both := a.deliver(t, "a@example.org", []string{"user1@contoso.test", "administrator@contoso.test"}, simple("d1", "x", "x"), now)
	one := a.deliver(t, "a@example.org", []string{"user1@contoso.test"}, simple("d2", "x", "x"), now)
	admin := a.deliver(t, "a@example.org", []string{"administrator@contoso.test"}, simple("d3", "x", "x"), now)

	// One mailbox's copy: the other keeps the body.
	if n, err := a.c.DeleteMessage(ctx, both, "user1@contoso.test"); err != nil || n != 1 {
		t.Fatalf("delete from one mailbox: %d %v", n, err)
	}
	if raw, err := a.c.RawMessage(ctx, both, "administrator@contoso.test"); err != nil || !strings.Contains(string(raw), "d1@") {
		t.Errorf("the other mailbox's copy: %v", err)
	}
	if _, err := a.store.Body(both); err != nil {
		t.Errorf("body of a message still in a mailbox: %v", err)
	}
	// The last copy takes the body with it.
	if n, err := a.c.DeleteMessage(ctx, both, ""); err != nil || n != 1 {
		t.Fatalf("delete everywhere: %d %v", n, err)
	}
	if _, err := a.store.Body(both); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("body after the last copy went: %v", err)
	}
	if _, err := a.c.DeleteMessage(ctx, both, ""); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("delete again: %v", err)
	}
	// A mailbox's messages, then all.
	if n, err := a.c.DeleteMessages(ctx, "user1@contoso.test"); err != nil || n != 1 {
		t.Errorf("clear user1: %d %v", n, err)
	}
	if _, err := a.store.Body(one); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("body of a cleared message: %v", err)
	}
	if n, err := a.c.DeleteMessages(ctx, ""); err != nil || n != 1 {
		t.Errorf("clear all: %d %v", n, err)
	}
	if _, err := a.store.Body(admin); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("body after clearing all: %v", err)
	}
	if l, err := a.c.ListMessages(ctx, Filter{}, 0, ""); err != nil || len(l.Messages) != 0 {
		t.Errorf("after clearing: %+v %v", l, err)
	}
}

// TestV1DeleteDuringDelivery clears every mailbox again and again while messages are being
// delivered: afterwards every item left has its body (nothing half deleted), and every
// delivered message is either listed whole or gone.
func TestV1DeleteDuringDelivery(t *testing.T) {
	a := newAPIServer(t)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var delivered atomic.Int64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a.deliver(t, "a@example.org", []string{"user1@contoso.test", "administrator@contoso.test"},
					simple(fmt.Sprintf("r%d-%d", w, i), "race", "body"), time.Now().UTC())
				delivered.Add(1)
			}
		}()
	}
	deleted := 0
	for delivered.Load() < 200 {
		n, err := a.c.DeleteMessages(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
	}
	close(stop)
	wg.Wait()
	all, err := a.c.AllMessages(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if _, err := a.c.RawMessage(ctx, m.ID, m.Mailbox); err != nil {
			t.Errorf("item %s/%d lost its body: %v", m.Mailbox, m.ID, err)
		}
	}
	if deleted == 0 || int64(deleted+len(all)) != 2*delivered.Load() {
		t.Errorf("deleted %d + left %d != 2 × %d delivered", deleted, len(all), delivered.Load())
	}
}

func TestV1WaitRacingDelivery(t *testing.T) {
	a := newAPIServer(t)
	ctx := context.Background()
	a.deliver(t, "old@example.org", []string{"user1@contoso.test"}, simple("w0", "old", "x"), time.Now().UTC())
	// An existing match answers at once.
	if s, err := a.c.WaitMessage(ctx, Filter{Sender: "old@"}, time.Second); err != nil || s.MessageID != "<w0@example.org>" {
		t.Errorf("existing: %+v %v", s, err)
	}
	// A wait started before the delivery returns it, without polling; many times, with the
	// delivery at every point of the waiter's start.
	for i := range 20 {
		since := time.Now().UTC()
		want := fmt.Sprintf("<w%d@example.org>", i+1)
		done := make(chan error, 1)
		go func() {
			s, err := a.c.WaitMessage(ctx, Filter{Mailbox: "user1@contoso.test", Subject: "race", Since: since}, 10*time.Second)
			if err == nil && s.MessageID != want {
				err = fmt.Errorf("got %s, want %s", s.MessageID, want)
			}
			done <- err
		}()
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		a.deliver(t, "a@example.org", []string{"administrator@contoso.test"}, simple("x", "race", "other mailbox"), time.Now().UTC())
		a.deliver(t, "a@example.org", []string{"user1@contoso.test"}, simple(want[1:len(want)-1-len("@example.org")], "race", "x"), time.Now().UTC())
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("round %d: %v", i, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: the wait did not return", i)
		}
	}
	// Nothing matches: 408 with the error shape, after the timeout and not long after.
	start := time.Now()
	_, err := a.c.WaitMessage(ctx, Filter{Sender: "nobody@"}, 300*time.Millisecond)
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != CodeTimeout || !strings.Contains(ae.Status, "408") {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("timeout took %s", d)
	}
	if resp := a.get(t, PathV1Wait+"?timeout=forever"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad timeout: %s", resp.Status)
	}
}

func TestV1Events(t *testing.T) {
	a := newAPIServer(t)
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+PathV1Events, nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, ":") {
		t.Fatalf("first line %q %v", l, err)
	}
	id := a.deliver(t, "a@example.org", []string{"user1@contoso.test"}, simple("e1", "=?utf-8?q?=C3=A9v=C3=A9nement?=", "x"), time.Now().UTC())
	var ev, data string
	for ev == "" || data == "" {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := strings.CutPrefix(l, "event: "); ok {
			ev = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "data: "); ok {
			data = strings.TrimSpace(v)
		}
	}
	if ev != "delivery" || !strings.Contains(data, fmt.Sprintf(`"ID":%d`, id)) || !strings.Contains(data, `"Subject":"événement"`) {
		t.Errorf("event %q data %s", ev, data)
	}
	// A tracking event the hub's log writes reaches the stream as "tracking" (before the
	// Client subscribes too: the fake feed is one channel).
	a.tracking <- transport.TrackingEntry{"event-id": "DELIVER", "message-id": "<t1@example.org>"}
	ev, data = "", ""
	for ev != "tracking" || data == "" {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := strings.CutPrefix(l, "event: "); ok {
			ev = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "data: "); ok && ev == "tracking" {
			data = strings.TrimSpace(v)
		}
	}
	if data != `{"event-id":"DELIVER","message-id":"<t1@example.org>"}` {
		t.Errorf("tracking event: %s", data)
	}
	// The same through the Client.
	ctx, cancel := context.WithCancel(context.Background())
	ds, err := a.c.Deliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Deliveries returns once the answer's header came, and the server subscribes before it.
	id2 := a.deliver(t, "a@example.org", []string{"user1@contoso.test"}, simple("e2", "second", "x"), time.Now().UTC())
	select {
	case m := <-ds:
		if m.ID != id2 || m.MessageID != "<e2@example.org>" {
			t.Errorf("Deliveries: %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Error("Deliveries: nothing")
	}
	cancel()
	for range ds { // closed once ctx ends
	}
	bad := NewClient(strings.TrimPrefix(a.srv.URL, "http://"), "wrong")
	if _, err := bad.Deliveries(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Deliveries with a wrong token: %v", err)
	}
}

// TestOpenAPIValidatorRejects makes sure the validation above can fail: answers that break
// the document are refused.
func TestOpenAPIValidatorRejects(t *testing.T) {
	val, err := openAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, status, body string }{
		{PathV1Messages, "200", `{"Messages":[{"Mailbox":"a","ID":"not a number"}]}`},
		{PathV1Messages, "200", `{"Items":[]}`},
		{PathV1Messages + "/1", "404", `{"error":"plain"}`},
		{PathV1Wait, "408", `{"error":{"code":"late","message":"x"}}`},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:8470"+c.path, nil)
		code := map[string]int{"200": 200, "404": 404, "408": 408}[c.status]
		resp := &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(c.body)), Request: req}
		if ok, _ := val.ValidateHttpResponse(req, resp); ok {
			t.Errorf("%s %s %s passed validation", c.path, c.status, c.body)
		}
	}
}

// TestOpenAPICoversEveryRoute: every /api/v1 route the handler serves is in the document,
// with its method, and the document names no route the handler lacks.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" {
				documented[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	served := map[string]bool{"GET " + PathV1OpenAPI: true, "POST " + PathV1Login: true, "POST " + PathV1Logout: true}
	for _, r := range (&handler{}).v1Routes() {
		served[r.pattern] = true
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("%s is served but not in openapi.json", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("openapi.json documents %s, which is not served", r)
		}
	}
}

// TestV1ProtocolLogAndTrackingSearch: a message's sessions on every hop, found by its
// Message-ID (the FrontEnd's and the hub's 250 2.6.0 replies) and by the session-id of its
// RECEIVE event, every line of them and nothing of another message's; and
// Get-MessageTrackingLog's filters over the server's logs.
func TestV1ProtocolLogAndTrackingSearch(t *testing.T) {
	a := newAPIServer(t)
	ctx := context.Background()
	id := a.deliver(t, "a@example.org", []string{"user1@contoso.test"}, simple("p1", "logged", "x"), time.Now().UTC())
	header := func(kind string) string {
		return "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP " + kind + " Protocol Log\r\n" +
			"#Date: 2026-12-02T10:00:00.000Z\r\n#Fields: " + smtpwire.ProtocolLogFields + "\r\n"
	}
	fe := header("Receive") +
		"2026-12-02T10:00:00.000Z,EX01\\Default Frontend EX01,08DE00000000FE01,0,127.0.0.1:25,127.0.0.1:50001,+,,\r\n" +
		"2026-12-02T10:00:00.010Z,EX01\\Default Frontend EX01,08DE00000000FE01,1,127.0.0.1:25,127.0.0.1:50001,>,\"250 2.6.0 <p1@example.org> [InternalId=1, Hostname=ex01.contoso.test] Queued mail for delivery\",\r\n" +
		"2026-12-02T10:00:00.020Z,EX01\\Default Frontend EX01,08DE00000000FE01,2,127.0.0.1:25,127.0.0.1:50001,-,,Local\r\n" +
		"2026-12-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE00000000FE02,0,127.0.0.1:25,127.0.0.1:50002,>,\"250 2.6.0 <other@example.org> [InternalId=2, Hostname=ex01.contoso.test] Queued mail for delivery\",\r\n"
	hub := header("Receive") +
		"2026-12-02T10:00:00.005Z,EX01\\Default EX01,08DE0000000048B1,0,127.0.0.1:2525,127.0.0.1:50003,+,,\r\n" +
		"2026-12-02T10:00:00.006Z,EX01\\Default EX01,08DE0000000048B1,1,127.0.0.1:2525,127.0.0.1:50003,<,\"MAIL FROM:<a@example.org>\",\r\n"
	for dir, body := range map[string]string{"FrontEnd": fe, "Hub": hub} {
		_ = os.MkdirAll(filepath.Join(a.dir, dir), 0o700)
		if err := os.WriteFile(filepath.Join(a.dir, dir, "RECV2026120210-1.LOG"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	trk := "#Software: Microsoft Exchange Server\r\n#Fields: date-time,source-context,event-id,source,internal-message-id,message-id,sender-address,recipient-address\r\n" +
		"2026-12-02T10:00:00.007Z,08DE0000000048B1;2026-12-02T10:00:00.005Z;0,RECEIVE,SMTP,1,<p1@example.org>,a@example.org,user1@contoso.test\r\n" +
		"2026-12-02T10:00:00.009Z,,DELIVER,STOREDRIVER,1,<p1@example.org>,a@example.org,user1@contoso.test\r\n" +
		"2026-12-02T11:00:00.000Z,08DE000000004800;2026-12-02T11:00:00.000Z;0,RECEIVE,SMTP,2,<other@example.org>,b@example.org,administrator@contoso.test\r\n"
	_ = os.WriteFile(filepath.Join(a.dir, "tracking", "MSGTRK2026120210-1.LOG"), []byte(trk), 0o600)

	ss, err := a.c.MessageProtocolLog(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ss {
		got = append(got, fmt.Sprintf("%s/%s %s %s %d", s.Service, s.Log, s.Connector, s.Session, len(s.Lines)))
	}
	want := []string{`FrontEnd/SmtpReceive EX01\Default Frontend EX01 08DE00000000FE01 3`, `Hub/SmtpReceive EX01\Default EX01 08DE0000000048B1 2`}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("sessions:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ss) > 0 && (ss[0].Lines[1].Event != ">" || ss[0].Lines[1].Sequence != 1 || !strings.HasPrefix(ss[0].Lines[1].Data, "250 2.6.0 <p1@")) {
		t.Errorf("line: %+v", ss[0].Lines[1])
	}
	if _, err := a.c.MessageProtocolLog(ctx, id+99, ""); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}

	for _, c := range []struct {
		tq   TrackingQuery
		want string
	}{
		{TrackingQuery{}, "RECEIVE DELIVER RECEIVE"},
		{TrackingQuery{EventID: "receive"}, "RECEIVE RECEIVE"},
		{TrackingQuery{Sender: "B@example.org"}, "RECEIVE"},
		{TrackingQuery{Recipient: "user1@contoso.test", EventID: "DELIVER"}, "DELIVER"},
		{TrackingQuery{MessageID: "<p1@example.org>"}, "RECEIVE DELIVER"},
		{TrackingQuery{Start: time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)}, "RECEIVE"},
		{TrackingQuery{End: time.Date(2026, 12, 2, 10, 0, 0, 8e6, time.UTC)}, "RECEIVE"},
	} {
		es, err := a.c.SearchTracking(ctx, c.tq)
		var ids []string
		for _, e := range es {
			ids = append(ids, e["event-id"])
		}
		if err != nil || strings.Join(ids, " ") != c.want {
			t.Errorf("%+v: %v %v, want %s", c.tq, ids, err, c.want)
		}
	}
	if resp := a.get(t, PathV1Tracking+"?start=yesterday"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad start: %s", resp.Status)
	}
}

// TestV1Organization: read the organization with its ETag, write a changed one back, and the
// refusals: an ETag of another version (409) and an organization that does not validate (422,
// naming the field), both changing nothing.
func TestV1Organization(t *testing.T) {
	a := newAPIServer(t)
	ctx := context.Background()
	o, err := a.c.Organization(ctx)
	if err != nil || o.Source != string(config.DefaultYAML) || o.File != "org.yaml" || o.ETag != OrgETag(config.DefaultYAML) {
		t.Fatalf("GET: %+v %v", o.File, err)
	}
	changed := strings.Replace(o.Source, "MaxRecipientsPerMessage: 200", "MaxRecipientsPerMessage: 300", 1)
	etag, err := a.c.SetOrganization(ctx, []byte(changed), o.ETag)
	if err != nil || etag != OrgETag([]byte(changed)) {
		t.Fatalf("PUT: %q %v", etag, err)
	}
	var ae *Error
	if _, err := a.c.SetOrganization(ctx, []byte(o.Source), o.ETag); !errors.As(err, &ae) || ae.Code != CodeConflict {
		t.Errorf("stale ETag: %v", err)
	}
	bad := strings.Replace(changed, "MaxRecipientsPerMessage: 300", "MaxRecipientsPerMessage: lots", 1)
	if _, err := a.c.SetOrganization(ctx, []byte(bad), etag); !errors.As(err, &ae) || ae.Code != CodeInvalid || !strings.Contains(ae.Message, "MaxRecipientsPerMessage") {
		t.Errorf("invalid: %v", err)
	}
	if o2, err := a.c.Organization(ctx); err != nil || o2.Source != changed {
		t.Errorf("after the refusals the organization is not the one written: %v", err)
	}
	cert, err := smtpreceive.SelfSignedCertificateFor(t.TempDir(), "ex01.contoso.test", config.Version2019)
	if err != nil {
		t.Fatal(err)
	}
	a.orgMu.Lock()
	a.certs = []CertificateInfo{CertificateOf(cert.Leaf, "Microsoft Exchange", []string{"IMAP", "POP", "IIS", "SMTP"}, time.Now())}
	a.orgMu.Unlock()
	if cs, err := a.c.Certificates(ctx); err != nil || len(cs) != 1 || !cs[0].IsSelfSigned || cs[0].Status != "Valid" || cs[0].Subject != "CN=EX01" || len(cs[0].Thumbprint) != 40 {
		t.Errorf("certificates: %+v %v", cs, err)
	}
	if evs, err := a.c.EventLog(ctx); err != nil || len(evs) != 1 || evs[0]["EventID"] != float64(1020) {
		t.Errorf("event log: %v %v", evs, err)
	}
}
