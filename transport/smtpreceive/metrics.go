// metrics.go holds the engine's OpenTelemetry metrics: sessions, commands, replies, phases,
// accepted messages and injected faults.

package smtpreceive

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

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
//	exlab.faults.injected        counter    connector, step, action, fault
//
// phase is banner (connect to banner), ehlo, starttls, auth, mail, rcpt, transfer (from the
// start of the data to its last byte), data (the DATA or BDAT command to the final reply: the
// end-to-end accept), proxy (the frontend's hop to the hub) and queue_commit (the hub's synced
// write). Attribute sets are built once and cached.
type Metrics struct {
	// The phase histogram is kept here too, in atomic buckets, and handed to the exporter as
	// an external producer (Produce): a phase costs a map load and three atomic adds, not the
	// SDK's attribute resolution, which cost more than the rest of the metrics together.
	phases sync.Map // setKey → *phaseCell
	start  time.Time

	// Counters are kept in atomic cells, one per attribute set, and reported when the metrics
	// are collected (observable counters): a command or a reply costs a map load and an
	// atomic add, not a pass through the SDK.
	cells sync.Map // setKey → *cell
}

// setKey names an attribute set without building a string per measurement.
type setKey struct {
	kind byte // instrument: s sessions, c commands, r replies, m messages, b bytes, a/f proxy, p phase, i faults
	rc   *config.ReceiveConnector
	a    string
	n    int
}

type cell struct {
	v     atomic.Int64
	attrs attribute.Set
}

// phaseBounds are the histogram's bucket bounds, in seconds.
var phaseBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// phaseLimits are phaseBounds as durations, for the bucket search.
var phaseLimits = func() []time.Duration {
	d := make([]time.Duration, len(phaseBounds))
	for i, b := range phaseBounds {
		d[i] = time.Duration(b * float64(time.Second))
	}
	return d
}()

// phaseCell is one attribute set's histogram: a value v counts in the first bucket whose bound
// is ≥ v (OpenTelemetry's and Prometheus' le), the last one taking what is beyond them all.
type phaseCell struct {
	attrs  attribute.Set
	counts [18]atomic.Uint64 // len(phaseBounds)+1
	sum    atomic.Int64      // nanoseconds
}

// NewMetrics makes the metrics; Register puts its counters on a meter, and the exporter takes
// it as a producer for the phase histogram (otelprom.WithProducer).
func NewMetrics() *Metrics { return &Metrics{start: time.Now()} }

// Produce reports the phase histogram (the sdk/metric Producer interface).
func (x *Metrics) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	h := metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
	x.phases.Range(func(_, v any) bool {
		c := v.(*phaseCell)
		dp := metricdata.HistogramDataPoint[float64]{Attributes: c.attrs, StartTime: x.start, Time: now,
			Bounds: phaseBounds, BucketCounts: make([]uint64, len(c.counts))}
		for i := range c.counts {
			dp.BucketCounts[i] = c.counts[i].Load()
			dp.Count += dp.BucketCounts[i]
		}
		dp.Sum = time.Duration(c.sum.Load()).Seconds()
		h.DataPoints = append(h.DataPoints, dp)
		return true
	})
	if len(h.DataPoints) == 0 {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: Scope},
		Metrics: []metricdata.Metrics{{Name: "exlab.smtp.phase.duration", Description: "time of one SMTP phase", Unit: "s", Data: h}}}}, nil
}

// Scope is the instrumentation scope of exlab's metrics (the meter's name).
const Scope = "github.com/exlab/exlab"

// Register makes the counters on meter m.
func (x *Metrics) Register(m metric.Meter) error {
	for _, c := range []struct {
		kind             byte
		name, desc, unit string
	}{
		{'s', "exlab.smtp.sessions", "SMTP sessions accepted by a receive connector", "{session}"},
		{'c', "exlab.smtp.commands", "SMTP commands received", "{command}"},
		{'r', "exlab.smtp.replies", "SMTP replies sent", "{reply}"},
		{'m', "exlab.smtp.messages.accepted", "messages answered with 250 after DATA or BDAT", "{message}"},
		{'b', "exlab.smtp.bytes.accepted", "bytes of the accepted messages", "By"},
		{'a', "exlab.proxy.attempts", "messages the frontend proxied to a hub", "{message}"},
		{'f', "exlab.proxy.failures", "proxy hops that failed, by PRX code", "{message}"},
		{'i', "exlab.faults.injected", "faults injected by the fault-injection rules", "{fault}"},
	} {
		kind := c.kind
		_, err := m.Int64ObservableCounter(c.name, metric.WithDescription(c.desc), metric.WithUnit(c.unit),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				x.cells.Range(func(k, v any) bool {
					if k.(setKey).kind == kind {
						cl := v.(*cell)
						o.Observe(cl.v.Load(), metric.WithAttributeSet(cl.attrs))
					}
					return true
				})
				return nil
			}))
		if err != nil {
			return err
		}
	}
	return nil
}

// add adds n to the counter cell of key, made with kv the first time.
func (x *Metrics) add(key setKey, n int64, kv func() []attribute.KeyValue) {
	v, ok := x.cells.Load(key)
	if !ok {
		v, _ = x.cells.LoadOrStore(key, &cell{attrs: attribute.NewSet(kv()...)})
	}
	v.(*cell).v.Add(n)
}

func connAttrs(rc *config.ReceiveConnector) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("connector", rc.Identity()), attribute.String("role", string(rc.TransportRole))}
}

// Phase records the duration of one phase of a session on rc.
func (x *Metrics) Phase(rc *config.ReceiveConnector, phase string, d time.Duration) {
	if x == nil {
		return
	}
	key := setKey{'p', rc, phase, 0}
	v, ok := x.phases.Load(key)
	if !ok {
		v, _ = x.phases.LoadOrStore(key, &phaseCell{attrs: attribute.NewSet(append(connAttrs(rc), attribute.String("phase", phase))...)})
	}
	c := v.(*phaseCell)
	i, _ := slices.BinarySearch(phaseLimits, d)
	c.counts[i].Add(1)
	c.sum.Add(int64(d))
}

// Proxy records one proxy hop of the frontend; prx is "" when it succeeded, else PRX<n>.
func (x *Metrics) Proxy(rc *config.ReceiveConnector, prx string) {
	if x == nil {
		return
	}
	x.add(setKey{'a', rc, "", 0}, 1, func() []attribute.KeyValue { return []attribute.KeyValue{attribute.String("connector", rc.Identity())} })
	if prx != "" {
		x.add(setKey{'f', rc, prx, 0}, 1, func() []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("connector", rc.Identity()), attribute.String("prx", prx)}
		})
	}
}

// fault counts one injected fault.
func (x *Metrics) fault(rc *config.ReceiveConnector, f *config.Fault) {
	if x == nil {
		return
	}
	x.add(setKey{'i', rc, string(f.Step) + "/" + string(f.Action) + "/" + f.Name, 0}, 1, func() []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("connector", rc.Identity()), attribute.String("step", string(f.Step)),
			attribute.String("action", string(f.Action)), attribute.String("fault", f.Name)}
	})
}

func (x *Metrics) session(rc *config.ReceiveConnector) {
	x.add(setKey{'s', rc, "", 0}, 1, func() []attribute.KeyValue { return connAttrs(rc) })
}

func (x *Metrics) command(rc *config.ReceiveConnector, verb string) {
	x.add(setKey{'c', rc, verb, 0}, 1, func() []attribute.KeyValue { return append(connAttrs(rc), attribute.String("command", verb)) })
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
	x.add(setKey{'r', rc, enh, code}, 1, func() []attribute.KeyValue {
		return append(connAttrs(rc), attribute.Int("code", code), attribute.String("enhanced_code", enh))
	})
}

func (x *Metrics) accepted(rc *config.ReceiveConnector, size int64) {
	x.add(setKey{'m', rc, "", 0}, 1, func() []attribute.KeyValue { return connAttrs(rc) })
	x.add(setKey{'b', rc, "", 0}, size, func() []attribute.KeyValue { return connAttrs(rc) })
}

// metricVerbs are the commands counted by name; anything else counts as "other".
var metricVerbs = map[string]string{"EHLO": "ehlo", "HELO": "ehlo", "MAIL": "mail", "RCPT": "rcpt", "DATA": "data", "BDAT": "data",
	"STARTTLS": "starttls", "X-ANONYMOUSTLS": "starttls", "AUTH": "auth", "X-EXPS": "auth", "RSET": "rset", "NOOP": "noop",
	"QUIT": "quit", "VRFY": "vrfy", "XPROXYFROM": "xproxyfrom", "XPROXYTO": "xproxyto"}

// MetricsSnapshot is the counters at one moment, for the web console's load figures (two
// snapshots a second apart make its rates): cheap enough to take every second.
type MetricsSnapshot struct {
	Accepted map[*config.ReceiveConnector]int64         // messages answered 250 after DATA or BDAT
	Replies  map[*config.ReceiveConnector]map[int]int64 // replies by code
	Phases   map[PhaseKey][]uint64                      // bucket counts (PhaseBounds, then the overflow), over the role's connectors
}

// PhaseKey names one phase of one role.
type PhaseKey struct{ Role, Phase string }

// PhaseBounds are the phase histogram's bucket bounds, in seconds (a bucket counts what is at
// most its bound and more than the one before; one more bucket takes what is beyond them all).
func PhaseBounds() []float64 { return slices.Clone(phaseBounds) }

// Snapshot reads every counter cell and phase histogram.
func (x *Metrics) Snapshot() MetricsSnapshot {
	s := MetricsSnapshot{Accepted: map[*config.ReceiveConnector]int64{}, Replies: map[*config.ReceiveConnector]map[int]int64{},
		Phases: map[PhaseKey][]uint64{}}
	if x == nil {
		return s
	}
	x.cells.Range(func(k, v any) bool {
		key := k.(setKey)
		switch key.kind {
		case 'm':
			s.Accepted[key.rc] += v.(*cell).v.Load()
		case 'r':
			m := s.Replies[key.rc]
			if m == nil {
				m = map[int]int64{}
				s.Replies[key.rc] = m
			}
			m[key.n] += v.(*cell).v.Load()
		}
		return true
	})
	x.phases.Range(func(k, v any) bool {
		key := k.(setKey)
		pk := PhaseKey{Role: string(key.rc.TransportRole), Phase: key.a}
		b := s.Phases[pk]
		if b == nil {
			b = make([]uint64, len(phaseBounds)+1)
			s.Phases[pk] = b
		}
		c := v.(*phaseCell)
		for i := range c.counts {
			b[i] += c.counts[i].Load()
		}
		return true
	})
	return s
}
