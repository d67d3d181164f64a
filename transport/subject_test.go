package transport

import (
	"testing"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
)

// TestSubjectsShownDecoded: Get-Message's Subject and the tracking log's message-subject show
// a subject as it reads, not its RFC 2047 form, as Exchange's cmdlets and logs do.
func TestSubjectsShownDecoded(t *testing.T) {
	for _, tc := range []struct{ stored, want string }{
		{"Quarterly figures", "Quarterly figures"},
		{"=?utf-8?B?VW5kZWxpdmVyYWJsZTog?= =?utf-8?B?R3LDvMOfZQ==?=", "Undeliverable: Grüße"},
		{"=?iso-8859-1?Q?R=E9sum=E9?=", "Résumé"},
		{"=?utf-8?B?***?=", "=?utf-8?B?***?="}, // malformed: shown as written
	} {
		org := config.Default()
		srv := &org.Servers[0]
		now := time.Now()
		m := &queue.Message{ID: 7, From: "s@example.org", Subject: tc.stored, Arrived: now, MessageID: "<m@example.org>",
			Recipients: []queue.Recipient{{Address: "user1@contoso.test", Status: queue.StatusPending}}}
		_, ms := views([]heldMessage{{m: m}}, org, srv, now)
		if len(ms) != 1 || ms[0].Subject != tc.want {
			t.Errorf("Get-Message of %q: %+v, want Subject %q", tc.stored, ms, tc.want)
		}

		dir := t.TempDir()
		srv.MessageTrackingLogEnabled, srv.MessageTrackingLogSubjectLoggingEnabled = true, true
		tr := NewTracker(dir, srv, nil)
		tr.track(trackEvent{ID: "RECEIVE", Source: "SMTP", Msg: m, Recipients: []string{"user1@contoso.test"}, Time: now})
		tr.Close()
		es, err := SearchTracking(dir, "", "", "", "", time.Time{}, time.Time{})
		if err != nil || len(es) != 1 || es[0]["message-subject"] != tc.want {
			t.Errorf("tracking log of %q: %v %v, want message-subject %q", tc.stored, es, err, tc.want)
		}
	}
}
