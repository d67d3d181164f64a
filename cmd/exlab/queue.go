package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
)

// exlab queue …, exlab message …: Get-Queue, Get-Message, Retry-Queue and
// Suspend-/Resume-/Remove-Message against a running hub (its admin listener), or, for the get
// commands, the data directory of a stopped one.

func cmdQueue(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "get" && args[0] != "retry") {
		fmt.Fprint(stderr, "Usage: exlab queue get [--data DIR] [--config FILE] [--server NAME] [--format table|list|json]\n"+
			"       exlab queue retry IDENTITY [--resubmit] [--data DIR]\n")
		return 2
	}
	if args[0] == "retry" {
		fs := newFlagSet("queue retry", stderr, "queue retry IDENTITY [--resubmit] [--data DIR]")
		dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
		resubmit := fs.Bool("resubmit", false, "route the messages again from scratch (needed for the Unreachable queue)")
		pos, err := parseInterspersed(fs, args[1:])
		if err != nil || len(pos) != 1 {
			fs.Usage()
			return 2
		}
		c := dialAdmin(*dataDir)
		if c == nil {
			return errorf(stderr, "no running server answers for %s (queue retry needs the running hub)", *dataDir)
		}
		b, err := c.do(http.MethodPost, "/queues/retry?identity="+url.QueryEscape(pos[0])+fmt.Sprintf("&resubmit=%v", *resubmit))
		if err != nil {
			return errorf(stderr, "%v", adminError(err, pos[0]))
		}
		var res struct{ Messages int }
		_ = json.Unmarshal(b, &res)
		fmt.Fprintf(stdout, "%s: %d message(s) to be attempted now\n", pos[0], res.Messages)
		return 0
	}
	fs := newFlagSet("queue get", stderr, "queue get [--data DIR] [--config FILE] [--server NAME] [--format table|list|json]")
	dataDir := fs.String("data", "./exlab-data", "data directory of the server")
	cfgPath := fs.String("config", "", "organization file, when the server is stopped (default: the embedded one)")
	serverName := fs.String("server", "", "server of the organization, when the server is stopped")
	format := fs.String("format", "table", "table (Get-Queue), list (Format-List) or json")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return 2
	}
	var qs []transport.QueueInfo
	if c := dialAdmin(*dataDir); c != nil {
		b, err := c.get("/queues")
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		if err := json.Unmarshal(b, &qs); err != nil {
			return errorf(stderr, "%v", err)
		}
	} else {
		var err error
		if qs, _, err = storedQueues(*dataDir, *cfgPath, *serverName, ""); err != nil {
			return errorf(stderr, "%v", err)
		}
	}
	return printRecords(stdout, stderr, *format, qs, []string{"Identity", "DeliveryType", "Status", "MessageCount", "NextHopDomain", "LastError"})
}

func cmdMessage(args []string, stdout, stderr io.Writer) int {
	actions := map[string]bool{"get": true, "suspend": true, "resume": true, "remove": true}
	if len(args) == 0 || !actions[args[0]] {
		fmt.Fprint(stderr, "Usage: exlab message get [--queue IDENTITY] [--data DIR] [--config FILE] [--format table|list|json]\n"+
			"       exlab message suspend|resume IDENTITY [--data DIR]\n"+
			"       exlab message remove IDENTITY [--with-ndr] [--data DIR]\n")
		return 2
	}
	sub := args[0]
	if sub != "get" {
		fs := newFlagSet("message "+sub, stderr, "message "+sub+" IDENTITY [--with-ndr] [--data DIR]")
		dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
		withNDR := fs.Bool("with-ndr", false, "remove: send the sender an NDR for the recipients still waiting")
		pos, err := parseInterspersed(fs, args[1:])
		if err != nil || len(pos) != 1 {
			fs.Usage()
			return 2
		}
		c := dialAdmin(*dataDir)
		if c == nil {
			return errorf(stderr, "no running server answers for %s (message %s needs the running hub)", *dataDir, sub)
		}
		if _, err := c.do(http.MethodPost, "/messages/"+sub+"?identity="+url.QueryEscape(pos[0])+fmt.Sprintf("&withndr=%v", *withNDR)); err != nil {
			return errorf(stderr, "%v", adminError(err, pos[0]))
		}
		fmt.Fprintf(stdout, "%s: %s\n", pos[0], map[string]string{"suspend": "suspended", "resume": "resumed", "remove": "removed"}[sub])
		return 0
	}
	fs := newFlagSet("message get", stderr, "message get [--queue IDENTITY] [--data DIR] [--config FILE] [--format table|list|json]")
	dataDir := fs.String("data", "./exlab-data", "data directory of the server")
	queueID := fs.String("queue", "", "only the messages of this queue (EX01\\Submission, EX01\\Unreachable, EX01\\<number>, EX01\\<NextHopDomain>)")
	cfgPath := fs.String("config", "", "organization file, when the server is stopped (default: the embedded one)")
	serverName := fs.String("server", "", "server of the organization, when the server is stopped")
	format := fs.String("format", "table", "table (Get-Message), list (Format-List) or json")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return 2
	}
	var ms []transport.MessageInfo
	if c := dialAdmin(*dataDir); c != nil {
		b, err := c.get("/messages?queue=" + url.QueryEscape(*queueID))
		if err != nil {
			return errorf(stderr, "%v", adminError(err, *queueID))
		}
		if err := json.Unmarshal(b, &ms); err != nil {
			return errorf(stderr, "%v", err)
		}
	} else {
		var err error
		if _, ms, err = storedQueues(*dataDir, *cfgPath, *serverName, *queueID); err != nil {
			return errorf(stderr, "%v", err)
		}
	}
	return printRecords(stdout, stderr, *format, ms, []string{"Identity", "FromAddress", "Status", "Queue", "Subject"})
}

// adminError words a refusal of the admin listener: a 404 names what was not found.
func adminError(err error, identity string) error {
	if errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("%q was not found (exlab queue get and exlab message get list the identities)", identity)
	}
	return err
}

// storedQueues reads the queues of a stopped server from its data directory.
func storedQueues(dataDir, cfgPath, serverName, queueID string) ([]transport.QueueInfo, []transport.MessageInfo, error) {
	org, srv, err := loadServer(cfgPath, serverName)
	if err != nil {
		return nil, nil, err
	}
	st, err := queue.Open(filepath.Join(dataDir, queueDir), queue.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("no running server answers for %s and its queue database cannot be read: %v", dataDir, err)
	}
	defer st.Close()
	return transport.StoredQueues(st, org, srv, queueID)
}

// printRecords prints a slice of structs as a table of columns (Format-Table), every field
// (Format-List) or JSON.
func printRecords[T any](stdout, stderr io.Writer, format string, recs []T, columns []string) int {
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if recs == nil {
			recs = []T{}
		}
		_ = enc.Encode(recs)
	case "list":
		for _, r := range recs {
			v := reflect.ValueOf(r)
			t := v.Type()
			width := 0
			for i := 0; i < t.NumField(); i++ {
				width = max(width, len(t.Field(i).Name))
			}
			for i := 0; i < t.NumField(); i++ {
				if t.Field(i).IsExported() {
					fmt.Fprintf(stdout, "%-*s : %s\n", width, t.Field(i).Name, formatValue(v.Field(i).Interface()))
				}
			}
			fmt.Fprintln(stdout)
		}
	case "table":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(columns, "\t"))
		for _, r := range recs {
			v := reflect.ValueOf(r)
			var cells []string
			for _, c := range columns {
				cells = append(cells, formatValue(v.FieldByName(c).Interface()))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
	default:
		return errorf(stderr, "--format: %q is not table, list or json", format)
	}
	return 0
}

func formatValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.Local().Format("02-01-2006 15:04:05")
	case []string:
		return "{" + strings.Join(x, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// exlab tracking search: Get-MessageTrackingLog over the message tracking log files.
func cmdTracking(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "search" {
		fmt.Fprint(stderr, "Usage: exlab tracking search [--data DIR | --path DIR] [--sender A] [--recipient A] [--start T] [--end T] "+
			"[--event-id ID] [--message-id ID] [--format table|list|json]\n")
		return 2
	}
	fs := newFlagSet("tracking search", stderr, "tracking search [flags]")
	dataDir := fs.String("data", "./exlab-data", "data directory of the server (its TransportRoles/Logs/MessageTracking)")
	path := fs.String("path", "", "the tracking log directory, when MessageTrackingLogPath moved it")
	sender := fs.String("sender", "", "sender address")
	recipient := fs.String("recipient", "", "recipient address")
	start := fs.String("start", "", "from this time (2006-01-02, 2006-01-02 15:04:05 local, or RFC 3339)")
	end := fs.String("end", "", "until this time (same forms)")
	eventID := fs.String("event-id", "", "RECEIVE, DELIVER, SEND, FAIL, DEFER, DSN, POISONMESSAGE …")
	messageID := fs.String("message-id", "", "Message-ID header (with <>) or InternalMessageId")
	format := fs.String("format", "table", "table, list (every field) or json")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return 2
	}
	var t0, t1 time.Time
	for _, x := range []struct {
		flag string
		in   string
		out  *time.Time
	}{{"--start", *start, &t0}, {"--end", *end, &t1}} {
		if x.in == "" {
			continue
		}
		t, err := parseTime(x.in)
		if err != nil {
			return errorf(stderr, "%s: %v", x.flag, err)
		}
		*x.out = t
	}
	dir := *path
	if dir == "" {
		dir = filepath.Join(*dataDir, trackingDir)
	}
	entries, err := transport.SearchTracking(dir, *sender, *recipient, *eventID, *messageID, t0, t1)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if entries == nil {
			entries = []transport.TrackingEntry{}
		}
		_ = enc.Encode(entries)
	case "list":
		for _, e := range entries {
			for _, f := range transport.TrackingFields {
				fmt.Fprintf(stdout, "%-25s : %s\n", f, e[f])
			}
			fmt.Fprintln(stdout)
		}
	case "table":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "Timestamp\tEventId\tSource\tSender\tRecipients\tMessageSubject")
		for _, e := range entries {
			ts := e["date-time"]
			if t, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err == nil {
				ts = t.Local().Format("02-01-2006 15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t{%s}\t%s\n", ts, e["event-id"], e["source"], e["sender-address"],
				strings.ReplaceAll(e["recipient-address"], ";", ", "), e["message-subject"])
		}
		tw.Flush()
	default:
		return errorf(stderr, "--format: %q is not table, list or json", *format)
	}
	return 0
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		loc := time.Local
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2006-01-02, 2006-01-02 15:04:05 or RFC 3339)", s)
}
