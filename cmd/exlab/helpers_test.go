package main

import (
	"path/filepath"
	"time"

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
