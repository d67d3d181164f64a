// Package format prints exlab's records the way PowerShell's Format-Table and Format-List
// print Exchange's (Get-Queue, Get-Message, Get-MessageTrackingLog …), or as JSON. It owns
// only presentation: the records come from transport, queue, routing, cmd/probe and
// cmd/adminapi, and cmd/exlab picks the format from --format and --json.
package format

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exlab/exlab/bench"
	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/probe"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport"
)

// Formats of Records and Tracking.
const (
	Table = "table"
	List  = "list"
	JSON  = "json"
)

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func badFormat(f string) error { return fmt.Errorf("--format: %q is not table, list or json", f) }

// Records prints a slice of structs as a table of columns (Format-Table), every field
// (Format-List) or JSON (an empty list as []).
func Records[T any](w io.Writer, format string, recs []T, columns []string) error {
	switch format {
	case JSON:
		WriteJSON(w, append([]T{}, recs...))
	case List:
		for _, r := range recs {
			v := reflect.ValueOf(r)
			t := v.Type()
			width := 0
			for i := 0; i < t.NumField(); i++ {
				width = max(width, len(t.Field(i).Name))
			}
			for i := 0; i < t.NumField(); i++ {
				if t.Field(i).IsExported() {
					fmt.Fprintf(w, "%-*s : %s\n", width, t.Field(i).Name, Value(v.Field(i).Interface()))
				}
			}
			fmt.Fprintln(w)
		}
	case Table:
		rows := make([][]string, len(recs))
		for i, r := range recs {
			v := reflect.ValueOf(r)
			for _, c := range columns {
				rows[i] = append(rows[i], Value(v.FieldByName(c).Interface()))
			}
		}
		table(w, columns, rows)
	default:
		return badFormat(format)
	}
	return nil
}

// Value is one field as Format-Table shows it: times local as dd-MM-yyyy HH:mm:ss, lists in
// braces.
func Value(v any) string {
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

func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// Tracking prints message tracking entries (Get-MessageTrackingLog): the usual columns, every
// field, or JSON.
func Tracking(w io.Writer, format string, entries []transport.TrackingEntry) error {
	switch format {
	case JSON:
		WriteJSON(w, append([]transport.TrackingEntry{}, entries...))
	case List:
		for _, e := range entries {
			for _, f := range transport.TrackingFields {
				fmt.Fprintf(w, "%-25s : %s\n", f, e[f])
			}
			fmt.Fprintln(w)
		}
	case Table:
		var rows [][]string
		for _, e := range entries {
			ts := e["date-time"]
			if t, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err == nil {
				ts = t.Local().Format("02-01-2006 15:04:05")
			}
			rows = append(rows, []string{ts, e["event-id"], e["source"], e["sender-address"],
				"{" + strings.ReplaceAll(e["recipient-address"], ";", ", ") + "}", e["message-subject"]})
		}
		table(w, []string{"Timestamp", "EventId", "Source", "Sender", "Recipients", "MessageSubject"}, rows)
	default:
		return badFormat(format)
	}
	return nil
}

// Faults prints the fault rules as a table ("no fault rules" when there are none) or JSON.
func Faults(w io.Writer, format string, rules []adminapi.Fault) error {
	switch {
	case format == JSON:
		return json.NewEncoder(w).Encode(append([]adminapi.Fault{}, rules...))
	case format != Table:
		return fmt.Errorf("--format: %q is not table or json", format)
	case len(rules) == 0:
		fmt.Fprintln(w, "no fault rules")
		return nil
	}
	cols := []string{"Name", "Connector", "Step", "Action", "Detail", "Probability", "Count", "Fired", "Match"}
	rows := make([][]string, len(rules))
	for i, r := range rules {
		for _, c := range cols {
			rows[i] = append(rows[i], r.Column(c))
		}
	}
	table(w, cols, rows)
	return nil
}

// Mailbox lists delivered messages, then how many.
func Mailbox(w io.Writer, items []queue.MailboxItem) {
	rows := make([][]string, len(items))
	for i, it := range items {
		from := it.From
		if from == "" {
			from = "<>"
		}
		rows[i] = []string{it.Mailbox, fmt.Sprint(it.ID), it.Received.Local().Format(time.DateTime), from, it.Subject, fmt.Sprint(it.Size)}
	}
	table(w, []string{"Mailbox", "InternalMessageId", "Received", "Sender", "Subject", "Size"}, rows)
	fmt.Fprintf(w, "%d message(s)\n", len(items))
}

// Probe prints exlab probe's results, one binding a row with its verdict.
func Probe(w io.Writer, results []probe.Result) {
	rows := make([][]string, len(results))
	for i, r := range results {
		owner, verdict, connector, listening := "-", "ok", r.Connector, "no"
		if r.OwnerPID != 0 {
			owner = fmt.Sprintf("%d %s", r.OwnerPID, r.Owner)
		}
		if len(r.Problems) > 0 {
			verdict = strings.Join(r.Problems, "; ")
		}
		if connector == "" {
			connector = "-"
		}
		if r.Listening {
			listening = "yes"
		}
		rows[i] = []string{r.Binding, connector, listening, owner, fmt.Sprintf("%d/%d", r.Answered, r.Sessions), fmt.Sprint(len(r.Listeners)), verdict}
	}
	table(w, []string{"Binding", "Connector", "Listening", "Owner", "Answered", "Listeners", "Verdict"}, rows)
}

// Relays prints the open-relay audit.
func Relays(w io.Writer, findings []routing.RelayFinding) {
	if len(findings) == 0 {
		fmt.Fprintln(w, "no receive connector lets anonymous clients relay")
		return
	}
	rows := make([][]string, len(findings))
	for i, f := range findings {
		verdict := "relay limited to these ranges"
		if len(f.Problems) > 0 {
			verdict = strings.Join(f.Problems, "; ")
		}
		rows[i] = []string{f.Connector, strings.Join(f.Bindings, ","), strings.Join(f.RemoteIPRanges, ","), f.How, verdict}
	}
	table(w, []string{"Connector", "Bindings", "RemoteIPRanges", "How", "Verdict"}, rows)
}

// Hold prints what exlab bench --idle saw.
func Hold(w io.Writer, res *bench.HoldResult) {
	fmt.Fprintf(w, "held %d idle sessions (%d failed, %d refused); open p50 %s p99 %s; new sessions meanwhile: n=%d p50 %s p99 %s max %s\n",
		res.Opened, res.Failed, res.Refused, res.Open.P50, res.Open.P99, res.Probe.N, res.Probe.P50, res.Probe.P99, res.Probe.Max)
}
