package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
)

// Files a running server keeps in its data directory so that the tools find its admin listener.
const (
	AddrFile  = "admin.addr"
	TokenFile = "admin.token"
)

// Client talks to a running server's admin listener.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient is a client of the listener at addr (host:port) with token.
func NewClient(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// Dial finds a running server through its data directory, or returns nil when none runs (no
// files, or stale files of a server that stopped uncleanly).
func Dial(dir string) *Client {
	addr, err1 := os.ReadFile(filepath.Join(dir, AddrFile))
	tok, err2 := os.ReadFile(filepath.Join(dir, TokenFile))
	if err1 != nil || err2 != nil {
		return nil
	}
	a := strings.TrimSpace(string(addr))
	conn, err := net.DialTimeout("tcp", a, 2*time.Second)
	if err != nil {
		return nil
	}
	conn.Close()
	return NewClient(a, strings.TrimSpace(string(tok)))
}

// do sends a request and decodes a JSON answer into out (when out is not nil); a refusal comes
// back as *Error.
func (c *Client) do(method, path string, q url.Values, body []byte, out any) ([]byte, error) {
	return c.doCtx(context.Background(), c.http, method, path, q, body, out)
}

func (c *Client) doCtx(ctx context.Context, hc *http.Client, method, path string, q url.Values, body []byte, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var eb ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			eb.Error = Error{Code: CodeInternal, Message: strings.TrimSpace(string(b))}
			if resp.StatusCode == http.StatusNotFound {
				eb.Error.Code = CodeNotFound
			}
		}
		eb.Error.Status = resp.Status
		return nil, &eb.Error
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("admin listener: %s %s: %v", method, path, err)
		}
	}
	return b, nil
}

// MailboxItems lists the delivered messages (every mailbox's: the listener filters none, and
// mailbox is there to match queue.Store, so both are a Mailboxes).
func (c *Client) MailboxItems(mailbox string) ([]queue.MailboxItem, error) {
	var items []queue.MailboxItem
	_, err := c.do(http.MethodGet, PathMailbox, nil, nil, &items)
	return items, err
}

// MailboxContent is one delivered message as stored (the item is not sent: only its content).
func (c *Client) MailboxContent(mailbox string, id uint64) (queue.MailboxItem, []byte, error) {
	b, err := c.do(http.MethodGet, PathMailboxContent, url.Values{"mailbox": {mailbox}, "id": {strconv.FormatUint(id, 10)}}, nil, nil)
	return queue.MailboxItem{}, b, err
}

// Queues is Get-Queue.
func (c *Client) Queues() ([]transport.QueueInfo, error) {
	var qs []transport.QueueInfo
	_, err := c.do(http.MethodGet, PathQueues, nil, nil, &qs)
	return qs, err
}

// Messages is Get-Message, of one queue or ("") of all.
func (c *Client) Messages(queueID string) ([]transport.MessageInfo, error) {
	var ms []transport.MessageInfo
	_, err := c.do(http.MethodGet, PathMessages, url.Values{"queue": {queueID}}, nil, &ms)
	return ms, err
}

// RetryQueue is Retry-Queue [-Resubmit]: how many messages are attempted now.
func (c *Client) RetryQueue(identity string, mode transport.RetryMode) (int, error) {
	var res RetryResult
	_, err := c.do(http.MethodPost, PathQueuesRetry, url.Values{"identity": {identity}, "resubmit": {strconv.FormatBool(mode == transport.Resubmit)}}, nil, &res)
	return res.Messages, err
}

// SuspendQueue is Suspend-Queue (suspend true) or Resume-Queue.
func (c *Client) SuspendQueue(identity string, suspend bool) error {
	path := PathQueuesResume
	if suspend {
		path = PathQueuesSuspend
	}
	_, err := c.do(http.MethodPost, path, url.Values{"identity": {identity}}, nil, &ActionResult{})
	return err
}

// MessageAction is Suspend-Message, Resume-Message or Remove-Message [-WithNDR] (action
// suspend, resume or remove).
func (c *Client) MessageAction(action, identity string, ndr transport.NDRChoice) error {
	_, err := c.do(http.MethodPost, PathMessages+"/"+url.PathEscape(action),
		url.Values{"identity": {identity}, "withndr": {strconv.FormatBool(ndr == transport.WithNDR)}}, nil, &ActionResult{})
	return err
}

// ApplyConfig has the server apply the organization file at path (an absolute path on the
// server's host).
func (c *Client) ApplyConfig(path string) error {
	_, err := c.do(http.MethodPost, PathConfigApply, url.Values{"path": {path}}, nil, nil)
	return err
}

// Faults lists the fault rules.
func (c *Client) Faults() ([]Fault, error) {
	var fs []Fault
	_, err := c.do(http.MethodGet, PathFaults, nil, nil, &fs)
	return fs, err
}

// SetFault adds one rule.
func (c *Client) SetFault(r FaultRule) (int, error) {
	b, err := r.Body()
	if err != nil {
		return 0, err
	}
	return c.SetFaults(b)
}

// SetFaults adds rules written as the configuration's Faults entries (YAML or JSON, one or a
// list); it says how many were set.
func (c *Client) SetFaults(rules []byte) (int, error) {
	var res FaultsSet
	_, err := c.do(http.MethodPost, PathFaults, nil, rules, &res)
	return res.Set, err
}

// ClearFaults removes the rule named name, or ("") every rule; it says how many went.
func (c *Client) ClearFaults(name string) (int, error) {
	var res FaultsCleared
	_, err := c.do(http.MethodDelete, PathFaults, url.Values{"name": {name}}, nil, &res)
	return res.Cleared, err
}

// Maintenance is Get-ServerComponentState HubTransport.
func (c *Client) Maintenance() (ComponentState, error) {
	var st ComponentState
	_, err := c.do(http.MethodGet, PathMaintenance, nil, nil, &st)
	return st, err
}

// SetMaintenance is Set-ServerComponentState HubTransport -State Inactive (on) or Active.
func (c *Client) SetMaintenance(on bool) (ComponentState, error) {
	state := string("Active")
	if on {
		state = "Inactive"
	}
	var st ComponentState
	_, err := c.do(http.MethodPut, PathMaintenance, url.Values{"state": {state}}, nil, &st)
	return st, err
}

// Ready is exlab readyz: Readyz at addr, or (addr "") at the address the server running on
// dataDir wrote there.
func Ready(dataDir, addr string) (string, bool, error) {
	if addr == "" {
		b, err := os.ReadFile(filepath.Join(dataDir, AddrFile))
		if err != nil {
			return "", false, fmt.Errorf("no running server found for %s: %v", dataDir, err)
		}
		addr = strings.TrimSpace(string(b))
	} else if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", false, fmt.Errorf("--admin: %v", err)
	}
	text, ok, err := Readyz(addr)
	if err != nil {
		return "", false, fmt.Errorf("not ready: %v", err)
	}
	return text, ok, nil
}

// Readyz asks /readyz at addr (no token needed): the answer's text, and whether every enabled
// connector listens.
func Readyz(addr string) (string, bool, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + PathReadyz)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode == http.StatusOK, nil
}
