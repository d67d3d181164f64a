package smtpreceive

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/exlab/exlab/config"
)

// Metrics records what the receive engine (and the services built on it) measure, through an
// OpenTelemetry meter. Names and attributes are exlab's own (there are no SMTP semantic
// conventions); the README lists them:
//
//	exlab.smtp.sessions          counter    connector, role
//	exlab.smtp.commands          counter    connector, role, command
//	exlab.smtp.replies           counter    connector, role, code, enhanced_code
//	exlab.smtp.messages.accepted counter    connector, role
//	exlab.smtp.bytes.accepted    counter    connector, role                 (By)
//	exlab.smtp.phase.duration    histogram  connector, role, phase          (s)
//	exlab.proxy.attempts         counter    connector
//	exlab.proxy.failures         counter    connector, prx
//
// phase is banner (connect to banner), ehlo, starttls, auth, mail, rcpt, data (the DATA or BDAT
// command to the final reply: the end-to-end accept), proxy (the frontend's hop to the hub) and
// queue_commit (the hub's synced write). Attribute sets are built once and cached.
type Metrics struct {
	sessions, commands, replies, messages, bytes, proxyAttempts, proxyFailures metric.Int64Counter
	phase                                                                      metric.Float64Histogram

	mu   sync.Mutex
	sets map[setKey]metric.MeasurementOption
}

// setKey names a cached attribute set without building a string per measurement.
type setKey struct {
	kind byte
	rc   *config.ReceiveConnector
	a    string
	n    int
}

// NewMetrics makes the instruments on meter m.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	x := &Metrics{sets: map[setKey]metric.MeasurementOption{}}
	var err error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		if err == nil {
			err = e
		}
		return c
	}
	x.sessions = counter("exlab.smtp.sessions", "SMTP sessions accepted by a receive connector", "{session}")
	x.commands = counter("exlab.smtp.commands", "SMTP commands received", "{command}")
	x.replies = counter("exlab.smtp.replies", "SMTP replies sent", "{reply}")
	x.messages = counter("exlab.smtp.messages.accepted", "messages answered with 250 after DATA or BDAT", "{message}")
	x.bytes = counter("exlab.smtp.bytes.accepted", "bytes of the accepted messages", "By")
	x.proxyAttempts = counter("exlab.proxy.attempts", "messages the frontend proxied to a hub", "{message}")
	x.proxyFailures = counter("exlab.proxy.failures", "proxy hops that failed, by PRX code", "{message}")
	h, e := m.Float64Histogram("exlab.smtp.phase.duration", metric.WithDescription("time of one SMTP phase"), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	x.phase = h
	if err == nil {
		err = e
	}
	return x, err
}

// set returns the cached attribute set for key, building it with kv the first time.
func (x *Metrics) set(key setKey, kv func() []attribute.KeyValue) metric.MeasurementOption {
	x.mu.Lock()
	defer x.mu.Unlock()
	o, ok := x.sets[key]
	if !ok {
		o = metric.WithAttributeSet(attribute.NewSet(kv()...))
		x.sets[key] = o
	}
	return o
}

func connAttrs(rc *config.ReceiveConnector) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("connector", rc.Identity()), attribute.String("role", string(rc.TransportRole))}
}

// Phase records the duration of one phase of a session on rc.
func (x *Metrics) Phase(rc *config.ReceiveConnector, phase string, d time.Duration) {
	if x == nil {
		return
	}
	x.phase.Record(context.Background(), d.Seconds(), x.set(setKey{'p', rc, phase, 0}, func() []attribute.KeyValue {
		return append(connAttrs(rc), attribute.String("phase", phase))
	}))
}

// Proxy records one proxy hop of the frontend; prx is "" when it succeeded, else PRX<n>.
func (x *Metrics) Proxy(rc *config.ReceiveConnector, prx string) {
	if x == nil {
		return
	}
	ctx := context.Background()
	x.proxyAttempts.Add(ctx, 1, x.set(setKey{'a', rc, "", 0}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("connector", rc.Identity())}
	}))
	if prx != "" {
		x.proxyFailures.Add(ctx, 1, x.set(setKey{'f', rc, prx, 0}, func() []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("connector", rc.Identity()), attribute.String("prx", prx)}
		}))
	}
}

func (x *Metrics) connSet(rc *config.ReceiveConnector) metric.MeasurementOption {
	return x.set(setKey{'s', rc, "", 0}, func() []attribute.KeyValue { return connAttrs(rc) })
}

func (x *Metrics) session(rc *config.ReceiveConnector) {
	x.sessions.Add(context.Background(), 1, x.connSet(rc))
}

func (x *Metrics) command(rc *config.ReceiveConnector, verb string) {
	x.commands.Add(context.Background(), 1, x.set(setKey{'c', rc, verb, 0}, func() []attribute.KeyValue {
		return append(connAttrs(rc), attribute.String("command", verb))
	}))
}

func (x *Metrics) reply(rc *config.ReceiveConnector, text string) {
	code := 0
	if len(text) >= 3 {
		code, _ = strconv.Atoi(text[:3])
	}
	enh := ""
	if len(text) > 8 && text[5] == '.' && text[4] >= '2' && text[4] <= '5' {
		enh = text[4:]
		if i := strings.IndexAny(enh, " \r"); i >= 0 {
			enh = enh[:i]
		}
	}
	x.replies.Add(context.Background(), 1, x.set(setKey{'r', rc, enh, code}, func() []attribute.KeyValue {
		return append(connAttrs(rc), attribute.Int("code", code), attribute.String("enhanced_code", enh))
	}))
}

func (x *Metrics) accepted(rc *config.ReceiveConnector, size int64) {
	o := x.connSet(rc)
	x.messages.Add(context.Background(), 1, o)
	x.bytes.Add(context.Background(), size, o)
}

// metricVerbs are the commands counted by name; anything else counts as "other".
var metricVerbs = map[string]string{"EHLO": "ehlo", "HELO": "ehlo", "MAIL": "mail", "RCPT": "rcpt", "DATA": "data", "BDAT": "data",
	"STARTTLS": "starttls", "X-ANONYMOUSTLS": "starttls", "AUTH": "auth", "X-EXPS": "auth", "RSET": "rset", "NOOP": "noop",
	"QUIT": "quit", "VRFY": "vrfy", "XPROXYFROM": "xproxyfrom", "XPROXYTO": "xproxyto"}
