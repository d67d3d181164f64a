package adminapi_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/config"
)

// lockedBuffer is the server's stderr, read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Example_testSuite is what a test suite does with exlab: start it in process (server.Run,
// every binding on an ephemeral loopback port), send a message with go-smtp, wait for it
// through the API, assert on the parsed message, clean up.
func Example_testSuite() {
	dir, _ := os.MkdirTemp("", "exlab-example")
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "org.yaml")
	org := regexp.MustCompile(`(?m)^(\s*)Bindings: .*$`).ReplaceAllString(string(config.DefaultYAML), `${1}Bindings: ["127.0.0.1:0"]`)
	_ = os.WriteFile(cfg, []byte(org), 0o600)
	data := filepath.Join(dir, "data")

	ctx, stop := context.WithCancel(context.Background())
	stderr := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{ConfigPath: cfg, DataDir: data, Admin: "127.0.0.1:0", LogLevel: "warn",
			Frontend: true, Hub: true, Stderr: stderr})
	}()
	defer func() { stop(); <-done }()
	// The frontend's port 25 connector, once every connector listens.
	var smtpAddr string
	for deadline := time.Now().Add(30 * time.Second); smtpAddr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(stderr.String(), "every connector listens") {
			m := regexp.MustCompile(`Default Frontend EX01 listening on (\S+)`).FindStringSubmatch(stderr.String())
			smtpAddr = m[1]
		}
	}
	client := adminapi.Dial(data) // the admin listener's address and token are in the data directory

	since := time.Now()
	msg := "From: a@example.org\r\nTo: user1@contoso.test\r\nSubject: =?utf-8?q?Bestellbest=C3=A4tigung?=\r\n" +
		"Message-ID: <order-42@example.org>\r\n\r\nYour order 42 has shipped.\r\n"
	// Plain SMTP (smtp.SendMail would insist on STARTTLS with a certificate it can verify;
	// exlab's is self-signed, as a fresh Exchange server's is).
	c, err := smtp.Dial(smtpAddr)
	if err == nil {
		err = c.SendMail("a@example.org", []string{"user1@contoso.test"}, strings.NewReader(msg))
		_ = c.Quit()
	}
	if err != nil {
		fmt.Println("send:", err)
	}

	got, err := client.WaitMessage(ctx, adminapi.Filter{Mailbox: "user1@contoso.test", Since: since}, 10*time.Second)
	if err != nil {
		fmt.Println("wait:", err)
	}
	full, err := client.Message(ctx, got.ID, got.Mailbox)
	if err != nil {
		fmt.Println("message:", err)
		return
	}
	fmt.Println(full.Subject)
	fmt.Println(full.MessageID, full.Root.ContentType, strings.TrimSpace(*full.Root.Text))
	n, _ := client.DeleteMessages(ctx, "user1@contoso.test")
	fmt.Println("deleted", n)
	// Output:
	// Bestellbestätigung
	// <order-42@example.org> text/plain Your order 42 has shipped.
	// deleted 1
}
