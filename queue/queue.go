// Package queue owns every durable byte of exlab, Exchange's queue database (mail.que) and the
// mailbox store that stands in for the Mailbox Transport Delivery service: the submission
// queue, message bodies, and delivered mailbox items, all in one Pebble store. It alone writes
// keys. It knows nothing of SMTP, routing or retry policy (those live in transport); it stores
// records and commits them with the durability the caller asks for.
//
// Key prefixes (records are typed and versioned from the first commit, STYLE §4):
//
//	meta/format          store format: one byte 'F', version, Pebble FormatMajorVersion
//	meta/nextid          reserved high-water mark of InternalMessageId (8 bytes, big-endian)
//	msg/<id>             MessageRecord: 'M', version, JSON (envelope, recipients and their state)
//	body/<id>            the message content as received (after the frontend's Received: line)
//	mbx/<mailbox>\x00<id> MailboxItem: 'X', version, JSON (meta and the headers the hub adds)
//	shd/<primary>\x00<nmid> a shadow copy held for another hub (shadow.go): MessageRecord
//	shb/<primary>\x00<nmid> its content
//
// <id> is the 8-byte big-endian InternalMessageId, so msg/ iterates in arrival order. A
// delivered message's body stays under body/<id> and its mailbox items point to it, so the body
// is written once however many mailboxes get it; a message that reached no mailbox loses its
// body with its record.
//
// Durability (../shared/RELIABILITY.md §4.3): a submission is one batch committed with
// pebble.Sync before the hub may answer 250; when the hub categorized the message first, the
// same batch carries its mailbox items and NDRs. Later updates (delivery of what was left
// queued, NDR creation) replay safely after a crash, so they may be committed without their own
// sync: a mailbox item's key is derived from mailbox and id, so redelivery overwrites instead of
// duplicating.
package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	recMessage     byte = 'M'
	recMailboxItem byte = 'X'
	recFormat      byte = 'F'
	version1       byte = 1

	formatMajor = pebble.FormatTableFormatV6
	idReserve   = 100000
)

var (
	keyFormat = []byte("meta/format")
	keyNextID = []byte("meta/nextid")
)

// ErrStoreFailed is returned once a commit has failed: the store refuses further writes and the
// process must restart (a failed fsync cannot be retried, RELIABILITY §4.1 "Sync failure").
var ErrStoreFailed = errors.New("queue: the store failed a commit and accepts no more writes")

// RecipientStatus is one recipient's state in a message record.
type RecipientStatus string

const (
	StatusPending     RecipientStatus = "Pending"
	StatusDelivered   RecipientStatus = "Delivered"
	StatusFailed      RecipientStatus = "Failed"
	StatusUnreachable RecipientStatus = "Unreachable"
)

// Recipient is one envelope recipient and its delivery state.
type Recipient struct {
	Address      string
	Notify       []string `json:",omitempty"`
	OrcptType    string   `json:",omitempty"`
	OrcptAddress string   `json:",omitempty"`
	Status       RecipientStatus
	LastError    string `json:",omitempty"`
	Mailbox      string `json:",omitempty"` // the mailbox it was delivered to
	NextHop      string `json:",omitempty"` // the send connector it leaves through
	RetryCount   int    `json:",omitempty"`
	LastHost     string `json:",omitempty"` // the next hop (ip:port) of the last attempt
	// AttemptError is the LastError of the last attempt once the hub has failed the recipient
	// itself (expiry, removal): the NDR's history line quotes it.
	AttemptError string `json:",omitempty"`
}

// Message is the record of one queued message: envelope, client identity and state.
type Message struct {
	ID               uint64 // InternalMessageId
	NetworkMessageID string
	MessageID        string // the Message-ID header with angle brackets
	Subject          string `json:",omitempty"`
	From             string
	Recipients       []Recipient
	Return           string `json:",omitempty"` // DSN RET
	EnvelopeID       string `json:",omitempty"` // DSN ENVID
	Body             string `json:",omitempty"` // BODY=
	SMTPUTF8         bool   `json:",omitempty"`
	Size             int64  // bytes of content as stored
	Arrived          time.Time
	ConnectorID      string
	SessionID        string
	ClientIP         string
	ClientHostname   string
	OriginalClientIP string `json:",omitempty"`
	AuthAs           string `json:",omitempty"`
	AuthSource       string `json:",omitempty"`
	// HeaderPrefix is prepended to the content on delivery (the hub's Received: line);
	// HeaderSuffix is inserted at HeaderEnd, the end of the header block (the hub's
	// X-MS-Exchange-Organization headers, spec §9.2).
	HeaderPrefix string `json:",omitempty"`
	HeaderSuffix string `json:",omitempty"`
	HeaderEnd    int64
	IsDSN        bool `json:",omitempty"`
	// Delivered says a mailbox item refers to the body, which must then be kept.
	Delivered bool `json:",omitempty"`

	// Queue state (spec §8): the retry schedule of the recipients waiting for a send
	// connector, whether an administrator suspended the message, whether its sender got the
	// delay DSN, and poison detection: InFlight is recorded before a delivery attempt and
	// cleared after it, so a record found InFlight at start was being delivered when the
	// service died.
	FirstRetryTime time.Time `json:",omitzero"`
	LastRetryTime  time.Time `json:",omitzero"`
	NextRetryTime  time.Time `json:",omitzero"`
	Suspended      bool      `json:",omitempty"`
	DelayNotified  bool      `json:",omitempty"`
	InFlight       bool      `json:",omitempty"`
	PoisonCount    int       `json:",omitempty"`
	Poison         bool      `json:",omitempty"`
	// Shadow is the hub that holds this message's shadow copy (spec §8.4), told when the
	// message is delivered (XQDISCARD); "" when none was made.
	Shadow string `json:",omitempty"`
	// TraceParent is the W3C traceparent of the hub's message span when tracing, so later
	// delivery attempts join the message's trace.
	TraceParent string `json:",omitempty"`
}

// Clone returns a copy whose recipients can be changed without touching m.
func (m *Message) Clone() *Message {
	c := *m
	c.Recipients = append([]Recipient(nil), m.Recipients...)
	return &c
}

// Done says whether every recipient reached a final state.
func (m *Message) Done() bool {
	for _, r := range m.Recipients {
		if r.Status == StatusPending || r.Status == StatusUnreachable {
			return false
		}
	}
	return true
}

// Content assembles the delivered form of the message: prefix, header block, suffix, body.
func (m *Message) Content(body []byte) []byte {
	end := min(max(m.HeaderEnd, 0), int64(len(body)))
	out := make([]byte, 0, len(m.HeaderPrefix)+len(body)+len(m.HeaderSuffix))
	out = append(out, m.HeaderPrefix...)
	out = append(out, body[:end]...)
	out = append(out, m.HeaderSuffix...)
	return append(out, body[end:]...)
}

// MailboxItem is one message in a mailbox. Its content is the body stored under body/<ID>
// with HeaderPrefix in front and HeaderSuffix inserted at HeaderEnd.
type MailboxItem struct {
	Mailbox      string // the mailbox's primary SMTP address
	ID           uint64
	MessageID    string
	From         string
	To           []string
	Subject      string `json:",omitempty"`
	Received     time.Time
	Size         int64
	HeaderPrefix string `json:",omitempty"`
	HeaderSuffix string `json:",omitempty"`
	HeaderEnd    int64
}

// Store is the Pebble-backed queue database.
type Store struct {
	db       *pebble.DB
	dir      string
	mu       sync.Mutex
	nextID   uint64
	maxID    uint64 // reserved up to, exclusive
	failed   bool
	failedCh chan struct{}
	log      *slog.Logger
	delMu    sync.Mutex // DeleteMailboxItems (mailbox.go)
	watch    watchers   // Watch (mailbox.go)
}

// Options configure Open.
type Options struct {
	ReadOnly bool
	Logger   *slog.Logger
	// FS replaces the operating system's file system (tests use a crashable in-memory one).
	FS vfs.FS
}

// Open opens (or creates) the store in dir with the settings of RELIABILITY.md §4.3.
func Open(dir string, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	po := &pebble.Options{
		FormatMajorVersion:          formatMajor,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		ReadOnly:                    o.ReadOnly,
		Logger:                      pebbleLogger{log},
		FS:                          o.FS,
	}
	// Every level is compressed, L0 included: a delivered message's body is flushed to L0 once
	// and compacted down, and at 100 KiB those bytes are most of the hub's work. Measured with
	// a Pebble harness of the hub's write pattern (20 writers, one synced 100 KiB body per
	// message, 10 s, 2 cores): snappy on L0-L3 took CPU per message from 0.42 to 0.37 ms with
	// base64 attachment-like bodies and from 0.36 to 0.24 ms with bench's text, where it also
	// kept L0 at a few files instead of 500 (uncompressed, compactions fell behind; with the
	// base64 bodies they fall behind either way on 2 cores); at 1 KiB the difference was 0.037
	// against 0.036 ms. (Until 2026-12-03 L0-L3 were uncompressed, from a pprof reading at
	// 1 KiB alone.)
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.SnappyCompression }
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("queue: open %s: %w", dir, err)
	}
	s := &Store{db: db, dir: dir, log: log, failedCh: make(chan struct{})}
	if o.ReadOnly {
		return s, nil
	}
	if err := s.initMeta(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) initMeta() error {
	v, closer, err := s.db.Get(keyFormat)
	switch {
	case err == nil:
		if len(v) < 2 || v[0] != recFormat || v[1] != version1 {
			closer.Close()
			return fmt.Errorf("queue: %s holds an unknown store format %x", s.dir, v)
		}
		closer.Close()
	case errors.Is(err, pebble.ErrNotFound):
		if err := s.db.Set(keyFormat, []byte{recFormat, version1, byte(formatMajor)}, pebble.Sync); err != nil {
			return err
		}
	default:
		return err
	}
	v, closer, err = s.db.Get(keyNextID)
	switch {
	case err == nil:
		s.nextID = binary.BigEndian.Uint64(v)
		closer.Close()
	case errors.Is(err, pebble.ErrNotFound):
		// Exchange's InternalIds are 15-digit numbers (spec §5.3); start from one derived
		// from the clock so that a fresh store looks like a real one.
		s.nextID = uint64(time.Now().UnixMilli()) * 100
	default:
		return err
	}
	s.maxID = s.nextID
	return nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the store cleanly.
func (s *Store) Close() error { return s.db.Close() }

// NextID allocates an InternalMessageId. Ids are reserved in blocks whose high-water mark is
// synced before any id of the block is used, so ids never repeat across restarts.
func (s *Store) NextID() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return 0, ErrStoreFailed
	}
	if s.nextID >= s.maxID {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], s.nextID+idReserve)
		if err := guard(func() error { return s.db.Set(keyNextID, b[:], pebble.Sync) }); err != nil {
			s.failLocked(err)
			return 0, fmt.Errorf("%w: %v", ErrStoreFailed, err)
		}
		s.maxID = s.nextID + idReserve
	}
	id := s.nextID
	s.nextID++
	return id, nil
}

func idKey(prefix string, id uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], id)
	return k
}

func mailboxKey(mailbox string, id uint64) []byte {
	k := make([]byte, 0, 4+len(mailbox)+1+8)
	k = append(k, "mbx/"...)
	k = append(k, strings.ToLower(mailbox)...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, id)
}

func encodeMessage(m *Message) ([]byte, error) {
	j, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append([]byte{recMessage, version1}, j...), nil
}

func decodeMessage(v []byte) (*Message, error) {
	if len(v) < 2 || v[0] != recMessage || v[1] != version1 {
		return nil, fmt.Errorf("queue: not a version-1 message record")
	}
	m := &Message{}
	return m, json.Unmarshal(v[2:], m)
}

// Submission is a new message and, when the hub categorized it before committing, what the
// categorizer decided: mailbox items, NDRs to queue, and the recipients' states in Message.
type Submission struct {
	Message    *Message
	Body       []byte
	Deliveries []MailboxItem
	New        []NewMessage
}

// Submit writes a new message in one batch and syncs it: when it returns nil the message
// survives a crash, and only then may the hub answer 250 (RELIABILITY §1.1). A message whose
// recipients are all final already (delivered or failed) leaves no queue record, only its
// mailbox items (and its body, which they refer to) and its NDRs.
func (s *Store) Submit(sub Submission) error {
	m := sub.Message
	b := s.db.NewBatchWithSize(len(sub.Body) + 1024)
	if len(sub.Deliveries) > 0 {
		m.Delivered = true
	}
	if !m.Done() {
		rec, err := encodeMessage(m)
		if err != nil {
			b.Close()
			return err
		}
		_ = b.Set(idKey("msg/", m.ID), rec, nil)
	}
	if !m.Done() || m.Delivered {
		_ = b.Set(idKey("body/", m.ID), sub.Body, nil)
	}
	if err := addDeliveries(b, sub.Deliveries, sub.New); err != nil {
		b.Close()
		return err
	}
	if err := s.commit(b, true); err != nil {
		return err
	}
	s.delivered(sub.Deliveries) // wakes API waiters (mailbox.go); one atomic load when none
	return nil
}

func addDeliveries(b *pebble.Batch, items []MailboxItem, news []NewMessage) error {
	var rec []byte // Set copies the value into the batch: one buffer serves every item
	for i := range items {
		d := &items[i]
		rec = appendItemJSON(append(rec[:0], recMailboxItem, version1), d)
		_ = b.Set(mailboxKey(d.Mailbox, d.ID), rec, nil)
	}
	for _, n := range news {
		rec, err := encodeMessage(n.Message)
		if err != nil {
			return err
		}
		_ = b.Set(idKey("msg/", n.Message.ID), rec, nil)
		_ = b.Set(idKey("body/", n.Message.ID), n.Body, nil)
	}
	return nil
}

func (s *Store) commit(b *pebble.Batch, sync bool) error {
	s.mu.Lock()
	failed := s.failed
	s.mu.Unlock()
	if failed {
		b.Close()
		return ErrStoreFailed
	}
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	err := guard(func() error { return b.Commit(opt) })
	b.Close()
	if err != nil {
		s.mu.Lock()
		s.failLocked(err)
		s.mu.Unlock()
		return fmt.Errorf("%w: %v", ErrStoreFailed, err)
	}
	return nil
}

// fatalError is what pebbleLogger.Fatalf panics with: Pebble treats a failed WAL write or sync
// as fatal (RELIABILITY §4.1) and calls Fatalf from the committing goroutine.
type fatalError string

func (e fatalError) Error() string { return string(e) }

// guard runs a Pebble write and turns its fatal error into an ordinary one, so the caller can
// answer 451 4.3.0 instead of the process dying mid-reply.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			fe, ok := p.(fatalError)
			if !ok {
				panic(p)
			}
			err = fe
		}
	}()
	return f()
}

// failLocked marks the store failed (s.mu held): no more writes, and Failed() is closed so
// the service stops accepting and exits for its supervisor to restart it.
func (s *Store) failLocked(err error) {
	if s.failed {
		return
	}
	s.failed = true
	close(s.failedCh)
	s.log.Error("the queue database failed a write; it accepts no more and the service must restart", "err", err)
}

// Failed is closed when the store has failed a write.
func (s *Store) Failed() <-chan struct{} { return s.failedCh }

// Update is the result of categorizing one message: its new record (removed with its body when
// every recipient is final), mailbox deliveries, and new messages (NDRs) to queue.
type Update struct {
	Message    *Message
	Deliveries []MailboxItem
	New        []NewMessage
}

// NewMessage is a message the hub generates (an NDR).
type NewMessage struct {
	Message *Message
	Body    []byte
}

// Durability says whether a commit waits for the disk. Synced is what every acknowledged or
// irreversible change needs; Unsynced is safe only for updates that replay after a crash (see the
// package comment).
type Durability bool

const (
	Unsynced Durability = false
	Synced   Durability = true
)

// Apply commits an update atomically with the given durability.
func (s *Store) Apply(u Update, d Durability) error {
	b := s.db.NewBatch()
	if len(u.Deliveries) > 0 {
		u.Message.Delivered = true
	}
	if u.Message.Done() {
		_ = b.Delete(idKey("msg/", u.Message.ID), nil)
		if !u.Message.Delivered {
			_ = b.DeleteSized(idKey("body/", u.Message.ID), uint32(min(u.Message.Size, 1<<31)), nil)
		}
	} else {
		rec, err := encodeMessage(u.Message)
		if err != nil {
			b.Close()
			return err
		}
		_ = b.Set(idKey("msg/", u.Message.ID), rec, nil)
	}
	if err := addDeliveries(b, u.Deliveries, u.New); err != nil {
		b.Close()
		return err
	}
	if err := s.commit(b, bool(d)); err != nil {
		return err
	}
	s.delivered(u.Deliveries) // wakes API waiters (mailbox.go); one atomic load when none
	return nil
}

// Body returns a copy of a queued message's body.
func (s *Store) Body(id uint64) ([]byte, error) {
	v, closer, err := s.db.Get(idKey("body/", id))
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// Messages calls fn for every queued message record in arrival order.
func (s *Store) Messages(fn func(*Message) bool) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("msg/"), UpperBound: []byte("msg0")})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		m, err := decodeMessage(it.Value())
		if err != nil {
			s.log.Error("queue: unreadable message record", "key", fmt.Sprintf("%x", it.Key()), "err", err)
			continue
		}
		if !fn(m) {
			break
		}
	}
	return it.Error()
}

// MailboxItems lists the items of one mailbox (primary address), or of all mailboxes when
// mailbox is "", oldest first.
func (s *Store) MailboxItems(mailbox string) ([]MailboxItem, error) {
	lower := []byte("mbx/")
	upper := []byte("mbx0")
	if mailbox != "" {
		lower = append([]byte("mbx/"+strings.ToLower(mailbox)), 0)
		upper = append([]byte("mbx/"+strings.ToLower(mailbox)), 1)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []MailboxItem
	for ok := it.First(); ok; ok = it.Next() {
		item, err := decodeItem(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, it.Error()
}

// MailboxContent returns one item and its content as delivered.
func (s *Store) MailboxContent(mailbox string, id uint64) (MailboxItem, []byte, error) {
	v, closer, err := s.db.Get(mailboxKey(mailbox, id))
	if err != nil {
		return MailboxItem{}, nil, err
	}
	item, err := decodeItem(v)
	closer.Close()
	if err != nil {
		return item, nil, err
	}
	body, closer, err := s.db.Get(idKey("body/", id))
	if err != nil {
		return item, nil, fmt.Errorf("queue: body of mailbox item %d: %w", id, err)
	}
	defer closer.Close()
	m := Message{HeaderPrefix: item.HeaderPrefix, HeaderSuffix: item.HeaderSuffix, HeaderEnd: item.HeaderEnd}
	return item, m.Content(body), nil
}

func decodeItem(v []byte) (MailboxItem, error) {
	var item MailboxItem
	if len(v) < 2 || v[0] != recMailboxItem || v[1] != version1 {
		return item, fmt.Errorf("queue: not a version-1 mailbox item")
	}
	return item, json.Unmarshal(v[2:], &item)
}

// ErrNotFound is returned for a missing item.
var ErrNotFound = pebble.ErrNotFound

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
	panic(fatalError(fmt.Sprintf(format, args...)))
}
