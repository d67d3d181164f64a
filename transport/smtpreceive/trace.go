// trace.go holds the session and message spans and the traceparent across the proxy hop.

package smtpreceive

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Traces (exlab's span names and attributes; README "Traces"): with a Tracer the engine opens
// a span "smtp.session" per connection and "smtp.message" per transaction, from MAIL to the
// final reply after the data; policy sessions start their children from the context they get
// in Rcpt and Data (the frontend's "smtp.proxy" hop, the hub's "queue.categorize" and
// "queue.commit"). A hub session whose XPROXYFROM carried the frontend's W3C traceparent makes
// its message span a child of the frontend's proxy span, so one trace runs client → frontend →
// hub → queue. Without a Tracer nothing is recorded and nothing is allocated.

var traceContext = propagation.TraceContext{}

// TraceParent renders ctx's span as a W3C traceparent ("" when there is none).
func TraceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c["traceparent"]
}

// ContextWithTraceParent returns ctx with the remote span a traceparent names as its parent
// (a queued message's trace, continued by a later delivery attempt).
func ContextWithTraceParent(ctx context.Context, traceparent string) context.Context {
	return traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// SetTraceParent makes the session's next message span a child of the span a traceparent names
// (the frontend's proxy hop, carried in XPROXYFROM); Engine.
func (c *conn) SetTraceParent(traceparent string) {
	sc := trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent}))
	if sc.IsValid() {
		c.traceParent = sc
	}
}

// startMessage opens the transaction's span.
func (c *conn) startMessage(from string) {
	t := c.srv.Tracer
	if t == nil {
		return
	}
	c.endMessage(0)
	parent := c.ctx
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("smtp.connector", c.rc.Identity()), attribute.String("smtp.session_id", c.info.SessionID),
		attribute.String("smtp.mail_from", from), attribute.Int("smtp.transaction", c.transactions))}
	if c.traceParent.IsValid() {
		// One trace across the hop; the local session stays linked.
		opts = append(opts, trace.WithLinks(trace.LinkFromContext(c.ctx)))
		parent = trace.ContextWithRemoteSpanContext(c.ctx, c.traceParent)
		c.traceParent = trace.SpanContext{}
	}
	c.msgCtx, c.msgSpan = t.Start(parent, "smtp.message", opts...)
}

// endMessage closes the transaction's span with the final reply's code (0: reset or broken).
func (c *conn) endMessage(code int) {
	if c.msgSpan == nil {
		return
	}
	c.msgSpan.SetAttributes(attribute.Int("smtp.recipients", c.rcpts), attribute.Int("smtp.reply_code", code))
	switch {
	case code == 0:
		c.msgSpan.SetStatus(codes.Error, "transaction reset")
	case code >= 400:
		c.msgSpan.SetStatus(codes.Error, strconv.Itoa(code))
	}
	c.msgSpan.End()
	c.msgSpan, c.msgCtx = nil, nil
}

// txCtx is the context policy sessions get during a transaction.
func (c *conn) txCtx() context.Context {
	if c.msgCtx != nil {
		return c.msgCtx
	}
	return c.ctx
}
