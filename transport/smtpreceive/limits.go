// limits.go holds the per-source connection limit and MessageRateLimit with the keys it counts by.

package smtpreceive

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/exlab/exlab/config"
)

// messageRates holds MessageRateLimit's state: one token bucket per connector and source (a
// client address or an authenticated user), filled at MessageRateLimit messages per minute
// and holding at most that many, so a source that has been quiet may send a minute's worth at
// once and then one message every 60/MessageRateLimit seconds (PS-NRC: "the maximum number of
// messages that can be sent by a single client IP address per minute"). Buckets that are full
// again are dropped by a sweep, so the map holds only recent sources.
type messageRates struct {
	mu      sync.Mutex
	buckets map[rateKey]*rate.Limiter
	swept   time.Time
}

type rateKey struct {
	server, connector string // the connector's identity: a reconfiguration keeps the counts
	user              string // "" for an address bucket
	ip                netip.Addr
}

// perSourceLimit is the connection limit per source: MaxInboundConnectionPerSource, or
// MaxInboundConnectionPercentagePerSource percent of MaxInboundConnection when that is lower
// (PS-NRC: "the maximum number of connections … from a single IP address as a percentage of
// the available remaining connections"; at the defaults 2% of 5000 is 100, above 20).
func perSourceLimit(rc *config.ReceiveConnector) config.Limit {
	l := rc.MaxInboundConnectionPerSource
	if rc.MaxInboundConnection.Unlimited || rc.MaxInboundConnectionPercentagePerSource <= 0 || rc.MaxInboundConnectionPercentagePerSource >= 100 {
		return l
	}
	p := max(rc.MaxInboundConnection.Value*int64(rc.MaxInboundConnectionPercentagePerSource)/100, 1)
	if l.Unlimited || p < l.Value {
		return config.N(p)
	}
	return l
}

// rateKeys lists the buckets a MAIL counts against under the connector's MessageRateSource:
// the client address (IPAddress), the authenticated user (User; anonymous sessions are not
// counted), or both (All).
func rateKeys(rc *config.ReceiveConnector, ci *ConnInfo) []rateKey {
	if rc.MessageRateLimit.Unlimited {
		return nil
	}
	var keys []rateKey
	switch rc.MessageRateSource {
	case config.RateSourceIPAddress, config.RateSourceAll:
		keys = append(keys, rateKey{server: rc.Server, connector: rc.Name, ip: ci.Remote.Addr().Unmap()})
	}
	switch rc.MessageRateSource {
	case config.RateSourceUser, config.RateSourceAll:
		if ci.User != "" {
			keys = append(keys, rateKey{server: rc.Server, connector: rc.Name, user: ci.User})
		}
	}
	return keys
}

// take counts one message against every bucket; it takes nothing and returns false when any
// of them is empty. The tokens it took can be given back with refund.
func (m *messageRates) take(rc *config.ReceiveConnector, keys []rateKey, now time.Time) ([]*rate.Reservation, bool) {
	if len(keys) == 0 {
		return nil, true
	}
	perMinute := rc.MessageRateLimit.Value
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets == nil {
		m.buckets = map[rateKey]*rate.Limiter{}
	}
	if now.Sub(m.swept) > time.Minute {
		m.sweep(now)
	}
	rs := make([]*rate.Reservation, 0, len(keys))
	for _, k := range keys {
		b := m.buckets[k]
		if b == nil || b.Burst() != int(perMinute) {
			b = rate.NewLimiter(rate.Limit(float64(perMinute)/60), int(perMinute))
			m.buckets[k] = b
		}
		r := b.ReserveN(now, 1)
		if !r.OK() || r.DelayFrom(now) > 0 {
			r.CancelAt(now)
			refund(rs, now)
			return nil, false
		}
		rs = append(rs, r)
	}
	return rs, true
}

// refund gives back the tokens of a MAIL that was refused for another reason (a refused MAIL
// is not a submitted message).
func refund(rs []*rate.Reservation, now time.Time) {
	for _, r := range rs {
		r.CancelAt(now)
	}
}

// sweep drops buckets that have filled up again (they behave like new ones).
func (m *messageRates) sweep(now time.Time) {
	m.swept = now
	for k, b := range m.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(m.buckets, k)
		}
	}
}
