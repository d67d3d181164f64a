package main

import (
	"path/filepath"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/probe"
	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/queue"
)

// queueDirect puts one pending message for rcpt into the queue database in dir.
func queueDirect(dir, rcpt, body string) error {
	st, err := queue.Open(filepath.Join(dir, queueDir), queue.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := st.NextID()
	if err != nil {
		return err
	}
	m := &queue.Message{ID: id, MessageID: "<queued@example.org>", Subject: "left behind", From: "a@example.org",
		Recipients: []queue.Recipient{{Address: rcpt, Status: queue.StatusPending}}, Size: int64(len(body)),
		Arrived: time.Now().UTC(), HeaderEnd: int64(len("Subject: left behind\r\n"))}
	return st.Submit(queue.Submission{Message: m, Body: []byte(body)})
}

// probeResult is what the end-to-end tests decode exlab probe --json into.
type probeResult = probe.Result

// The data directory layout and admin files under the names the end-to-end tests use.
const (
	queueDir    = svc.QueueDir
	trackingDir = svc.TrackingDir
	certDir     = svc.CertDir
	adminAddr   = adminapi.AddrFile
)
