package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/exlab/exlab/transport"
)

// eventHandler sends every record to the ordinary log and, when it carries an EventID (the
// events exlab reproduces: 1020, 1021, 1035, 12014, 2015, 10001, 15004, 15005, 1003), also to
// an event stream of JSON lines shaped like a Windows event: TimeCreated, EventID, Source
// (MSExchangeFrontEndTransport / MSExchangeTransport), Level (Error, Warning, Information),
// TaskCategory, Message, and the record's other attributes. A lab greps it for 1020 as an
// admin would filter the event viewer.
//
// The same events go to feed's subscribers (the admin API's event stream, /api/v1/events);
// with no --events file and nobody subscribed, a record costs one atomic load more.
type eventHandler struct {
	next  slog.Handler
	out   io.Writer // nil: no --events
	feed  *eventFeed
	mu    *sync.Mutex
	attrs []slog.Attr
}

func newEventHandler(next slog.Handler, out io.Writer, feed *eventFeed) slog.Handler {
	return &eventHandler{next: next, out: out, feed: feed, mu: &sync.Mutex{}}
}

// eventFeed fans the Exchange events (JSON objects) out to subscribers (transport.Feed) and
// keeps the recent ones for Get-WinEvent.
type eventFeed struct {
	transport.Feed[[]byte]
	mu     sync.Mutex
	recent [][]byte // the last recentEvents events
}

// recentEvents is how many Exchange events the server keeps for Get-WinEvent (GET
// /api/v1/eventlog), newest last: the Application log's tail, not its whole history.
const recentEvents = 1000

// remember keeps b among the recent events.
func (f *eventFeed) remember(b []byte) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.recent) >= recentEvents {
		f.recent = append(f.recent[:0], f.recent[len(f.recent)-recentEvents+1:]...)
	}
	f.recent = append(f.recent, b)
}

// Recent is adminapi.Options.EventLog: the recent events, oldest first.
func (f *eventFeed) Recent() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.recent...)
}

// hasEventID says whether the record (or the logger's attributes) carries an EventID: only
// those are Exchange events.
func hasEventID(attrs []slog.Attr, r slog.Record) bool {
	for _, a := range attrs {
		if a.Key == "EventID" {
			return true
		}
	}
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == "EventID"
		return !found
	})
	return found
}

func (h *eventHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{next: h.next.WithAttrs(as), out: h.out, feed: h.feed, mu: h.mu, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	return &eventHandler{next: h.next.WithGroup(name), out: h.out, feed: h.feed, mu: h.mu, attrs: h.attrs}
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.next.Handle(ctx, r)
	if !hasEventID(h.attrs, r) {
		return err
	}
	ev := map[string]any{}
	add := func(a slog.Attr) bool {
		ev[a.Key] = a.Value.Resolve().Any()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if _, ok := ev["EventID"]; !ok {
		return err
	}
	level := "Information"
	switch {
	case r.Level >= slog.LevelError:
		level = "Error"
	case r.Level >= slog.LevelWarn:
		level = "Warning"
	}
	ev["TimeCreated"] = r.Time.UTC().Format(time.RFC3339Nano)
	ev["Level"] = level
	ev["Message"] = r.Message
	b, jerr := json.Marshal(ev)
	if jerr != nil {
		return jerr
	}
	h.feed.remember(b)
	if h.feed != nil && h.feed.Active() {
		h.feed.Publish(b)
	}
	if h.out == nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, werr := h.out.Write(append(b, '\n'))
	if err == nil {
		err = werr
	}
	return err
}
