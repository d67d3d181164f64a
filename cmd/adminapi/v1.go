package adminapi

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpwire"
)

// OpenAPI is the OpenAPI 3.1 document of /api/v1, served at PathV1OpenAPI.
//
//go:embed openapi.json
var OpenAPI []byte

// MessageStore is what /api/v1 reads and deletes (queue.Store).
type MessageStore interface {
	Mailboxes() ([]string, error)
	ScanMailboxItems(mailbox string, after queue.ItemKey, fn func(queue.MailboxItem) bool) error
	MailboxContent(mailbox string, id uint64) (queue.MailboxItem, []byte, error)
	ItemsByID(id uint64) ([]queue.MailboxItem, error)
	DeleteMailboxItems(keys []queue.ItemKey) (int, error)
	Watch(buffer int) (c <-chan queue.MailboxItem, lost func() bool, cancel func())
}

// routeV1 adds /api/v1 to mux (every path behind the token but the OpenAPI document).
func (h *handler) routeV1(mux *http.ServeMux) {
	auth := h.auth
	mux.HandleFunc("GET "+PathV1OpenAPI, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI)
	})
	// Anything else under /api/v1 gets the one error shape too, not the mux's plain text.
	mux.HandleFunc(PathV1+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such path: "+r.URL.Path)
	})
	if h.o.Store == nil {
		return
	}
	for _, r := range h.v1Routes() {
		mux.HandleFunc(r.pattern, auth(r.fn))
	}
}

type route struct {
	pattern string // METHOD PATH, as openapi.json has it
	fn      http.HandlerFunc
}

// v1Routes are the paths behind the token (TestOpenAPICoversEveryRoute holds openapi.json to
// them).
func (h *handler) v1Routes() []route {
	return []route{
		{"GET " + PathV1Messages, h.v1List},
		{"DELETE " + PathV1Messages, h.v1DeleteAll},
		{"GET " + PathV1Wait, h.v1Wait},
		{"GET " + PathV1Messages + "/{id}", h.v1Message},
		{"DELETE " + PathV1Messages + "/{id}", h.v1Delete},
		{"GET " + PathV1Messages + "/{id}/raw", h.v1Raw},
		{"GET " + PathV1Messages + "/{id}/parts/{path}", h.v1Part},
		{"GET " + PathV1Messages + "/{id}/tracking", h.v1Tracking},
		{"GET " + PathV1Messages + "/{id}/protocollog", h.v1ProtocolLog},
		{"GET " + PathV1Tracking, h.v1SearchTracking},
		{"GET " + PathV1Org, h.v1Organization},
		{"PUT " + PathV1Org, h.v1SetOrganization},
		{"POST " + PathV1Shell, h.v1Shell},
		{"GET " + PathV1EventLog, h.v1EventLog},
		{"GET " + PathV1Certs, h.v1Certificates},
		{"POST " + PathV1Certs, h.v1NewCertificate},
		{"GET " + PathV1Mailboxes, h.v1Mailboxes},
		{"GET " + PathV1Events, h.v1Events},
		{"GET " + PathV1Health, h.v1Health},
	}
}

// Summary is the list form of a stored item.
func Summary(it queue.MailboxItem) MessageSummary {
	to := it.To
	if to == nil {
		to = []string{}
	}
	return MessageSummary{Mailbox: it.Mailbox, ID: it.ID, MessageID: it.MessageID, From: it.From, To: to,
		Subject: smtpwire.DecodeSubject(it.Subject), Received: it.Received, Size: it.Size}
}

// filterOf reads a Filter from the query.
func filterOf(r *http.Request) (Filter, error) {
	q := r.URL.Query()
	f := Filter{Mailbox: q.Get("mailbox"), Sender: q.Get("sender"), Recipient: q.Get("recipient"), Subject: q.Get("subject"),
		Text: q.Get("text"), MessageID: q.Get("messageId")}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"before", &f.Before}} {
		if v := q.Get(t.name); v != "" {
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not an RFC 3339 time", t.name, v)
			}
			*t.dst = tm
		}
	}
	return f, nil
}

// matcher is a Filter made ready to test items: the mailbox resolved to its primary address,
// the strings lowered once.
type matcher struct {
	f                                           Filter
	mailbox                                     string // primary address, lower case; "" for every mailbox
	sender, recipient, subject, text, messageID string
	content                                     func(queue.MailboxItem) []byte // for Text
}

func (h *handler) matcher(f Filter) matcher {
	m := matcher{f: f, sender: strings.ToLower(f.Sender), recipient: strings.ToLower(f.Recipient),
		subject: strings.ToLower(f.Subject), text: strings.ToLower(f.Text), messageID: strings.Trim(f.MessageID, "<>")}
	if f.Mailbox != "" {
		m.mailbox = strings.ToLower(h.primaryAddress(f.Mailbox))
	}
	m.content = func(it queue.MailboxItem) []byte {
		_, c, err := h.o.Store.MailboxContent(it.Mailbox, it.ID)
		if err != nil {
			return nil
		}
		return c
	}
	return m
}

// primaryAddress is the primary SMTP address of the organization's mailbox that addr is one
// of the addresses of (smtp: prefixes allowed, as in EmailAddresses), or addr.
func (h *handler) primaryAddress(addr string) string {
	if h.o.Org == nil {
		return addr
	}
	org := h.o.Org()
	if org == nil {
		return addr
	}
	for _, mb := range org.Mailboxes {
		for _, a := range append([]string{mb.PrimarySmtpAddress}, mb.EmailAddresses...) {
			if i := strings.IndexByte(a, ':'); i >= 0 && strings.EqualFold(a[:i], "smtp") {
				a = a[i+1:]
			}
			if strings.EqualFold(a, addr) {
				return mb.PrimarySmtpAddress
			}
		}
	}
	return addr
}

func containsFold(s, lowerSub string) bool {
	return lowerSub == "" || strings.Contains(strings.ToLower(s), lowerSub)
}

func (m *matcher) match(it queue.MailboxItem) bool {
	if m.mailbox != "" && strings.ToLower(it.Mailbox) != m.mailbox {
		return false
	}
	if !m.f.Since.IsZero() && it.Received.Before(m.f.Since) || !m.f.Before.IsZero() && !it.Received.Before(m.f.Before) {
		return false
	}
	if m.messageID != "" && strings.Trim(it.MessageID, "<>") != m.messageID {
		return false
	}
	if !containsFold(it.From, m.sender) {
		return false
	}
	if m.recipient != "" {
		found := false
		for _, t := range it.To {
			found = found || containsFold(t, m.recipient)
		}
		if !found {
			return false
		}
	}
	subject := smtpwire.DecodeSubject(it.Subject)
	if !containsFold(subject, m.subject) {
		return false
	}
	if m.text != "" && !containsFold(subject, m.text) && !bytes.Contains(bytes.ToLower(m.content(it)), []byte(m.text)) {
		return false
	}
	return true
}

// Cursors are opaque to clients: the key of the last item of a page.
func encodeCursor(k queue.ItemKey) string {
	b := binary.BigEndian.AppendUint64(nil, k.ID)
	return base64.RawURLEncoding.EncodeToString(append(b, k.Mailbox...))
}

func decodeCursor(s string) (queue.ItemKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 8 {
		return queue.ItemKey{}, fmt.Errorf("cursor: %q is not a cursor of this API", s)
	}
	return queue.ItemKey{ID: binary.BigEndian.Uint64(b), Mailbox: string(b[8:])}, nil
}

// list returns up to limit items matching m after the cursor, and the next cursor.
func (h *handler) list(m matcher, after queue.ItemKey, limit int) ([]MessageSummary, string, error) {
	out := []MessageSummary{}
	next := ""
	err := h.o.Store.ScanMailboxItems(m.mailbox, after, func(it queue.MailboxItem) bool {
		if !m.match(it) {
			return true
		}
		if len(out) == limit {
			next = encodeCursor(queue.ItemKey{Mailbox: out[len(out)-1].Mailbox, ID: out[len(out)-1].ID})
			return false
		}
		out = append(out, Summary(it))
		return true
	})
	return out, next, err
}

func (h *handler) v1List(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	limit := DefaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxPageSize {
			writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("limit: %q is not a number from 1 to %d", v, MaxPageSize))
			return
		}
	}
	var after queue.ItemKey
	if c := r.URL.Query().Get("cursor"); c != "" {
		if after, err = decodeCursor(c); err != nil {
			writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
			return
		}
	}
	msgs, next, err := h.list(h.matcher(f), after, limit)
	if err != nil {
		queueError(w, err)
		return
	}
	writeJSON(w, MessageList{Messages: msgs, NextCursor: next})
}

// item finds message id: in the mailbox of the query's mailbox parameter, or the first
// mailbox that holds it.
func (h *handler) item(w http.ResponseWriter, r *http.Request) (queue.MailboxItem, []byte, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("id: %q is not an InternalMessageId", r.PathValue("id")))
		return queue.MailboxItem{}, nil, false
	}
	mb := r.URL.Query().Get("mailbox")
	if mb == "" {
		items, err := h.o.Store.ItemsByID(id)
		if err != nil {
			queueError(w, err)
			return queue.MailboxItem{}, nil, false
		}
		if len(items) == 0 {
			writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no delivered message has InternalMessageId %d", id))
			return queue.MailboxItem{}, nil, false
		}
		mb = items[0].Mailbox
	} else {
		mb = h.primaryAddress(mb)
	}
	it, content, err := h.o.Store.MailboxContent(mb, id)
	if errors.Is(err, queue.ErrNotFound) {
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("mailbox %s holds no message with InternalMessageId %d", mb, id))
		return it, nil, false
	} else if err != nil {
		queueError(w, err)
		return it, nil, false
	}
	return it, content, true
}

func (h *handler) v1Message(w http.ResponseWriter, r *http.Request) {
	it, content, ok := h.item(w, r)
	if !ok {
		return
	}
	writeJSON(w, ParseMessage(Summary(it), content))
}

func (h *handler) v1Raw(w http.ResponseWriter, r *http.Request) {
	it, content, ok := h.item(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%d.eml"`, it.ID))
	_, _ = w.Write(content)
}

func (h *handler) v1Part(w http.ResponseWriter, r *http.Request) {
	_, content, ok := h.item(w, r)
	if !ok {
		return
	}
	p, body, err := FindPart(content, r.PathValue("path"))
	if err != nil {
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
		return
	}
	ct := p.ContentType
	if strings.HasPrefix(ct, "text/") {
		ct += "; charset=utf-8" // decoded to UTF-8
	}
	w.Header().Set("Content-Type", ct)
	// A part is the sender's content: an HTML body shown in the console runs no script and
	// fetches nothing remote (what a mail reader's "block external content" does).
	w.Header().Set("Content-Security-Policy", PartCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p.Filename != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", p.Filename))
	}
	_, _ = w.Write(body)
}

func (h *handler) v1Tracking(w http.ResponseWriter, r *http.Request) {
	it, _, ok := h.item(w, r)
	if !ok {
		return
	}
	out := TrackingEvents{Events: []transport.TrackingEntry{}}
	if h.o.TrackingDir != nil && it.MessageID != "" {
		// By Message-ID: the hub's events carry its own InternalMessageId, the Mailbox
		// Delivery service's (MSGTRKMD) the store's; the Message-ID is in both.
		es, err := transport.SearchTracking(h.o.TrackingDir(), "", "", "", it.MessageID, time.Time{}, time.Time{})
		if err != nil {
			queueError(w, err)
			return
		}
		out.Events = append(out.Events, es...)
	}
	writeJSON(w, out)
}

// v1ProtocolLog finds the message's sessions by its Message-ID (in the 250 2.6.0 reply of each
// hop) and by the session-ids of its RECEIVE tracking events (source-context).
func (h *handler) v1ProtocolLog(w http.ResponseWriter, r *http.Request) {
	it, _, ok := h.item(w, r)
	if !ok {
		return
	}
	out := ProtocolLogSessions{Sessions: []ProtocolLogSession{}}
	if h.o.ProtocolLogDirs == nil || it.MessageID == "" {
		writeJSON(w, out)
		return
	}
	var sessionIDs []string
	if h.o.TrackingDir != nil {
		es, err := transport.SearchTracking(h.o.TrackingDir(), "", "", "RECEIVE", it.MessageID, time.Time{}, time.Time{})
		if err != nil {
			queueError(w, err)
			return
		}
		for _, e := range es {
			if sid, _, ok := strings.Cut(e["source-context"], ";"); ok && sid != "" {
				sessionIDs = append(sessionIDs, sid)
			}
		}
	}
	dirs := h.o.ProtocolLogDirs()
	byPath := map[string]ProtocolLogDir{}
	var paths []string
	for _, d := range dirs {
		byPath[d.Path] = d
		paths = append(paths, d.Path)
	}
	ss, err := smtpwire.FindProtocolSessions(paths, []string{it.MessageID}, sessionIDs)
	if err != nil {
		queueError(w, err)
		return
	}
	for _, s := range ss {
		d := byPath[s.Dir]
		ps := ProtocolLogSession{Service: d.Service, Log: d.Log, Connector: s.Connector, Session: s.Session, Lines: make([]ProtocolLogLine, 0, len(s.Lines))}
		for _, l := range s.Lines {
			ps.Lines = append(ps.Lines, ProtocolLogLine{DateTime: l.Time.UTC().Format("2006-01-02T15:04:05.000Z"), Sequence: l.Seq,
				Local: l.Local, Remote: l.Remote, Event: string(l.Event), Data: l.Data, Context: l.Context})
		}
		out.Sessions = append(out.Sessions, ps)
	}
	writeJSON(w, out)
}

// OrgETag is the ETag of an organization file's bytes.
func OrgETag(src []byte) string {
	sum := sha256.Sum256(src)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

func (h *handler) v1Organization(w http.ResponseWriter, r *http.Request) {
	if h.o.Organization == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "this server does not serve its organization")
		return
	}
	file, src, err := h.o.Organization()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
		return
	}
	w.Header().Set("ETag", OrgETag(src))
	writeJSON(w, Organization{File: file, Source: string(src), ETag: OrgETag(src), Server: h.o.ServerName, PortOffset: h.o.PortOffset})
}

func (h *handler) v1SetOrganization(w http.ResponseWriter, r *http.Request) {
	if h.o.Organization == nil || h.o.SetOrganization == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "this server does not serve its organization")
		return
	}
	var in Organization
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the body is not an Organization: "+err.Error())
		return
	}
	h.orgMu.Lock() // the ETag check and the write, one edit at a time
	defer h.orgMu.Unlock()
	_, cur, err := h.o.Organization()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
		return
	}
	if in.ETag != OrgETag(cur) {
		writeError(w, http.StatusConflict, CodeConflict, "the organization changed since it was read (ETag "+in.ETag+" is not "+OrgETag(cur)+"); read it again")
		return
	}
	file, err := h.o.SetOrganization([]byte(in.Source))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeInvalid, err.Error())
		return
	}
	w.Header().Set("ETag", OrgETag([]byte(in.Source)))
	writeJSON(w, Organization{File: file, ETag: OrgETag([]byte(in.Source))})
}

func (h *handler) v1Shell(w http.ResponseWriter, r *http.Request) {
	if h.o.Shell == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "this server does not run the shell")
		return
	}
	var in ShellRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the body is not a ShellRequest: "+err.Error())
		return
	}
	out, err := h.o.Shell(r.Context(), in)
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
		return
	}
	writeJSON(w, out)
}

func (h *handler) v1EventLog(w http.ResponseWriter, r *http.Request) {
	out := EventLog{Events: []map[string]any{}}
	if h.o.EventLog != nil {
		for _, b := range h.o.EventLog() {
			var ev map[string]any
			if json.Unmarshal(b, &ev) == nil {
				out.Events = append(out.Events, ev)
			}
		}
	}
	writeJSON(w, out)
}

func (h *handler) v1Certificates(w http.ResponseWriter, r *http.Request) {
	out := Certificates{Certificates: []CertificateInfo{}}
	if h.o.Certificates != nil {
		out.Certificates = append(out.Certificates, h.o.Certificates()...)
	}
	writeJSON(w, out)
}

func (h *handler) v1NewCertificate(w http.ResponseWriter, r *http.Request) {
	if h.o.NewCertificate == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "this server does not make certificates")
		return
	}
	var in NewCertificateRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the body is not a NewCertificateRequest: "+err.Error())
		return
	}
	ci, err := h.o.NewCertificate(in)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeInvalid, err.Error())
		return
	}
	writeJSON(w, ci)
}

// CertificateOf describes a certificate as Get-ExchangeCertificate does.
func CertificateOf(leaf *x509.Certificate, friendlyName string, services []string, now time.Time) CertificateInfo {
	sum := sha1.Sum(leaf.Raw)
	status := "Valid"
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		status = "DateInvalid"
	}
	if services == nil {
		services = []string{}
	}
	dns := append([]string{}, leaf.DNSNames...)
	return CertificateInfo{Thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])), Subject: smtpwire.DistinguishedName(leaf.Subject),
		Issuer: smtpwire.DistinguishedName(leaf.Issuer), FriendlyName: friendlyName, Services: services, NotBefore: leaf.NotBefore.UTC(),
		NotAfter: leaf.NotAfter.UTC(), IsSelfSigned: bytes.Equal(leaf.RawIssuer, leaf.RawSubject), Status: status, DnsNameList: dns}
}

// v1SearchTracking is Get-MessageTrackingLog over the server's tracking logs.
func (h *handler) v1SearchTracking(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var tq TrackingQuery
	tq.Sender, tq.Recipient, tq.EventID, tq.MessageID = q.Get("sender"), q.Get("recipient"), q.Get("eventId"), q.Get("messageId")
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"start", &tq.Start}, {"end", &tq.End}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%s: %q is not an RFC 3339 time", p.name, v))
				return
			}
			*p.t = t
		}
	}
	out := TrackingEvents{Events: []transport.TrackingEntry{}}
	if h.o.TrackingDir != nil {
		es, err := transport.SearchTracking(h.o.TrackingDir(), tq.Sender, tq.Recipient, tq.EventID, tq.MessageID, tq.Start, tq.End)
		if err != nil {
			queueError(w, err)
			return
		}
		out.Events = append(out.Events, es...)
	}
	writeJSON(w, out)
}

func (h *handler) v1Mailboxes(w http.ResponseWriter, r *http.Request) {
	mbs, err := h.o.Store.Mailboxes()
	if err != nil {
		queueError(w, err)
		return
	}
	out := []MailboxInfo{}
	for _, mb := range mbs {
		n := 0
		if err := h.o.Store.ScanMailboxItems(mb, queue.ItemKey{}, func(queue.MailboxItem) bool { n++; return true }); err != nil {
			queueError(w, err)
			return
		}
		out = append(out, MailboxInfo{Mailbox: mb, Count: n})
	}
	writeJSON(w, out)
}

func (h *handler) v1Delete(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("id: %q is not an InternalMessageId", r.PathValue("id")))
		return
	}
	var keys []queue.ItemKey
	if mb := r.URL.Query().Get("mailbox"); mb != "" {
		keys = []queue.ItemKey{{Mailbox: h.primaryAddress(mb), ID: id}}
	} else {
		items, err := h.o.Store.ItemsByID(id)
		if err != nil {
			queueError(w, err)
			return
		}
		for _, it := range items {
			keys = append(keys, queue.ItemKey{Mailbox: it.Mailbox, ID: it.ID})
		}
	}
	n, err := h.o.Store.DeleteMailboxItems(keys)
	if err != nil {
		queueError(w, err)
		return
	}
	if n == 0 {
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no delivered message has InternalMessageId %d", id))
		return
	}
	h.o.Logger.Info("mailbox items deleted", "InternalMessageId", id, "count", n)
	writeJSON(w, DeleteResult{Deleted: n})
}

// v1DeleteAll deletes the messages of one mailbox (mailbox=ADDRESS) or of every mailbox.
func (h *handler) v1DeleteAll(w http.ResponseWriter, r *http.Request) {
	mb := r.URL.Query().Get("mailbox")
	if mb != "" {
		mb = h.primaryAddress(mb)
	}
	var keys []queue.ItemKey
	if err := h.o.Store.ScanMailboxItems(mb, queue.ItemKey{}, func(it queue.MailboxItem) bool {
		keys = append(keys, queue.ItemKey{Mailbox: it.Mailbox, ID: it.ID})
		return true
	}); err != nil {
		queueError(w, err)
		return
	}
	n, err := h.o.Store.DeleteMailboxItems(keys)
	if err != nil {
		queueError(w, err)
		return
	}
	h.o.Logger.Info("mailbox items deleted", "mailbox", mb, "count", n)
	writeJSON(w, DeleteResult{Deleted: n})
}

// v1Wait answers as soon as a message matching the filters is stored: one already there, or
// the next delivery (the store's Watch: no polling). since= (or a cursor of a list) makes it
// wait for new messages only. 408 after timeout.
func (h *handler) v1Wait(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	timeout := DefaultWait
	if v := r.URL.Query().Get("timeout"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 || timeout > MaxWait {
			writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("timeout: %q is not a duration from 1ns to %s", v, MaxWait))
			return
		}
	}
	m := h.matcher(f)
	// Subscribe first, then look at what is there: a delivery between the two is in both, and
	// none is missed.
	ch, lost, cancel := h.o.Store.Watch(256)
	defer cancel()
	found := func() (MessageSummary, bool, error) {
		msgs, _, err := h.list(m, queue.ItemKey{}, 1)
		if err != nil || len(msgs) == 0 {
			return MessageSummary{}, false, err
		}
		return msgs[0], true, nil
	}
	if s, ok, err := found(); err != nil {
		queueError(w, err)
		return
	} else if ok {
		writeJSON(w, s)
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case it := <-ch:
			if m.match(it) {
				writeJSON(w, Summary(it))
				return
			}
			if lost() { // fell behind a burst: look again
				if s, ok, err := found(); err != nil {
					queueError(w, err)
					return
				} else if ok {
					writeJSON(w, s)
					return
				}
			}
		case <-t.C:
			writeError(w, http.StatusRequestTimeout, CodeTimeout, fmt.Sprintf("no matching message was delivered within %s", timeout))
			return
		case <-r.Context().Done():
			return
		}
	}
}

// v1Events is a server-sent-events stream (text/event-stream) of deliveries: one "delivery"
// event per stored mailbox item, its data a MessageSummary; "exchange" for each Exchange
// event the server logs (1020, 1035, 15004, 1003 …: the --events JSON object); "lost" when
// the stream fell behind and missed deliveries; a comment every 15 s keeps proxies from
// closing it.
func (h *handler) v1Health(w http.ResponseWriter, r *http.Request) {
	if h.o.Health == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "this server does not report its bindings")
		return
	}
	bs := h.o.Health()
	if bs == nil {
		bs = []HealthBinding{}
	}
	ready := true
	for _, b := range bs {
		ready = ready && b.Listening
	}
	writeJSON(w, Health{Server: h.o.ServerName, Ready: ready, Bindings: bs})
}

func (h *handler) v1Events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, CodeInternal, "streaming is not supported")
		return
	}
	// ?types=a,b: only those event types (delivery, tracking, exchange, stats), so a dashboard
	// that shows the per-second figures is not sent every delivery of a load test; without it
	// every type but stats (which ?stats=1 adds).
	want := map[string]bool{"delivery": true, "tracking": true, "exchange": true, "stats": r.URL.Query().Get("stats") != ""}
	if t := r.URL.Query().Get("types"); t != "" {
		want = map[string]bool{}
		for _, k := range strings.Split(t, ",") {
			switch k = strings.TrimSpace(k); k {
			case "delivery", "tracking", "exchange", "stats":
				want[k] = true
			default:
				writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("types: %q is not delivery, tracking, exchange or stats", k))
				return
			}
		}
	}
	var ch <-chan queue.MailboxItem // nil: never ready
	lost := func() bool { return false }
	if want["delivery"] {
		var cancel func()
		ch, lost, cancel = h.o.Store.Watch(1024)
		defer cancel()
	}
	var exch <-chan []byte
	if h.o.ExchangeEvents != nil && want["exchange"] {
		var stop func()
		exch, stop = h.o.ExchangeEvents(256)
		defer stop()
	}
	var trk <-chan transport.TrackingEntry
	if h.o.TrackingEvents != nil && want["tracking"] {
		var stop func()
		trk, stop = h.o.TrackingEvents(1024)
		defer stop()
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": exlab deliveries\n\n")
	fl.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	// ?stats=1: the load figures once a second (the console's dashboard).
	var statsTick <-chan time.Time
	var prev statsSample
	if h.o.Stats != nil && want["stats"] {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		statsTick = t.C
		prev = h.o.Stats.sample(time.Now())
	}
	wasLost := false
	for {
		select {
		case now := <-statsTick:
			cur := h.o.Stats.sample(now)
			var b bytes.Buffer
			e := json.NewEncoder(&b)
			e.SetEscapeHTML(false)
			_ = e.Encode(h.o.Stats.stats(prev, cur))
			prev = cur
			fmt.Fprintf(w, "event: stats\ndata: %s\n", b.Bytes())
			fl.Flush()
		case it := <-ch:
			var b bytes.Buffer
			e := json.NewEncoder(&b)
			e.SetEscapeHTML(false)
			_ = e.Encode(Summary(it)) // one line, ending in \n
			fmt.Fprintf(w, "event: delivery\nid: %s\ndata: %s\n", encodeCursor(queue.ItemKey{Mailbox: it.Mailbox, ID: it.ID}), b.Bytes())
			if l := lost(); l && !wasLost {
				wasLost = true
				fmt.Fprint(w, "event: lost\ndata: {}\n\n")
			}
			fl.Flush()
		case ev := <-exch:
			fmt.Fprintf(w, "event: exchange\ndata: %s\n\n", ev)
			fl.Flush()
		case te := <-trk:
			var b bytes.Buffer
			e := json.NewEncoder(&b)
			e.SetEscapeHTML(false)
			_ = e.Encode(te) // one line, ending in \n
			fmt.Fprintf(w, "event: tracking\ndata: %s\n", b.Bytes())
			fl.Flush()
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}
