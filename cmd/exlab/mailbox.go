package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exlab/exlab/queue"
)

// mailboxSource reads mailboxes from a running server (admin listener) or, when none runs,
// from the data directory itself.
type mailboxSource interface {
	items() ([]queue.MailboxItem, error)
	content(mailbox string, id uint64) ([]byte, error)
	close()
}

type adminSource struct{ c *adminClient }

func (s adminSource) items() ([]queue.MailboxItem, error) {
	b, err := s.c.get("/mailbox")
	if err != nil {
		return nil, err
	}
	var items []queue.MailboxItem
	return items, json.Unmarshal(b, &items)
}

func (s adminSource) content(mailbox string, id uint64) ([]byte, error) {
	return s.c.get("/mailbox/content?mailbox=" + url.QueryEscape(mailbox) + "&id=" + strconv.FormatUint(id, 10))
}

func (s adminSource) close() {}

type storeSource struct{ st *queue.Store }

func (s storeSource) items() ([]queue.MailboxItem, error) { return s.st.MailboxItems("") }
func (s storeSource) content(mailbox string, id uint64) ([]byte, error) {
	_, c, err := s.st.MailboxContent(mailbox, id)
	return c, err
}
func (s storeSource) close() { _ = s.st.Close() }

func openMailboxes(dir string) (mailboxSource, error) {
	if c := dialAdmin(dir); c != nil {
		return adminSource{c}, nil
	}
	st, err := queue.Open(filepath.Join(dir, queueDir), queue.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("no running server answers for %s and its queue database cannot be read: %v", dir, err)
	}
	return storeSource{st}, nil
}

// matches says whether an item belongs to the mailbox named by addr (its primary address or
// an address the message was sent to).
func matches(it queue.MailboxItem, addr string) bool {
	if addr == "" || strings.EqualFold(it.Mailbox, addr) {
		return true
	}
	for _, t := range it.To {
		if strings.EqualFold(t, addr) {
			return true
		}
	}
	return false
}

func cmdMailbox(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		fmt.Fprint(stderr, "Usage: exlab mailbox list [--data DIR] [ADDRESS]\n       exlab mailbox show ADDRESS [--data DIR] [--id N]\n")
		return 2
	}
	sub := args[0]
	fs := newFlagSet("mailbox "+sub, stderr, "mailbox "+sub+" [ADDRESS] [--data DIR]")
	dataDir := fs.String("data", "./exlab-data", "data directory of the server")
	id := fs.Uint64("id", 0, "show: only the message with this InternalMessageId")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	addr := ""
	if len(pos) > 0 {
		addr = pos[0]
	}
	if sub == "show" && addr == "" {
		return errorf(stderr, "mailbox show: which mailbox? (exlab mailbox show ADDRESS)")
	}
	src, err := openMailboxes(*dataDir)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer src.close()
	all, err := src.items()
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	var items []queue.MailboxItem
	for _, it := range all {
		if matches(it, addr) && (*id == 0 || it.ID == *id) {
			items = append(items, it)
		}
	}
	if sub == "list" {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "Mailbox\tInternalMessageId\tReceived\tSender\tSubject\tSize")
		for _, it := range items {
			from := it.From
			if from == "" {
				from = "<>"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\n", it.Mailbox, it.ID, it.Received.Local().Format(time.DateTime), from, it.Subject, it.Size)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d message(s)\n", len(items))
		return 0
	}
	if len(items) == 0 {
		fmt.Fprintf(stdout, "no messages for %s\n", addr)
		return 0
	}
	for i, it := range items {
		c, err := src.content(it.Mailbox, it.ID)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		} else if err != nil {
			return errorf(stderr, "%v", err)
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "==== %s InternalMessageId %d %s (%d bytes)\n", it.Mailbox, it.ID, it.MessageID, it.Size)
		_, _ = stdout.Write(c)
	}
	return 0
}
