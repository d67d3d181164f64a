package transport

import (
	"bufio"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpwire"
)

// The message tracking log (spec §7.2): what Get-MessageTrackingLog reads, in Exchange's CSV
// format and field list, written by the Transport service only (the Front End Transport
// service writes none). Events are handed to one writer goroutine through a buffered channel,
// so the reply path only formats a struct; the writer flushes every second, rolls over to a new
// file at MessageTrackingLogMaxFileSize or at midnight UTC, and removes files older than
// MessageTrackingLogMaxAge or beyond MessageTrackingLogMaxDirectorySize.

// TrackingFields is the 2016/2019 field list.
var TrackingFields = []string{"date-time", "client-ip", "client-hostname", "server-ip", "server-hostname", "source-context",
	"connector-id", "source", "event-id", "internal-message-id", "message-id", "network-message-id", "recipient-address",
	"recipient-status", "total-bytes", "recipient-count", "related-recipient-address", "reference", "message-subject",
	"sender-address", "return-path", "message-info", "directionality", "tenant-id", "original-client-ip", "original-server-ip",
	"custom-data", "transport-traffic-type", "log-id", "schema-version"}

// trackEvent is one event as the hub reports it.
type trackEvent struct {
	Time       time.Time
	ID         string // event-id: RECEIVE, DELIVER, SEND, FAIL, DEFER, DSN, POISONMESSAGE …
	Source     string // SMTP, STOREDRIVER, QUEUE, DSN, ROUTING, ADMIN, POISONMESSAGE
	Msg        *queue.Message
	Recipients []string
	Status     string // recipient-status
	ServerHost string // the next hop of a SEND/DEFER/FAIL, ip:port
	Connector  string // connector-id
	Reference  string
	Context    string // source-context, where the event has its own (HAREDIRECT)
}

// Tracker writes the message tracking log.
type Tracker struct {
	dir      string
	prefix   string
	fqdn     string
	build    string
	subjects bool
	maxFile  int64
	maxDir   int64
	maxAge   time.Duration
	log      *slog.Logger

	feed *TrackingFeed // subscribers to the events as written (nil: none)

	rng  *rand.ChaCha8
	ch   chan trackEvent
	done chan struct{}
	once sync.Once
}

// builds are the #Version / schema-version values of each release (spec §7.2, §5.1).
var builds = map[config.ExchangeVersion]string{
	config.Version2013: "15.00.1497.002", config.Version2016: "15.01.2507.006", config.Version2019: "15.02.1544.009",
}

// NewTracker starts the tracking log of srv in dir ("" or MessageTrackingLogEnabled false: nil,
// which records nothing).
func NewTracker(dir string, srv *config.Server, log *slog.Logger) *Tracker {
	return newTracker(dir, srv, log, "MSGTRK", nil)
}

// newTracker starts a tracking log whose files are named prefix…: MSGTRK for the Transport
// service, MSGTRKMD for the Mailbox Transport Delivery service (spec §7.2).
func newTracker(dir string, srv *config.Server, log *slog.Logger, prefix string, feed *TrackingFeed) *Tracker {
	if dir == "" || !srv.MessageTrackingLogEnabled {
		return nil
	}
	t := &Tracker{dir: dir, prefix: prefix, fqdn: srv.Fqdn, build: builds[srv.Version], subjects: srv.MessageTrackingLogSubjectLoggingEnabled,
		maxFile: int64(srv.MessageTrackingLogMaxFileSize), maxDir: int64(srv.MessageTrackingLogMaxDirectorySize),
		maxAge: srv.MessageTrackingLogMaxAge.Duration(), log: log, feed: feed, ch: make(chan trackEvent, 4096), done: make(chan struct{})}
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	t.rng = rand.NewChaCha8(seed)
	go t.run()
	return t
}

// Close writes what is buffered and stops the writer.
func (t *Tracker) Close() {
	if t == nil {
		return
	}
	t.once.Do(func() { close(t.ch) })
	<-t.done
}

// track queues one event for the log (a nil Tracker records nothing).
func (t *Tracker) track(e trackEvent) {
	if t == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	t.ch <- e
}

func (t *Tracker) run() {
	defer close(t.done)
	lf := &smtpwire.LogFile{Dir: t.dir, Prefix: t.prefix, Period: "20060102", MaxFileSize: t.maxFile, MaxDirectorySize: t.maxDir, MaxAge: t.maxAge,
		Header: func(now time.Time) string {
			return fmt.Sprintf("#Software: Microsoft Exchange Server\r\n#Version: %s\r\n#Log-type: Message Tracking Log\r\n#Date: %s\r\n#Fields: %s\r\n",
				t.build, now.UTC().Format(isoMillis), strings.Join(TrackingFields, ","))
		}}
	defer lf.Close()
	rec := make([]string, len(TrackingFields))
	var line []byte
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-t.ch:
			if !ok {
				return
			}
			t.record(e, rec)
			if t.feed != nil && t.feed.Active() {
				t.feed.publish(rec)
			}
			line = line[:0]
			for i, v := range rec {
				if i > 0 {
					line = append(line, ',')
				}
				line = smtpwire.AppendCSV(line, v)
			}
			line = append(line, '\r', '\n')
			if err := lf.Write(e.Time, line); err != nil {
				t.log.Error("message tracking log", "dir", t.dir, "err", err)
			}
		case <-tick.C:
			lf.Flush()
		}
	}
}

// Field positions in TrackingFields.
const (
	fDateTime = iota
	fClientIP
	fClientHostname
	fServerIP
	fServerHostname
	fSourceContext
	fConnectorID
	fSource
	fEventID
	fInternalMessageID
	fMessageID
	fNetworkMessageID
	fRecipientAddress
	fRecipientStatus
	fTotalBytes
	fRecipientCount
	fRelatedRecipientAddress
	fReference
	fMessageSubject
	fSenderAddress
	fReturnPath
	fMessageInfo
	fDirectionality
	fTenantID
	fOriginalClientIP
	fOriginalServerIP
	fCustomData
	fTransportTrafficType
	fLogID
	fSchemaVersion
)

const isoMillis = "2006-01-02T15:04:05.000Z"

// formatISOMillis is t.UTC().Format(isoMillis) without the layout interpreter (three per
// tracking line, about a tenth of the tracking writer's time).
func formatISOMillis(t time.Time) string {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	if y < 0 || y > 9999 {
		return t.Format(isoMillis)
	}
	b := [24]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + mo/10), byte('0' + mo%10), '-', byte('0' + d/10), byte('0' + d%10), 'T',
		byte('0' + h/10), byte('0' + h%10), ':', byte('0' + mi/10), byte('0' + mi%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.', byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10), 'Z'}
	return string(b[:])
}

func (t *Tracker) record(e trackEvent, rec []string) {
	clear(rec)
	m := e.Msg
	rec[fDateTime] = formatISOMillis(e.Time)
	rec[fSource] = e.Source
	rec[fEventID] = e.ID
	rec[fConnectorID] = e.Connector
	rec[fSchemaVersion] = t.build
	rec[fLogID] = t.guid()
	rec[fTransportTrafficType] = "Email"
	rec[fCustomData] = "S:DeliveryPriority=Normal"
	rec[fRecipientAddress] = strings.Join(e.Recipients, ";")
	rec[fRecipientCount] = strconv.Itoa(len(e.Recipients))
	rec[fRecipientStatus] = e.Status
	rec[fReference] = e.Reference
	if m != nil {
		rec[fInternalMessageID] = strconv.FormatUint(m.ID, 10)
		rec[fMessageID] = m.MessageID
		rec[fNetworkMessageID] = m.NetworkMessageID
		rec[fTotalBytes] = strconv.FormatInt(m.Size, 10)
		if t.subjects {
			rec[fMessageSubject] = smtpwire.DecodeSubject(m.Subject) // Exchange logs the subject as read, not its RFC 2047 form
		}
		rec[fSenderAddress] = m.From
		rec[fReturnPath] = m.From
		rec[fOriginalClientIP] = m.OriginalClientIP
		rec[fDirectionality] = "Incoming"
		if m.AuthAs == "Internal" {
			rec[fDirectionality] = "Originating"
		}
	}
	switch e.ID {
	case "RECEIVE":
		rec[fClientIP] = m.ClientIP
		rec[fClientHostname] = m.ClientHostname
		rec[fServerHostname] = t.fqdn
		rec[fSourceContext] = m.SessionID + ";" + formatISOMillis(m.Arrived) + ";0"
		rec[fConnectorID] = m.ConnectorID
	case "SEND", "DEFER", "FAIL":
		rec[fClientHostname] = t.fqdn
		if e.ServerHost != "" {
			host := e.ServerHost
			if i := strings.LastIndexByte(host, ':'); i > 0 {
				host = strings.Trim(host[:i], "[]")
			}
			rec[fServerIP], rec[fServerHostname] = host, host
		}
		if m != nil && e.ID == "SEND" {
			rec[fMessageInfo] = formatISOMillis(m.Arrived)
		}
	case "DELIVER":
		rec[fClientHostname], rec[fServerHostname] = t.fqdn, t.fqdn
		if m != nil {
			rec[fMessageInfo] = formatISOMillis(m.Arrived)
		}
	default:
		rec[fServerHostname] = t.fqdn
	}
	if e.Context != "" {
		rec[fSourceContext] = e.Context
	}
}

// guid makes a log-id from the writer's own generator (cheaper than crypto/rand per line; a
// log-id needs to be unique, not secret).
func (t *Tracker) guid() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], t.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], t.rng.Uint64())
	return smtpwire.FormatGUID(b)
}

// TrackingFeed is the tracking events as the writer writes them, for the admin API's event
// stream (/api/v1/events). With nobody subscribed, an event costs the writer one atomic load.
type TrackingFeed struct {
	Feed[TrackingEntry]
}

// publish sends one written record (TrackingFields order) as the entry SearchTracking would
// read back: non-empty fields by name.
func (f *TrackingFeed) publish(rec []string) {
	e := make(TrackingEntry, len(rec))
	for i, v := range rec {
		if v != "" {
			e[TrackingFields[i]] = v
		}
	}
	f.Publish(e)
}

// TrackingEntry is one parsed line of a message tracking log, by field name.
type TrackingEntry map[string]string

// SearchTracking reads the tracking logs in dir and returns the entries that match every
// non-empty filter (Get-MessageTrackingLog): sender and recipient addresses (case-insensitive),
// event id, message id, and the time range [start, end].
func SearchTracking(dir string, sender, recipient, eventID, messageID string, start, end time.Time) ([]TrackingEntry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "MSGTRK*.LOG"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []TrackingEntry
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		fields := TrackingFields
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if h, ok := strings.CutPrefix(line, "#Fields: "); ok {
				fields = strings.Split(h, ",")
				continue
			}
			if strings.HasPrefix(line, "#") {
				continue
			}
			data.WriteString(line)
			data.WriteString("\n")
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r := csv.NewReader(strings.NewReader(data.String()))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, rec := range recs {
			e := TrackingEntry{}
			for i, v := range rec {
				if i < len(fields) {
					e[fields[i]] = v
				}
			}
			if e.matches(sender, recipient, eventID, messageID, start, end) {
				out = append(out, e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i]["date-time"] < out[j]["date-time"] })
	return out, nil
}

func (e TrackingEntry) matches(sender, recipient, eventID, messageID string, start, end time.Time) bool {
	if sender != "" && !strings.EqualFold(e["sender-address"], sender) {
		return false
	}
	if recipient != "" {
		found := false
		for _, r := range strings.Split(e["recipient-address"], ";") {
			found = found || strings.EqualFold(r, recipient)
		}
		if !found {
			return false
		}
	}
	if eventID != "" && !strings.EqualFold(e["event-id"], eventID) {
		return false
	}
	if messageID != "" && e["message-id"] != messageID && e["internal-message-id"] != messageID {
		return false
	}
	t, err := time.Parse(isoMillis, e["date-time"])
	if err != nil {
		return false
	}
	return (start.IsZero() || !t.Before(start)) && (end.IsZero() || !t.After(end))
}
