package queue

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Shadow copies (spec §8.4, shadow redundancy): the messages this hub holds for another hub,
// the primary, which accepted them and has not yet reported them delivered. They are not
// queued for delivery here: a copy is discarded when the primary says so, and resubmitted
// into this hub's submission queue only when the primary has been gone for longer than
// ShadowResubmitTimeSpan. Keyed by the primary's server name and the Network-Message-Id it
// gave the message, which is how the primary names a copy when it reports it delivered.

// Shadow is one shadow copy's record: the message as this hub would queue it.
type Shadow struct {
	Primary          string // the primary hub's server name, as stored (lower case)
	NetworkMessageID string // the primary's Network-Message-Id
	Message          *Message
}

func shadowKey(prefix, primary, nmid string) []byte {
	k := make([]byte, 0, len(prefix)+len(primary)+1+len(nmid))
	k = append(k, prefix...)
	k = append(k, strings.ToLower(primary)...)
	k = append(k, 0)
	return append(k, nmid...)
}

// PutShadow writes a shadow copy and its content in one synced batch: when it returns nil the
// copy survives a crash, and only then may this hub answer the primary 250 (R50).
func (s *Store) PutShadow(primary, nmid string, m *Message, body []byte) error {
	rec, err := encodeMessage(m)
	if err != nil {
		return err
	}
	b := s.db.NewBatchWithSize(len(body) + len(rec) + 128)
	_ = b.Set(shadowKey("shd/", primary, nmid), rec, nil)
	_ = b.Set(shadowKey("shb/", primary, nmid), body, nil)
	return s.commit(b, true)
}

// Shadows calls fn for every shadow copy, grouped by primary.
func (s *Store) Shadows(fn func(Shadow) bool) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("shd/"), UpperBound: []byte("shd0")})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len("shd/"):]
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			continue
		}
		m, err := decodeMessage(it.Value())
		if err != nil {
			s.log.Error("queue: unreadable shadow record", "key", fmt.Sprintf("%x", it.Key()), "err", err)
			continue
		}
		if !fn(Shadow{Primary: string(k[:i]), NetworkMessageID: string(k[i+1:]), Message: m}) {
			break
		}
	}
	return it.Error()
}

// ShadowBody returns a copy of a shadow copy's content.
func (s *Store) ShadowBody(primary, nmid string) ([]byte, error) {
	v, closer, err := s.db.Get(shadowKey("shb/", primary, nmid))
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// DeleteShadows removes shadow copies of primary (ones that are not there are no error). A
// discard need not be synced: a copy that comes back after a crash is discarded again, or
// resubmitted, which a copy may always be (a duplicate, never a loss). A resubmission syncs
// its own submission first.
func (s *Store) DeleteShadows(primary string, nmids []string) error {
	if len(nmids) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	for _, n := range nmids {
		_ = b.Delete(shadowKey("shd/", primary, n), nil)
		_ = b.Delete(shadowKey("shb/", primary, n), nil)
	}
	return s.commit(b, false)
}
