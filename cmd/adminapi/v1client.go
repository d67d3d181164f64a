package adminapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/transport"
)

// The Client's side of /api/v1. Every method takes a context; a refusal comes back as *Error
// (errors.Is(err, queue.ErrNotFound) for not_found; Code CodeTimeout for a wait that timed out).

// Values is the filter as query parameters.
func (f Filter) Values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"mailbox": f.Mailbox, "sender": f.Sender, "recipient": f.Recipient, "subject": f.Subject,
		"text": f.Text, "messageId": f.MessageID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Before.IsZero() {
		q.Set("before", f.Before.Format(time.RFC3339Nano))
	}
	return q
}

// ListMessages is one page of the messages matching f, newest first: limit 0 for the
// server's default page size, cursor "" for the first page, else the NextCursor of the last.
func (c *Client) ListMessages(ctx context.Context, f Filter, limit int, cursor string) (MessageList, error) {
	q := f.Values()
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var l MessageList
	_, err := c.doCtx(ctx, c.http, http.MethodGet, PathV1Messages, q, nil, &l)
	return l, err
}

// AllMessages follows the cursor through every page of the messages matching f.
func (c *Client) AllMessages(ctx context.Context, f Filter) ([]MessageSummary, error) {
	var out []MessageSummary
	cursor := ""
	for {
		l, err := c.ListMessages(ctx, f, MaxPageSize, cursor)
		if err != nil {
			return out, err
		}
		out = append(out, l.Messages...)
		if l.NextCursor == "" {
			return out, nil
		}
		cursor = l.NextCursor
	}
}

// WaitMessage returns the first message matching f, already stored or delivered within
// timeout (0: the server's default, 30 s); the server answers as soon as it is stored. Set
// f.Since to wait for a new one only.
func (c *Client) WaitMessage(ctx context.Context, f Filter, timeout time.Duration) (MessageSummary, error) {
	q := f.Values()
	if timeout > 0 {
		q.Set("timeout", timeout.String())
	}
	var s MessageSummary
	// The wait outlasts the client's ordinary timeout; ctx and the server's timeout bound it.
	_, err := c.doCtx(ctx, &http.Client{Transport: c.http.Transport}, http.MethodGet, PathV1Wait, q, nil, &s)
	return s, err
}

func idPath(id uint64) string { return PathV1Messages + "/" + strconv.FormatUint(id, 10) }

func mailboxQuery(mailbox string) url.Values {
	if mailbox == "" {
		return nil
	}
	return url.Values{"mailbox": {mailbox}}
}

// Message is one message parsed (mailbox "" for the first mailbox that holds it).
func (c *Client) Message(ctx context.Context, id uint64, mailbox string) (Message, error) {
	var m Message
	_, err := c.doCtx(ctx, c.http, http.MethodGet, idPath(id), mailboxQuery(mailbox), nil, &m)
	return m, err
}

// RawMessage is one message as stored (its .eml).
func (c *Client) RawMessage(ctx context.Context, id uint64, mailbox string) ([]byte, error) {
	return c.doCtx(ctx, c.http, http.MethodGet, idPath(id)+"/raw", mailboxQuery(mailbox), nil, nil)
}

// MessagePart is the decoded content of the part at path (Part.Path, Attachment.Path).
func (c *Client) MessagePart(ctx context.Context, id uint64, mailbox, path string) ([]byte, error) {
	return c.doCtx(ctx, c.http, http.MethodGet, idPath(id)+"/parts/"+url.PathEscape(path), mailboxQuery(mailbox), nil, nil)
}

// MessageTracking is the message tracking log entries of a message.
func (c *Client) MessageTracking(ctx context.Context, id uint64, mailbox string) ([]transport.TrackingEntry, error) {
	var t TrackingEvents
	_, err := c.doCtx(ctx, c.http, http.MethodGet, idPath(id)+"/tracking", mailboxQuery(mailbox), nil, &t)
	return t.Events, err
}

// MessageProtocolLog is the protocol-log sessions that carried a message, every hop.
func (c *Client) MessageProtocolLog(ctx context.Context, id uint64, mailbox string) ([]ProtocolLogSession, error) {
	var p ProtocolLogSessions
	_, err := c.doCtx(ctx, c.http, http.MethodGet, idPath(id)+"/protocollog", mailboxQuery(mailbox), nil, &p)
	return p.Sessions, err
}

// SearchTracking is Get-MessageTrackingLog on the running server.
func (c *Client) SearchTracking(ctx context.Context, tq TrackingQuery) ([]transport.TrackingEntry, error) {
	q := url.Values{}
	for k, v := range map[string]string{"sender": tq.Sender, "recipient": tq.Recipient, "eventId": tq.EventID, "messageId": tq.MessageID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !tq.Start.IsZero() {
		q.Set("start", tq.Start.UTC().Format(time.RFC3339Nano))
	}
	if !tq.End.IsZero() {
		q.Set("end", tq.End.UTC().Format(time.RFC3339Nano))
	}
	var t TrackingEvents
	_, err := c.doCtx(ctx, c.http, http.MethodGet, PathV1Tracking, q, nil, &t)
	return t.Events, err
}

// Organization reads the organization file the server runs on.
func (c *Client) Organization(ctx context.Context) (Organization, error) {
	var o Organization
	_, err := c.doCtx(ctx, c.http, http.MethodGet, PathV1Org, nil, nil, &o)
	return o, err
}

// SetOrganization replaces the organization file with src, which must have been derived from
// the version etag names; the server validates, writes and applies it. It returns the new ETag.
func (c *Client) SetOrganization(ctx context.Context, src []byte, etag string) (string, error) {
	body, _ := json.Marshal(Organization{Source: string(src), ETag: etag})
	var o Organization
	_, err := c.doCtx(ctx, c.http, http.MethodPut, PathV1Org, nil, body, &o)
	return o.ETag, err
}

// Shell runs a script in a shell session on the server (session "" starts one; the answer
// names it).
func (c *Client) Shell(ctx context.Context, script, session string) (ShellResult, error) {
	body, _ := json.Marshal(ShellRequest{Script: script, Session: session})
	var out ShellResult
	_, err := c.doCtx(ctx, c.http, http.MethodPost, PathV1Shell, nil, body, &out)
	return out, err
}

// EventLog is the server's recent Exchange events, oldest first.
func (c *Client) EventLog(ctx context.Context) ([]map[string]any, error) {
	var l EventLog
	_, err := c.doCtx(ctx, c.http, http.MethodGet, PathV1EventLog, nil, nil, &l)
	return l.Events, err
}

// Certificates lists the server's certificates.
func (c *Client) Certificates(ctx context.Context) ([]CertificateInfo, error) {
	var l Certificates
	_, err := c.doCtx(ctx, c.http, http.MethodGet, PathV1Certs, nil, nil, &l)
	return l.Certificates, err
}

// NewCertificate has the server make a self-signed certificate and add it to the organization.
func (c *Client) NewCertificate(ctx context.Context, req NewCertificateRequest) (CertificateInfo, error) {
	body, _ := json.Marshal(req)
	var ci CertificateInfo
	_, err := c.doCtx(ctx, c.http, http.MethodPost, PathV1Certs, nil, body, &ci)
	return ci, err
}

// DeleteMessage deletes one message from mailbox, or ("") from every mailbox that holds it;
// it says how many mailbox items went.
func (c *Client) DeleteMessage(ctx context.Context, id uint64, mailbox string) (int, error) {
	var r DeleteResult
	_, err := c.doCtx(ctx, c.http, http.MethodDelete, idPath(id), mailboxQuery(mailbox), nil, &r)
	return r.Deleted, err
}

// DeleteMessages empties mailbox, or ("") every mailbox.
func (c *Client) DeleteMessages(ctx context.Context, mailbox string) (int, error) {
	var r DeleteResult
	_, err := c.doCtx(ctx, c.http, http.MethodDelete, PathV1Messages, mailboxQuery(mailbox), nil, &r)
	return r.Deleted, err
}

// ListMailboxes is the mailboxes that hold messages, with their counts.
func (c *Client) ListMailboxes(ctx context.Context) ([]MailboxInfo, error) {
	var out []MailboxInfo
	_, err := c.doCtx(ctx, c.http, http.MethodGet, PathV1Mailboxes, nil, nil, &out)
	return out, err
}

// Deliveries follows GET /api/v1/events: every message stored from now on, until ctx ends
// (then the channel is closed). A stream that fell behind on the server loses messages; list
// with Since to catch up.
func (c *Client) Deliveries(ctx context.Context) (<-chan MessageSummary, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathV1Events, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var eb ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			eb.Error = Error{Code: CodeInternal, Message: strings.TrimSpace(string(b))}
		}
		eb.Error.Status = resp.Status
		return nil, &eb.Error
	}
	out := make(chan MessageSummary, 64)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
				continue
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok && event == "delivery" {
				var m MessageSummary
				if json.Unmarshal([]byte(v), &m) == nil {
					select {
					case out <- m:
					case <-ctx.Done():
						return
					}
				}
			}
			if line == "" {
				event = ""
			}
		}
	}()
	return out, nil
}
