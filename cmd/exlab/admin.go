package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// admin is the admin listener: a loopback HTTP endpoint the tools use while the server runs
// (the Pebble store is locked by the running server). Access needs the token kept in the
// data directory, readable by its owner only.
type admin struct {
	srv   *http.Server
	dir   string
	token string
}

func startAdmin(addr string, offset int, dir string, store *queue.Store, hub *transport.Hub, apply func(path string) error,
	metrics http.Handler, unbound func() []string, faults *smtpreceive.Faults, org func() *config.Organization, log *slog.Logger) (*admin, error) {
	if addr == "off" {
		return nil, nil
	}
	if addr == "" {
		var err error
		if addr, err = shiftPort(defaultAdmin, offset); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	a := &admin{dir: dir, token: hex.EncodeToString(tok)}
	if err := os.WriteFile(filepath.Join(dir, adminToken), []byte(a.token+"\n"), 0o600); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, adminAddr), []byte(l.Addr().String()+"\n"), 0o600); err != nil {
		l.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mailbox", a.auth(func(w http.ResponseWriter, r *http.Request) {
		items, err := store.MailboxItems("")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(items)
	}))
	mux.HandleFunc("GET /mailbox/content", a.auth(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.URL.Query().Get("id"), 10, 64)
		if err != nil {
			http.Error(w, "id: "+err.Error(), http.StatusBadRequest)
			return
		}
		_, content, err := store.MailboxContent(r.URL.Query().Get("mailbox"), id)
		if errors.Is(err, queue.ErrNotFound) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "message/rfc822")
		_, _ = w.Write(content)
	}))
	// The queues (exlab queue …, exlab message …): Get-Queue, Get-Message, Retry-Queue,
	// Suspend-/Resume-/Remove-Message.
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	queueError := func(w http.ResponseWriter, err error) {
		code := http.StatusInternalServerError
		if errors.Is(err, transport.ErrNoSuchMessage) || errors.Is(err, transport.ErrNoSuchQueue) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
	}
	mux.HandleFunc("GET /queues", a.auth(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, hub.Queues()) }))
	mux.HandleFunc("GET /messages", a.auth(func(w http.ResponseWriter, r *http.Request) {
		ms, err := hub.Messages(r.URL.Query().Get("queue"))
		if err != nil {
			queueError(w, err)
			return
		}
		writeJSON(w, ms)
	}))
	mux.HandleFunc("POST /queues/retry", a.auth(func(w http.ResponseWriter, r *http.Request) {
		mode := transport.RetryNow
		if r.URL.Query().Get("resubmit") == "true" {
			mode = transport.Resubmit
		}
		n, err := hub.RetryQueue(r.URL.Query().Get("identity"), mode)
		if err != nil {
			queueError(w, err)
			return
		}
		writeJSON(w, map[string]int{"Messages": n})
	}))
	mux.HandleFunc("POST /messages/{action}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		ndr := transport.WithoutNDR
		if r.URL.Query().Get("withndr") == "true" {
			ndr = transport.WithNDR
		}
		err := hub.MessageAction(r.PathValue("action"), r.URL.Query().Get("identity"), ndr)
		if err != nil {
			queueError(w, err)
			return
		}
		writeJSON(w, map[string]string{"Identity": r.URL.Query().Get("identity")})
	}))
	// Health and metrics need no token (read-only; the listener is on loopback by default), so
	// container health checks and Prometheus scrape them as they are.
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if down := unbound(); len(down) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %d binding(s) do not listen (Event 1020):\n%s\n", len(down), strings.Join(down, "\n"))
			return
		}
		fmt.Fprintln(w, "ok: every enabled connector listens")
	})
	// exlab config apply: read an organization file again, as SIGHUP does.
	mux.HandleFunc("POST /config/apply", a.auth(func(w http.ResponseWriter, r *http.Request) {
		if err := apply(r.URL.Query().Get("path")); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		fmt.Fprintln(w, "applied")
	}))
	// Fault injection (exlab fault …) and maintenance mode (exlab maintenance …).
	mux.HandleFunc("GET /faults", a.auth(func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]string{}
		for _, f := range faults.List() {
			out = append(out, faultView(f))
		}
		writeJSON(w, out)
	}))
	mux.HandleFunc("POST /faults", a.auth(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fs, err := config.ParseFaults("(request)", b, org())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		faults.Set(fs...)
		for _, f := range fs {
			log.Info("fault rule set", "fault", f.Name, "connector", f.Connector, "step", string(f.Step), "action", string(f.Action))
		}
		writeJSON(w, map[string]int{"Set": len(fs)})
	}))
	mux.HandleFunc("DELETE /faults", a.auth(func(w http.ResponseWriter, r *http.Request) {
		n := faults.Clear(r.URL.Query().Get("name"))
		log.Info("fault rules cleared", "name", r.URL.Query().Get("name"), "count", n)
		writeJSON(w, map[string]int{"Cleared": n})
	}))
	componentState := func() map[string]string {
		st := config.ComponentActive
		if faults.Maintenance() {
			st = config.ComponentInactive
		}
		return map[string]string{"Component": "HubTransport", "State": string(st)}
	}
	mux.HandleFunc("GET /maintenance", a.auth(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, componentState()) }))
	mux.HandleFunc("PUT /maintenance", a.auth(func(w http.ResponseWriter, r *http.Request) {
		switch st := r.URL.Query().Get("state"); {
		case strings.EqualFold(st, string(config.ComponentInactive)):
			faults.SetMaintenance(true)
		case strings.EqualFold(st, string(config.ComponentActive)):
			faults.SetMaintenance(false)
		default:
			http.Error(w, fmt.Sprintf("state %q is not Active or Inactive", st), http.StatusBadRequest)
			return
		}
		log.Warn("HubTransport component state changed", "State", componentState()["State"], "Requester", "Maintenance")
		writeJSON(w, componentState())
	}))
	// Profiles of the running server (go tool pprof http://ADDR/debug/pprof/profile?token=…).
	mux.HandleFunc("/debug/pprof/", a.auth(pprof.Index))
	mux.HandleFunc("/debug/pprof/cmdline", a.auth(pprof.Cmdline))
	mux.HandleFunc("/debug/pprof/profile", a.auth(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", a.auth(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", a.auth(pprof.Trace))
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := a.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener", "err", err)
		}
	}()
	log.Info("admin listener", "addr", l.Addr().String())
	return a, nil
}

func (a *admin) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got == "" {
			got = r.URL.Query().Get("token") // for tools that take only a URL (go tool pprof)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
			http.Error(w, "the admin token (in the data directory) is required", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func (a *admin) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	_ = os.Remove(filepath.Join(a.dir, adminAddr))
	_ = os.Remove(filepath.Join(a.dir, adminToken))
}

// adminClient talks to a running server's admin listener.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// dialAdmin finds a running server through the data directory, or returns nil when none runs.
func dialAdmin(dir string) *adminClient {
	addr, err1 := os.ReadFile(filepath.Join(dir, adminAddr))
	tok, err2 := os.ReadFile(filepath.Join(dir, adminToken))
	if err1 != nil || err2 != nil {
		return nil
	}
	c := &adminClient{base: "http://" + strings.TrimSpace(string(addr)), token: strings.TrimSpace(string(tok)),
		http: &http.Client{Timeout: 30 * time.Second}}
	conn, err := net.DialTimeout("tcp", strings.TrimSpace(string(addr)), 2*time.Second)
	if err != nil {
		return nil // a stale file from a server that stopped uncleanly
	}
	conn.Close()
	return c
}

func (c *adminClient) get(path string) ([]byte, error) { return c.do(http.MethodGet, path) }

func (c *adminClient) do(method, path string) ([]byte, error) { return c.send(method, path, nil) }

// send is do with a request body.
func (c *adminClient) send(method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, queue.ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin listener: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}
