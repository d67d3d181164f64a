// stats.go holds the event stream's stats events: the load figures of the web console's
// dashboard, once a second, as rates over the second before.

package adminapi

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// StatsSource is where the stats events' figures come from: the receive engine's metrics, the
// hub's delivered count, its queue and back-pressure state, and the open sessions.
type StatsSource struct {
	Metrics   *smtpreceive.Metrics
	Delivered func() int64                              // recipients delivered since start
	Queue     func() (pressure string, messages int64)  // Normal/Medium/High/Off, messages held
	Sessions  func() map[*config.ReceiveConnector]int64 // open sessions per connector
}

// Stats is one stats event: per-second rates over Interval (seconds), and the totals since the
// server started.
type Stats struct {
	Time     time.Time
	Interval float64
	// Accepted is the messages the hub acknowledged (250 after DATA or BDAT on its receive
	// connectors: every message once, whether it came through a frontend or not), Delivered the
	// recipients the hub delivered, Refused the 4xx and 5xx replies of the frontend's and the
	// hub's receive connectors (a refusal the frontend relays from the hub counts on both).
	Accepted, Delivered, Refused float64
	Totals                       StatsTotals
	Replies                      map[string]float64 // per reply code
	Phases                       []PhaseStats
	Connectors                   []ConnectorStats
	Queue                        QueueStats
}

// StatsTotals are counts since the server started.
type StatsTotals struct{ Accepted, Delivered, Refused int64 }

// PhaseStats is one phase's latency over the interval (seconds; interpolated in the
// histogram's buckets, smtpreceive.PhaseBounds), Count the phases that ended in it.
type PhaseStats struct {
	Role, Phase string
	Count       uint64
	P50, P99    float64
}

// ConnectorStats is one receive connector's figures.
type ConnectorStats struct {
	Identity, Role    string
	Open              int64
	Accepted, Refused float64
}

// QueueStats is the hub's queues: the messages they hold and the back-pressure state.
type QueueStats struct {
	Messages int64
	Pressure string
}

// statsSample is the counters at one moment, by connector identity (a configuration applied
// in between replaces the connector objects, not their names).
type statsSample struct {
	at        time.Time
	role      map[string]string
	accepted  map[string]int64
	refused   map[string]int64
	open      map[string]int64
	replies   map[int]int64
	phases    map[smtpreceive.PhaseKey][]uint64
	delivered int64
}

// counted are the roles whose connectors the figures add up (not the Mailbox Delivery hop).
func counted(role config.TransportRole) bool {
	return role == config.FrontendTransport || role == config.HubTransport
}

func (src *StatsSource) sample(now time.Time) statsSample {
	m := src.Metrics.Snapshot()
	s := statsSample{at: now, role: map[string]string{}, accepted: map[string]int64{}, refused: map[string]int64{},
		open: map[string]int64{}, replies: map[int]int64{}, phases: m.Phases}
	for rc, n := range m.Accepted {
		if counted(rc.TransportRole) {
			s.role[rc.Identity()] = string(rc.TransportRole)
			s.accepted[rc.Identity()] += n
		}
	}
	for rc, codes := range m.Replies {
		if !counted(rc.TransportRole) {
			continue
		}
		s.role[rc.Identity()] = string(rc.TransportRole)
		for code, n := range codes {
			s.replies[code] += n
			if code >= 400 {
				s.refused[rc.Identity()] += n
			}
		}
	}
	if src.Sessions != nil {
		for rc, n := range src.Sessions() {
			if counted(rc.TransportRole) {
				s.role[rc.Identity()] = string(rc.TransportRole)
				s.open[rc.Identity()] += n
			}
		}
	}
	if src.Delivered != nil {
		s.delivered = src.Delivered()
	}
	return s
}

// stats is the event for the interval from prev to cur.
func (src *StatsSource) stats(prev, cur statsSample) Stats {
	iv := cur.at.Sub(prev.at).Seconds()
	if iv <= 0 {
		iv = 1
	}
	rate := func(a, b int64) float64 { return float64(max(b-a, 0)) / iv }
	st := Stats{Time: cur.at.UTC(), Interval: iv, Replies: map[string]float64{}, Phases: []PhaseStats{}, Connectors: []ConnectorStats{}}
	for id, role := range cur.role {
		c := ConnectorStats{Identity: id, Role: role, Open: cur.open[id], Accepted: rate(prev.accepted[id], cur.accepted[id]),
			Refused: rate(prev.refused[id], cur.refused[id])}
		st.Connectors = append(st.Connectors, c)
		st.Refused += c.Refused
		st.Totals.Refused += cur.refused[id]
		if role == string(config.HubTransport) {
			st.Accepted += c.Accepted
			st.Totals.Accepted += cur.accepted[id]
		}
	}
	sortConnectors(st.Connectors)
	for code, n := range cur.replies {
		if r := rate(prev.replies[code], n); r > 0 {
			st.Replies[strconv.Itoa(code)] = r
		}
	}
	st.Delivered = rate(prev.delivered, cur.delivered)
	st.Totals.Delivered = cur.delivered
	bounds := smtpreceive.PhaseBounds()
	for k, b := range cur.phases {
		if !counted(config.TransportRole(k.Role)) {
			continue
		}
		d := make([]uint64, len(b))
		var n uint64
		for i := range b {
			var p uint64
			if pb := prev.phases[k]; pb != nil {
				p = pb[i]
			}
			if b[i] > p {
				d[i] = b[i] - p
			}
			n += d[i]
		}
		if n == 0 {
			continue
		}
		st.Phases = append(st.Phases, PhaseStats{Role: k.Role, Phase: k.Phase, Count: n,
			P50: quantile(d, n, bounds, 0.5), P99: quantile(d, n, bounds, 0.99)})
	}
	sortPhases(st.Phases)
	if src.Queue != nil {
		st.Queue.Pressure, st.Queue.Messages = src.Queue()
	}
	return st
}

// quantile interpolates the q quantile of n values counted in buckets (counts[i] holds what is
// at most bounds[i] and more than bounds[i-1]; the last holds what is beyond the last bound,
// reported as that bound).
func quantile(counts []uint64, n uint64, bounds []float64, q float64) float64 {
	target := q * float64(n)
	var cum float64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= target {
			if i >= len(bounds) {
				return bounds[len(bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(target-cum)/float64(c)
		}
		cum += float64(c)
	}
	return bounds[len(bounds)-1]
}

func sortConnectors(cs []ConnectorStats) {
	slices.SortFunc(cs, func(a, b ConnectorStats) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Identity, b.Identity))
	})
}

// phaseOrder is the order of a session's phases.
var phaseOrder = map[string]int{"banner": 0, "ehlo": 1, "starttls": 2, "auth": 3, "mail": 4, "rcpt": 5, "transfer": 6, "data": 7, "proxy": 8, "queue_commit": 9}

func sortPhases(ps []PhaseStats) {
	slices.SortFunc(ps, func(a, b PhaseStats) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(phaseOrder[a.Phase], phaseOrder[b.Phase]), cmp.Compare(a.Phase, b.Phase))
	})
}
