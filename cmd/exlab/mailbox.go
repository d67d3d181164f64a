package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/format"
	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/queue"
)

// exlab mailbox list/show/clear: through the running server's /api/v1 (svc.MailboxView),
// or from the data directory when no server runs.
func (a *app) mailboxCmd() *cobra.Command {
	c := group("mailbox", "the delivered messages")
	var dataDir string
	var id uint64
	var asJSON bool
	open := func(write bool) (*svc.MailboxView, error) { return svc.OpenMailboxes(dataDir, write) }
	list := &cobra.Command{Use: "list [ADDRESS]", Short: "list the delivered messages (all mailboxes, or the one an address belongs to)",
		Args: cobra.MaximumNArgs(1), RunE: runE(func(args []string) error {
			v, err := open(false)
			if err != nil {
				return err
			}
			defer v.Close()
			items, err := v.List(strings.Join(args, ""), id)
			if err != nil {
				return err
			}
			if asJSON {
				format.WriteJSON(a.stdout, append([]queue.MailboxItem{}, items...))
			} else {
				format.Mailbox(a.stdout, items)
			}
			return nil
		})}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show := &cobra.Command{Use: "show ADDRESS", Short: "print the delivered messages of a mailbox, headers and body as stored",
		Args: cobra.ExactArgs(1), RunE: runE(func(args []string) error {
			v, err := open(false)
			if err != nil {
				return err
			}
			defer v.Close()
			items, err := v.List(args[0], id)
			if err != nil {
				return err
			}
			if len(items) == 0 {
				fmt.Fprintf(a.stdout, "no messages for %s\n", args[0])
			}
			for i, it := range items {
				c, err := v.Content(it)
				if errors.Is(err, queue.ErrNotFound) {
					continue // deleted meanwhile
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
		})}
	clear := &cobra.Command{Use: "clear [ADDRESS]", Short: "delete the delivered messages (all mailboxes, or the one an address belongs to)",
		Args: cobra.MaximumNArgs(1), RunE: runE(func(args []string) error {
			v, err := open(true)
			if err != nil {
				return err
			}
			defer v.Close()
			n, err := v.Clear(strings.Join(args, ""))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%d message(s) deleted\n", n)
			return nil
		})}
	for _, s := range []*cobra.Command{list, show} {
		s.Flags().Uint64Var(&id, "id", 0, "only the message with this InternalMessageId")
	}
	for _, s := range []*cobra.Command{list, show, clear} {
		dataFlag(s, &dataDir, "data directory of the server")
		c.AddCommand(s)
	}
	return c
}
