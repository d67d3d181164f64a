package transport

import (
	"sync"
	"sync/atomic"
)

// Feed fans values out to subscribers, each a buffered channel; a subscriber that falls behind
// misses values rather than holding up the publisher. With nobody subscribed, Active is one
// atomic load, so a publisher checks it before building what it would send. The admin API's
// event stream subscribes to the hub's tracking events (TrackingFeed) and to the server's
// Exchange events through one.
type Feed[T any] struct {
	n    atomic.Int32
	mu   sync.Mutex
	subs map[chan T]struct{}
}

// Subscribe starts a subscription; cancel ends it.
func (f *Feed[T]) Subscribe(buffer int) (values <-chan T, cancel func()) {
	ch := make(chan T, buffer)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan T]struct{}{}
	}
	f.subs[ch] = struct{}{}
	f.n.Store(int32(len(f.subs)))
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, ch)
			f.n.Store(int32(len(f.subs)))
			f.mu.Unlock()
		})
	}
}

// Active says whether anybody is subscribed (false for a nil Feed).
func (f *Feed[T]) Active() bool { return f != nil && f.n.Load() > 0 }

// Publish sends v to every subscriber that has room for it.
func (f *Feed[T]) Publish(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- v:
		default:
		}
	}
}
