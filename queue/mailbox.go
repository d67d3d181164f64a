package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The mailbox store's read, delete and watch side, for the test-automation API (issue 15).
//
// mbx/<mailbox>\x00<id> is already a per-mailbox index in id order, so listing one mailbox is a
// range scan of that mailbox only, newest first, whatever the other mailboxes hold; listing
// every mailbox merges the per-mailbox ranges by id. Nothing is added to the write path but
// delivered(), which costs one atomic load when nobody watches.

// ItemKey names one mailbox item: the mailbox (primary address) and its InternalMessageId.
type ItemKey struct {
	Mailbox string
	ID      uint64
}

// Less orders keys as the lists do: newest (highest id) first, then by mailbox.
func (k ItemKey) Less(o ItemKey) bool {
	if k.ID != o.ID {
		return k.ID > o.ID
	}
	return strings.ToLower(k.Mailbox) < strings.ToLower(o.Mailbox)
}

// Mailboxes lists the mailboxes that hold at least one item (lower case, sorted), by skipping
// from one mailbox's range to the next: one seek per mailbox, not one step per item.
func (s *Store) Mailboxes() ([]string, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("mbx/"), UpperBound: []byte("mbx0")})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; {
		k := it.Key()[len("mbx/"):]
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			ok = it.Next()
			continue
		}
		mb := string(k[:i])
		out = append(out, mb)
		ok = it.SeekGE(append([]byte("mbx/"+mb), 1))
	}
	return out, it.Error()
}

// ScanMailboxItems calls fn for the items of mailbox ("" for every mailbox) that come after
// the key after in list order (newest first; the zero key for the start), until fn returns
// false. Each mailbox is its own range, so a scan of one mailbox reads nothing of the others.
func (s *Store) ScanMailboxItems(mailbox string, after ItemKey, fn func(MailboxItem) bool) error {
	var mbs []string
	if mailbox != "" {
		mbs = []string{strings.ToLower(mailbox)}
	} else {
		var err error
		if mbs, err = s.Mailboxes(); err != nil {
			return err
		}
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	type cursor struct {
		it *pebble.Iterator
		ok bool
		id uint64
	}
	afterMb := strings.ToLower(after.Mailbox)
	var cs []*cursor
	defer func() {
		for _, c := range cs {
			_ = c.it.Close()
		}
	}()
	for _, mb := range mbs {
		prefix := append([]byte("mbx/"+mb), 0)
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: append([]byte("mbx/"+mb), 1)})
		if err != nil {
			return err
		}
		c := &cursor{it: it}
		cs = append(cs, c)
		switch {
		case after.ID == 0:
			c.ok = it.Last()
		case mb > afterMb:
			// Items of the cursor's own id come after it in this mailbox.
			c.ok = it.SeekLT(binary.BigEndian.AppendUint64(prefix, after.ID+1))
		default:
			c.ok = it.SeekLT(binary.BigEndian.AppendUint64(prefix, after.ID))
		}
		if c.ok {
			c.id = binary.BigEndian.Uint64(it.Key()[len(it.Key())-8:])
		}
	}
	for {
		var best *cursor
		for _, c := range cs { // mbs is sorted, so on equal ids the first mailbox wins
			if c.ok && (best == nil || c.id > best.id) {
				best = c
			}
		}
		if best == nil {
			break
		}
		item, err := decodeItem(best.it.Value())
		if err != nil {
			s.log.Error("queue: unreadable mailbox item", "key", string(best.it.Key()), "err", err)
		} else if !fn(item) {
			return nil
		}
		if best.ok = best.it.Prev(); best.ok {
			best.id = binary.BigEndian.Uint64(best.it.Key()[len(best.it.Key())-8:])
		}
	}
	for _, c := range cs {
		if err := c.it.Error(); err != nil {
			return err
		}
	}
	return nil
}

// MailboxItem returns one item without its content.
func (s *Store) MailboxItem(mailbox string, id uint64) (MailboxItem, error) {
	v, closer, err := s.db.Get(mailboxKey(mailbox, id))
	if err != nil {
		return MailboxItem{}, err
	}
	defer closer.Close()
	return decodeItem(v)
}

// ItemsByID returns the items of InternalMessageId id in every mailbox (one Mailbox Delivery
// writes one item per mailbox, all with the same id and body).
func (s *Store) ItemsByID(id uint64) ([]MailboxItem, error) {
	mbs, err := s.Mailboxes()
	if err != nil {
		return nil, err
	}
	var out []MailboxItem
	for _, mb := range mbs {
		item, err := s.MailboxItem(mb, id)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

// deleteBatch is how many items one delete batch removes: each batch is atomic, and every
// item goes with its body in the same batch, so nothing is ever half deleted.
const deleteBatch = 1000

// DeleteMailboxItems removes the given items. An item's body goes in the same batch when no
// other mailbox item and no queued message record refer to it, so a message is never half
// deleted: a reader sees it whole or not at all. It says how many items were removed (keys
// that do not exist are skipped).
func (s *Store) DeleteMailboxItems(keys []ItemKey) (int, error) {
	s.delMu.Lock() // two deletes deciding about the same body at once could both keep it
	defer s.delMu.Unlock()
	mbs, err := s.Mailboxes()
	if err != nil {
		return 0, err
	}
	n := 0
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), deleteBatch)]
		keys = keys[len(chunk):]
		gone := map[ItemKey]bool{}
		for _, k := range chunk {
			gone[ItemKey{strings.ToLower(k.Mailbox), k.ID}] = true
		}
		b := s.db.NewBatch()
		ids := map[uint64]bool{}
		for _, k := range chunk {
			key := mailboxKey(k.Mailbox, k.ID)
			if _, closer, err := s.db.Get(key); err != nil {
				if errors.Is(err, pebble.ErrNotFound) {
					continue
				}
				b.Close()
				return n, err
			} else {
				closer.Close()
			}
			_ = b.Delete(key, nil)
			ids[k.ID] = true
			n++
		}
		for id := range ids {
			keep, err := s.bodyReferenced(id, mbs, gone)
			if err != nil {
				b.Close()
				return n, err
			}
			if !keep {
				_ = b.Delete(idKey("body/", id), nil)
			}
		}
		if b.Empty() {
			b.Close()
			continue
		}
		// Synced: a delete the API answered must not come back after a crash.
		if err := s.commit(b, true); err != nil {
			return n, err
		}
	}
	return n, nil
}

// bodyReferenced says whether body/<id> is still needed by a queued message record or by a
// mailbox item outside gone.
func (s *Store) bodyReferenced(id uint64, mbs []string, gone map[ItemKey]bool) (bool, error) {
	if _, closer, err := s.db.Get(idKey("msg/", id)); err == nil {
		closer.Close()
		return true, nil
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return false, err
	}
	for _, mb := range mbs {
		if gone[ItemKey{mb, id}] {
			continue
		}
		_, closer, err := s.db.Get(mailboxKey(mb, id))
		if err == nil {
			closer.Close()
			return true, nil
		} else if !errors.Is(err, pebble.ErrNotFound) {
			return false, err
		}
	}
	return false, nil
}

// Watch subscribes to deliveries: every item committed from now on is sent on the returned
// channel (buffered; a watcher that falls behind misses deliveries and is told so by lost
// becoming true). cancel ends the subscription. While nobody watches, a delivery costs one
// atomic load.
func (s *Store) Watch(buffer int) (c <-chan MailboxItem, lost func() bool, cancel func()) {
	w := &watcher{ch: make(chan MailboxItem, buffer)}
	s.watch.mu.Lock()
	if s.watch.subs == nil {
		s.watch.subs = map[*watcher]struct{}{}
	}
	s.watch.subs[w] = struct{}{}
	s.watch.n.Store(int32(len(s.watch.subs)))
	s.watch.mu.Unlock()
	var once sync.Once
	return w.ch, w.lost.Load, func() {
		once.Do(func() {
			s.watch.mu.Lock()
			delete(s.watch.subs, w)
			s.watch.n.Store(int32(len(s.watch.subs)))
			s.watch.mu.Unlock()
		})
	}
}

type watcher struct {
	ch   chan MailboxItem
	lost atomic.Bool
}

type watchers struct {
	n    atomic.Int32
	mu   sync.Mutex
	subs map[*watcher]struct{}
}

// delivered tells the watchers about items just committed; the write path calls it after a
// successful commit. Nothing is done (one atomic load) when nobody watches.
func (s *Store) delivered(items []MailboxItem) {
	if len(items) == 0 || s.watch.n.Load() == 0 {
		return
	}
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	for w := range s.watch.subs {
		for _, it := range items {
			select {
			case w.ch <- it:
			default:
				w.lost.Store(true)
			}
		}
	}
}

// TrimMailboxes applies the organization's retention to every mailbox: it removes the oldest
// items beyond the newest keep (0: no count bound) and the items received before cutoff (the
// zero time: no age bound), through DeleteMailboxItems, so nothing is half deleted. A
// mailbox's items are in id order, which is delivery order, so the age scan stops at the first
// item young enough; the count costs one step per key, no decoding. It says how many items
// went.
func (s *Store) TrimMailboxes(keep int, cutoff time.Time) (int, error) {
	if keep <= 0 && cutoff.IsZero() {
		return 0, nil
	}
	mbs, err := s.Mailboxes()
	if err != nil {
		return 0, err
	}
	var doomed []ItemKey
	for _, mb := range mbs {
		prefix := append([]byte("mbx/"+mb), 0)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: append([]byte("mbx/"+mb), 1)})
		if err != nil {
			return 0, err
		}
		excess := 0
		if keep > 0 {
			n := 0
			for ok := it.First(); ok; ok = it.Next() {
				n++
			}
			excess = n - keep
		}
		for ok, i := it.First(), 0; ok; ok, i = it.Next(), i+1 {
			k := it.Key()
			key := ItemKey{Mailbox: mb, ID: binary.BigEndian.Uint64(k[len(k)-8:])}
			if i < excess {
				doomed = append(doomed, key)
				continue
			}
			if cutoff.IsZero() {
				break
			}
			v, err := it.ValueAndErr()
			if err != nil {
				_ = it.Close()
				return 0, err
			}
			item, err := decodeItem(v)
			if err != nil || !item.Received.Before(cutoff) {
				break
			}
			doomed = append(doomed, key)
		}
		if err := it.Close(); err != nil {
			return 0, err
		}
	}
	if len(doomed) == 0 {
		return 0, nil
	}
	return s.DeleteMailboxItems(doomed)
}
