package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/format"
	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
)

// exlab queue …, exlab message …: Get-Queue, Get-Message, Retry-Queue and
// Suspend-/Resume-/Remove-Message against a running hub (its admin listener), or, for the get
// commands, the data directory of a stopped one.

// stored is where the get commands read a stopped server: its organization and data directory.
type stored struct{ dataDir, cfgPath, serverName string }

func (s *stored) flags(c *cobra.Command) {
	dataFlag(c, &s.dataDir, "data directory of the server")
	c.Flags().StringVar(&s.cfgPath, "config", "", "organization file, when the server is stopped (default: the embedded one)")
	c.Flags().StringVar(&s.serverName, "server", "", "server of the organization, when the server is stopped")
}

// adminError words a refusal of the admin listener: a 404 names what was not found.
func adminError(err error, identity string) error {
	if errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("%q was not found (exlab queue get and exlab message get list the identities)", identity)
	}
	return err
}

func (a *app) queueCmd() *cobra.Command {
	c := group("queue", "Get-Queue and Retry-Queue")
	var s stored
	var form string
	get := &cobra.Command{Use: "get", Short: "Get-Queue: every queue, from the running hub or a stopped one's data directory", Args: cobra.NoArgs}
	get.RunE = runE(func([]string) error {
		var qs []transport.QueueInfo
		var err error
		if cl := adminapi.Dial(s.dataDir); cl != nil {
			qs, err = cl.Queues()
		} else {
			qs, _, err = svc.StoredQueues(s.dataDir, s.cfgPath, s.serverName, "")
		}
		if err != nil {
			return err
		}
		return format.Records(a.stdout, outputFormat(get, form), qs, []string{"Identity", "DeliveryType", "Status", "MessageCount", "NextHopDomain", "LastError"})
	})
	s.flags(get)
	formatFlags(get, &form, "table", "table (Get-Queue), list (Format-List) or json")
	var dataDir string
	var resubmit bool
	retry := &cobra.Command{Use: "retry IDENTITY", Short: "Retry-Queue: attempt the queue's messages now", Args: cobra.ExactArgs(1),
		RunE: runE(func(args []string) error {
			cl, err := svc.Running(dataDir, "queue retry")
			if err != nil {
				return err
			}
			n, err := cl.RetryQueue(args[0], adminapi.RetryModeOf(resubmit))
			if err != nil {
				return adminError(err, args[0])
			}
			fmt.Fprintf(a.stdout, "%s: %d message(s) to be attempted now\n", args[0], n)
			return nil
		})}
	dataFlag(retry, &dataDir, "data directory of the running server")
	retry.Flags().BoolVar(&resubmit, "resubmit", false, "route the messages again from scratch (needed for the Unreachable queue)")
	c.AddCommand(get, retry)
	return c
}

func (a *app) messageCmd() *cobra.Command {
	c := group("message", "Get-Message, Suspend-Message, Resume-Message, Remove-Message")
	var s stored
	var form, queueID string
	get := &cobra.Command{Use: "get", Short: "Get-Message: the messages of every queue, or of one", Args: cobra.NoArgs}
	get.RunE = runE(func([]string) error {
		var ms []transport.MessageInfo
		var err error
		if cl := adminapi.Dial(s.dataDir); cl != nil {
			if ms, err = cl.Messages(queueID); err != nil {
				err = adminError(err, queueID)
			}
		} else {
			_, ms, err = svc.StoredQueues(s.dataDir, s.cfgPath, s.serverName, queueID)
		}
		if err != nil {
			return err
		}
		return format.Records(a.stdout, outputFormat(get, form), ms, []string{"Identity", "FromAddress", "Status", "Queue", "Subject"})
	})
	s.flags(get)
	get.Flags().StringVar(&queueID, "queue", "", "only the messages of this queue (EX01\\Submission, EX01\\Unreachable, EX01\\<number>, EX01\\<NextHopDomain>)")
	formatFlags(get, &form, "table", "table (Get-Message), list (Format-List) or json")
	c.AddCommand(get)
	for _, x := range []struct{ verb, done, short string }{{"suspend", "suspended", "Suspend-Message"},
		{"resume", "resumed", "Resume-Message (also releases a poison message)"}, {"remove", "removed", "Remove-Message"}} {
		var dataDir string
		var withNDR bool
		sub := &cobra.Command{Use: x.verb + " IDENTITY", Short: x.short, Args: cobra.ExactArgs(1), RunE: runE(func(args []string) error {
			cl, err := svc.Running(dataDir, "message "+x.verb)
			if err != nil {
				return err
			}
			if err := cl.MessageAction(x.verb, args[0], adminapi.NDRChoiceOf(withNDR)); err != nil {
				return adminError(err, args[0])
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", args[0], x.done)
			return nil
		})}
		dataFlag(sub, &dataDir, "data directory of the running server")
		if x.verb == "remove" {
			sub.Flags().BoolVar(&withNDR, "with-ndr", false, "send the sender an NDR for the recipients still waiting")
		}
		c.AddCommand(sub)
	}
	return c
}
