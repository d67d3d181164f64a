package adminapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Hub is what the API asks of the Transport service (transport.Hub): Get-Queue, Get-Message,
// Retry-Queue and Suspend-/Resume-/Remove-Message.
type Hub interface {
	Queues() []transport.QueueInfo
	Messages(queue string) ([]transport.MessageInfo, error)
	RetryQueue(identity string, mode transport.RetryMode) (int, error)
	MessageAction(action, identity string, ndr transport.NDRChoice) error
}

// Mailboxes reads the delivered messages (queue.Store).
type Mailboxes interface {
	MailboxItems(mailbox string) ([]queue.MailboxItem, error)
	MailboxContent(mailbox string, id uint64) (queue.MailboxItem, []byte, error)
}

// Options are what a Handler serves.
type Options struct {
	Token     string                      // required on every path but health and metrics
	Mailboxes Mailboxes                   // GET /mailbox, /mailbox/content
	Hub       Hub                         // /queues, /messages
	Apply     func(path string) error     // POST /config/apply: read an organization file again
	Metrics   http.Handler                // GET /metrics (nil: 404)
	Unbound   func() []string             // GET /readyz: the bindings that do not listen
	Faults    *smtpreceive.Faults         // /faults, /maintenance
	Org       func() *config.Organization // the running organization, to check fault rules against
	Logger    *slog.Logger
	// Store serves /api/v1's messages (nil: /api/v1 answers only its OpenAPI document), and
	// TrackingDir is where the message tracking log is, for a message's tracking events.
	Store       MessageStore
	TrackingDir func() string
	// ExchangeEvents subscribes to the Exchange events the server logs (1020, 15004, …, as
	// JSON objects) for /api/v1/events; nil for none.
	ExchangeEvents func(buffer int) (<-chan []byte, func())
	// TrackingEvents subscribes to the message tracking events as the hub writes them, for
	// /api/v1/events; nil for none.
	TrackingEvents func(buffer int) (<-chan transport.TrackingEntry, func())
	// ProtocolLogDirs are the directories of the server's protocol logs (receive and send, every
	// service), for a message's protocol-log sessions; nil for none.
	ProtocolLogDirs func() []ProtocolLogDir
	// Organization reads the organization file the server runs on (file "" for the embedded
	// default); SetOrganization validates src, writes it atomically (a .bak beside it) and
	// applies it as exlab config apply does. They serve /api/v1/organization, through which
	// exlab shell's Set-/New-/Remove- cmdlets change the organization as Exchange's change
	// Active Directory. Nil: not served.
	Organization    func() (file string, src []byte, err error)
	ServerName      string // the server this exlab runs as, and its --port-offset
	PortOffset      int
	SetOrganization func(src []byte) (file string, err error)
	// Shell runs a script in the Exchange Management Shell session named by req.Session (a
	// new one when empty or expired), for POST /api/v1/shell (the web console runs cmdlets as
	// the EAC does); nil: not served.
	Shell func(ctx context.Context, req ShellRequest) (ShellResult, error)
	// EventLog is the recent Exchange events (JSON objects, oldest first), for GET
	// /api/v1/eventlog (Get-WinEvent -LogName Application); nil: not served.
	EventLog func() [][]byte
	// Certificates lists the certificates the server's SMTP services use, for GET
	// /api/v1/certificates (Get-ExchangeCertificate); nil: not served.
	Certificates func() []CertificateInfo
	// NewCertificate makes a self-signed certificate and adds it to the organization (POST
	// /api/v1/certificates, New-ExchangeCertificate); nil: not served.
	NewCertificate func(req NewCertificateRequest) (CertificateInfo, error)
	// Health lists the bindings of the server's services for GET /api/v1/health; nil: not
	// served.
	Health func() []HealthBinding
	// Stats is the load figures' source of the event stream's stats events (GET
	// /api/v1/events?stats=1); nil: none are sent.
	Stats *StatsSource
	// Console serves the web console at / (cmd/console); nil: not served.
	Console http.Handler
}

// Handler serves the admin API.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{o: o}
	mux := http.NewServeMux()
	auth := h.auth
	mux.HandleFunc("GET "+PathMailbox, auth(h.mailbox))
	mux.HandleFunc("GET "+PathMailboxContent, auth(h.mailboxContent))
	mux.HandleFunc("GET "+PathQueues, auth(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, o.Hub.Queues()) }))
	mux.HandleFunc("GET "+PathMessages, auth(h.messages))
	mux.HandleFunc("POST "+PathQueuesRetry, auth(h.retry))
	mux.HandleFunc("POST "+PathQueuesSuspend, auth(h.suspendQueue(true)))
	mux.HandleFunc("POST "+PathQueuesResume, auth(h.suspendQueue(false)))
	mux.HandleFunc("POST "+PathMessages+"/{action}", auth(h.messageAction))
	// Health and metrics need no token (read-only; the listener is on loopback by default), so
	// container health checks and Prometheus scrape them as they are.
	if o.Metrics != nil {
		mux.Handle("GET "+PathMetrics, o.Metrics)
	}
	mux.HandleFunc("GET "+PathLivez, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET "+PathReadyz, h.readyz)
	mux.HandleFunc("POST "+PathConfigApply, auth(h.apply))
	mux.HandleFunc("GET "+PathFaults, auth(h.listFaults))
	mux.HandleFunc("POST "+PathFaults, auth(h.setFaults))
	mux.HandleFunc("DELETE "+PathFaults, auth(h.clearFaults))
	mux.HandleFunc("GET "+PathMaintenance, auth(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, h.componentState()) }))
	mux.HandleFunc("PUT "+PathMaintenance, auth(h.setMaintenance))
	// Profiles of the running server (go tool pprof http://ADDR/debug/pprof/profile?token=…).
	h.routeV1(mux)
	mux.HandleFunc("/debug/pprof/", auth(pprof.Index))
	mux.HandleFunc("/debug/pprof/cmdline", auth(pprof.Cmdline))
	mux.HandleFunc("/debug/pprof/profile", auth(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", auth(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", auth(pprof.Trace))
	mux.HandleFunc("POST "+PathV1Login, h.login)
	mux.HandleFunc("POST "+PathV1Logout, h.logout)
	if o.Console != nil {
		mux.Handle("/", o.Console) // every method: a pattern "GET /" would conflict with "/api/v1/"
	}
	return mux
}

// login is the web console's sign-in: the admin token in, an HttpOnly cookie that carries it
// out (the console's pages and its event stream use it, as EventSource cannot send a header).
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	var in LoginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the body is not a LoginRequest: "+err.Error())
		return
	}
	if h.o.Token == "" || subtle.ConstantTimeCompare([]byte(in.Token), []byte(h.o.Token)) != 1 {
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "that is not the admin token")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ConsoleCookie, Value: h.o.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: ConsoleCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

type handler struct {
	o     Options
	orgMu sync.Mutex // PUT /api/v1/organization
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false) // Message-IDs and addresses keep their <> (curl users read them)
	_ = e.Encode(v)
}

// writeError sends the API's one error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: Error{Code: code, Message: msg}})
}

// queueError turns an error of the hub or the queue database into a refusal: 404 for what does
// not exist, 500 otherwise.
func queueError(w http.ResponseWriter, err error) {
	if errors.Is(err, transport.ErrNoSuchMessage) || errors.Is(err, transport.ErrNoSuchQueue) || errors.Is(err, queue.ErrNotFound) {
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
}

func (h *handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got == "" {
			got = r.URL.Query().Get("token") // for tools that take only a URL (go tool pprof)
		}
		if c, err := r.Cookie(ConsoleCookie); got == "" && err == nil {
			// The web console's sign-in (POST /api/v1/login). The cookie is SameSite=Strict, and a
			// change made with it must carry the console's header, which a form on another site
			// cannot send: no cross-site request acts with the admin's cookie.
			if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(ConsoleHeader) == "" {
				writeError(w, http.StatusForbidden, CodeForbidden, "a change made with the console's cookie needs the "+ConsoleHeader+" header")
				return
			}
			got = c.Value
		}
		if h.o.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(h.o.Token)) != 1 {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "the admin token (in the data directory) is required")
			return
		}
		next(w, r)
	}
}

func (h *handler) mailbox(w http.ResponseWriter, r *http.Request) {
	items, err := h.o.Mailboxes.MailboxItems("")
	if err != nil {
		queueError(w, err)
		return
	}
	for i := range items {
		// The stored subject is the header's value; the API shows it as Outlook does.
		items[i].Subject = smtpwire.DecodeSubject(items[i].Subject)
	}
	writeJSON(w, items)
}

func (h *handler) mailboxContent(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "id: "+err.Error())
		return
	}
	_, content, err := h.o.Mailboxes.MailboxContent(r.URL.Query().Get("mailbox"), id)
	if err != nil {
		queueError(w, err)
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	_, _ = w.Write(content)
}

func (h *handler) messages(w http.ResponseWriter, r *http.Request) {
	ms, err := h.o.Hub.Messages(r.URL.Query().Get("queue"))
	if err != nil {
		queueError(w, err)
		return
	}
	writeJSON(w, ms)
}

func (h *handler) retry(w http.ResponseWriter, r *http.Request) {
	n, err := h.o.Hub.RetryQueue(r.URL.Query().Get("identity"), RetryModeOf(r.URL.Query().Get("resubmit") == "true"))
	if err != nil {
		queueError(w, err)
		return
	}
	writeJSON(w, RetryResult{Messages: n})
}

// QueueSuspender is a Hub that suspends and resumes queues (*transport.Hub).
type QueueSuspender interface {
	SuspendQueue(identity string) error
	ResumeQueue(identity string) error
}

func (h *handler) suspendQueue(suspend bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		qs, ok := h.o.Hub.(QueueSuspender)
		if !ok {
			writeError(w, http.StatusNotFound, CodeNotFound, "this hub does not suspend queues")
			return
		}
		id := r.URL.Query().Get("identity")
		do := qs.ResumeQueue
		if suspend {
			do = qs.SuspendQueue
		}
		if err := do(id); err != nil {
			if errors.Is(err, transport.ErrQueueNotSuspendable) {
				writeError(w, http.StatusUnprocessableEntity, CodeInvalid, err.Error())
				return
			}
			queueError(w, err)
			return
		}
		writeJSON(w, ActionResult{Identity: id})
	}
}

func (h *handler) messageAction(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("identity")
	if err := h.o.Hub.MessageAction(r.PathValue("action"), id, NDRChoiceOf(r.URL.Query().Get("withndr") == "true")); err != nil {
		queueError(w, err)
		return
	}
	writeJSON(w, ActionResult{Identity: id})
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	if down := h.o.Unbound(); len(down) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %d binding(s) do not listen (Event 1020):\n%s\n", len(down), strings.Join(down, "\n"))
		return
	}
	fmt.Fprintln(w, "ok: every enabled connector listens")
}

// apply is exlab config apply: read an organization file again, as SIGHUP does.
func (h *handler) apply(w http.ResponseWriter, r *http.Request) {
	if err := h.o.Apply(r.URL.Query().Get("path")); err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeInvalid, err.Error())
		return
	}
	fmt.Fprintln(w, "applied")
}

func (h *handler) listFaults(w http.ResponseWriter, r *http.Request) {
	out := []Fault{}
	for _, f := range h.o.Faults.List() {
		out = append(out, FaultView(f))
	}
	writeJSON(w, out)
}

func (h *handler) setFaults(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	fs, err := config.ParseFaults("(request)", b, h.o.Org())
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeInvalid, err.Error())
		return
	}
	h.o.Faults.Set(fs...)
	for _, f := range fs {
		h.o.Logger.Info("fault rule set", "fault", f.Name, "connector", f.Connector, "step", string(f.Step), "action", string(f.Action))
	}
	writeJSON(w, FaultsSet{Set: len(fs)})
}

func (h *handler) clearFaults(w http.ResponseWriter, r *http.Request) {
	n := h.o.Faults.Clear(r.URL.Query().Get("name"))
	h.o.Logger.Info("fault rules cleared", "name", r.URL.Query().Get("name"), "count", n)
	writeJSON(w, FaultsCleared{Cleared: n})
}

func (h *handler) componentState() ComponentState {
	st := config.ComponentActive
	if h.o.Faults.Maintenance() {
		st = config.ComponentInactive
	}
	return ComponentState{Component: "HubTransport", State: string(st)}
}

func (h *handler) setMaintenance(w http.ResponseWriter, r *http.Request) {
	switch st := r.URL.Query().Get("state"); {
	case strings.EqualFold(st, string(config.ComponentInactive)):
		h.o.Faults.SetMaintenance(true)
	case strings.EqualFold(st, string(config.ComponentActive)):
		h.o.Faults.SetMaintenance(false)
	default:
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("state %q is not Active or Inactive", st))
		return
	}
	h.o.Logger.Warn("HubTransport component state changed", "State", h.componentState().State, "Requester", "Maintenance")
	writeJSON(w, h.componentState())
}

// FaultView is a rule with every value printed as the configuration writes it.
func FaultView(f smtpreceive.FaultInfo) Fault {
	v := Fault{Name: f.Name, Connector: f.Connector, Step: string(f.Step), Action: string(f.Action),
		Probability: f.Probability.String(), Count: strconv.Itoa(f.Count), Fired: strconv.FormatInt(f.Fired, 10),
		Remaining: strconv.FormatInt(f.Remaining, 10)}
	if f.Connector == "" {
		v.Connector = "*"
	}
	switch f.Action {
	case config.FaultReply:
		v.Detail = f.Reply
		if f.ReplyId != "" {
			v.Detail = f.ReplyId
		}
	case config.FaultDelay:
		v.Detail = f.Delay.String()
	case config.FaultBandwidth:
		v.Detail = f.BytesPerSecond.String() + "/s"
	}
	var match []string
	if f.Sender != "" {
		match = append(match, "sender "+f.Sender)
	}
	if f.Recipient != "" {
		match = append(match, "recipient "+f.Recipient)
	}
	for _, r := range f.RemoteIPRanges {
		match = append(match, "client "+r.String())
	}
	v.Match = strings.Join(match, ", ")
	return v
}

// RetryModeOf and NDRChoiceOf turn the wire's (and the CLI's) resubmit and withndr switches
// into the hub's named values.
func RetryModeOf(resubmit bool) transport.RetryMode {
	if resubmit {
		return transport.Resubmit
	}
	return transport.RetryNow
}

func NDRChoiceOf(withNDR bool) transport.NDRChoice {
	if withNDR {
		return transport.WithNDR
	}
	return transport.WithoutNDR
}
