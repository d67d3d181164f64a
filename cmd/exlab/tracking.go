package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/format"
	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/transport"
)

// exlab tracking search: Get-MessageTrackingLog over the message tracking log files.
func (a *app) trackingCmd() *cobra.Command {
	c := group("tracking", "the message tracking log")
	var dataDir, path, sender, recipient, start, end, eventID, messageID, form string
	search := &cobra.Command{Use: "search", Short: "Get-MessageTrackingLog: through the running server, or over the tracking log files", Args: cobra.NoArgs}
	search.RunE = runE(func([]string) error {
		t0, err := svc.ParseTime(start)
		if err != nil {
			return fmt.Errorf("--start: %v", err)
		}
		t1, err := svc.ParseTime(end)
		if err != nil {
			return fmt.Errorf("--end: %v", err)
		}
		var entries []transport.TrackingEntry
		// The running server of --data answers through its API (it knows where
		// MessageTrackingLogPath put the logs); without one, or with --path, the files are read.
		if cl := adminapi.Dial(dataDir); cl != nil && path == "" {
			entries, err = cl.SearchTracking(context.Background(), adminapi.TrackingQuery{Sender: sender, Recipient: recipient,
				EventID: eventID, MessageID: messageID, Start: t0, End: t1})
		} else {
			dir := path
			if dir == "" {
				dir = filepath.Join(dataDir, svc.TrackingDir)
			}
			entries, err = transport.SearchTracking(dir, sender, recipient, eventID, messageID, t0, t1)
		}
		if err != nil {
			return err
		}
		return format.Tracking(a.stdout, outputFormat(search, form), entries)
	})
	f := search.Flags()
	dataFlag(search, &dataDir, "data directory of the server (its TransportRoles/Logs/MessageTracking)")
	f.StringVar(&path, "path", "", "the tracking log directory, when MessageTrackingLogPath moved it")
	f.StringVar(&sender, "sender", "", "sender address")
	f.StringVar(&recipient, "recipient", "", "recipient address")
	f.StringVar(&start, "start", "", "from this time (2006-01-02, 2006-01-02 15:04:05 local, or RFC 3339)")
	f.StringVar(&end, "end", "", "until this time (same forms)")
	f.StringVar(&eventID, "event-id", "", "RECEIVE, DELIVER, SEND, FAIL, DEFER, DSN, POISONMESSAGE …")
	f.StringVar(&messageID, "message-id", "", "Message-ID header (with <>) or InternalMessageId")
	formatFlags(search, &form, "table", "table, list (every field) or json")
	c.AddCommand(search)
	return c
}
