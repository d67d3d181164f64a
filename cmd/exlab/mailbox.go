package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/format"
	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport/smtpwire"
)

func (a *app) mailboxCmd() *cobra.Command {
	c := group("mailbox", "the delivered messages")
	var dataDir string
	var id uint64
	var asJSON bool
	// each runs f on the messages of addr ("" for all) with the given --id (0 for any).
	each := func(addr string, f func(mb adminapi.Mailboxes, items []queue.MailboxItem) error) error {
		mb, closeFn, err := svc.Mailboxes(dataDir)
		if err != nil {
			return err
		}
		defer closeFn()
		all, err := mb.MailboxItems("")
		if err != nil {
			return err
		}
		var out []queue.MailboxItem
		for _, it := range all {
			if svc.InMailbox(it, addr) && (id == 0 || it.ID == id) {
				// The subject as stored is the header's value; shown as Outlook shows it (the
				// admin listener's answer is decoded already).
				if _, viaServer := mb.(*adminapi.Client); !viaServer {
					it.Subject = smtpwire.DecodeSubject(it.Subject)
				}
				out = append(out, it)
			}
		}
		return f(mb, out)
	}
	list := &cobra.Command{Use: "list [ADDRESS]", Short: "list the delivered messages (all mailboxes, or the one an address belongs to)",
		Args: cobra.MaximumNArgs(1), RunE: runE(func(args []string) error {
			return each(strings.Join(args, ""), func(_ adminapi.Mailboxes, items []queue.MailboxItem) error {
				if asJSON {
					format.WriteJSON(a.stdout, append([]queue.MailboxItem{}, items...))
				} else {
					format.Mailbox(a.stdout, items)
				}
				return nil
			})
		})}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show := &cobra.Command{Use: "show ADDRESS", Short: "print the delivered messages of a mailbox, headers and body as stored",
		Args: cobra.ExactArgs(1), RunE: runE(func(args []string) error {
			return each(args[0], func(mb adminapi.Mailboxes, items []queue.MailboxItem) error {
				if len(items) == 0 {
					fmt.Fprintf(a.stdout, "no messages for %s\n", args[0])
				}
				for i, it := range items {
					_, c, err := mb.MailboxContent(it.Mailbox, it.ID)
					if errors.Is(err, queue.ErrNotFound) {
						continue
					} else if err != nil {
						return err
					}
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					fmt.Fprintf(a.stdout, "==== %s InternalMessageId %d %s (%d bytes)\n", it.Mailbox, it.ID, it.MessageID, it.Size)
					_, _ = a.stdout.Write(c)
				}
				return nil
			})
		})}
	for _, s := range []*cobra.Command{list, show} {
		dataFlag(s, &dataDir, "data directory of the server")
		s.Flags().Uint64Var(&id, "id", 0, "only the message with this InternalMessageId")
		c.AddCommand(s)
	}
	return c
}
