package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// eventHandler sends every record to the ordinary log and, when it carries an EventID (the
// events exlab reproduces: 1020, 1021, 1035, 12014, 2015, 10001, 15004, 15005, 1003), also to
// an event stream of JSON lines shaped like a Windows event: TimeCreated, EventID, Source
// (MSExchangeFrontEndTransport / MSExchangeTransport), Level (Error, Warning, Information),
// TaskCategory, Message, and the record's other attributes. A lab greps it for 1020 as an
// admin would filter the event viewer.
type eventHandler struct {
	next  slog.Handler
	out   io.Writer
	mu    *sync.Mutex
	attrs []slog.Attr
}

func newEventHandler(next slog.Handler, out io.Writer) slog.Handler {
	if out == nil {
		return next
	}
	return &eventHandler{next: next, out: out, mu: &sync.Mutex{}}
}

func (h *eventHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{next: h.next.WithAttrs(as), out: h.out, mu: h.mu, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	return &eventHandler{next: h.next.WithGroup(name), out: h.out, mu: h.mu, attrs: h.attrs}
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.next.Handle(ctx, r)
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
	h.mu.Lock()
	defer h.mu.Unlock()
	_, werr := h.out.Write(append(b, '\n'))
	if err == nil {
		err = werr
	}
	return err
}
