package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/exlab/exlab/bench"
	"github.com/exlab/exlab/cmd/format"
)

// benchCmd is the load generator (package bench) on any SMTP server.
func (a *app) benchCmd() *cobra.Command {
	var o bench.Options
	var asJSON bool
	var expect string
	var idle int
	c := &cobra.Command{Use: "bench", Short: "load generator for any SMTP server (--idle N: hold idle sessions and time new ones)", Args: cobra.NoArgs}
	c.RunE = runE(func([]string) error {
		if o.Duration > 0 && !c.Flags().Changed("messages") {
			o.Messages = 0 // --duration alone: run for the time, not a count
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		if idle > 0 {
			if o.Duration == 0 {
				o.Duration = 10 * time.Second
			}
			res, err := bench.Hold(ctx, bench.HoldOptions{Target: o.Target, Sessions: idle, Duration: o.Duration, Timeout: o.Timeout})
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(res)
			}
			format.Hold(a.stdout, res)
			return nil
		}
		if st, err := os.Stdout.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && a.stdout == os.Stdout && !asJSON {
			o.Progress = os.Stdout
		}
		var exps []bench.Expectation
		if expect != "" {
			var err error
			if exps, err = bench.ParseExpect(expect); err != nil {
				return fmt.Errorf("--expect: %v", err)
			}
		}
		res, err := bench.Run(ctx, o)
		if err != nil {
			return err
		}
		if asJSON {
			format.WriteJSON(a.stdout, res)
		} else {
			res.Print(a.stdout)
		}
		if exps != nil {
			lines, ok := res.Check(exps)
			for _, l := range lines {
				fmt.Fprintln(a.stderr, l)
			}
			if !ok {
				return exitCode(1)
			}
		}
		return nil
	})
	f := c.Flags()
	f.StringVar(&o.Target, "target", "", "SMTP server to load, host:port")
	f.IntVar(&o.Sessions, "sessions", 20, "parallel connections (with --rate: the most at once)")
	f.IntVar(&o.Messages, "messages", 1000, "total messages (0, or --duration: run for a time instead)")
	f.DurationVar(&o.Duration, "duration", 0, "run this long instead of sending a message count")
	f.IntVar(&o.PerSession, "per-session", 20, "messages per connection (1 = a new connection for each message)")
	f.IntVar(&o.Size, "size", 1024, "message size in bytes")
	f.IntVar(&o.Rcpts, "rcpts", 1, "recipients per message")
	f.StringVar(&o.From, "from", "bench@bench.test", "envelope sender")
	f.StringVar(&o.To, "to", "user1@contoso.test", "recipient pattern; {n} becomes a running number (user{n}@contoso.test)")
	f.StringVar(&o.Helo, "helo", "bench.test", "EHLO name")
	f.BoolVar(&o.StartTLS, "starttls", false, "STARTTLS after EHLO (certificates are not verified)")
	f.StringVar(&o.Auth, "auth", "", "USER:PASS: AUTH LOGIN after EHLO (and STARTTLS)")
	f.BoolVar(&o.Chunking, "chunking", false, "send the body with BDAT instead of DATA")
	f.Float64Var(&o.Rate, "rate", 0, "open loop: start messages at this many per second, whatever the server's pace")
	f.DurationVar(&o.Timeout, "timeout", 0, "per-command timeout (default 30s)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&expect, "expect", "", `conditions on the replies, e.g. "250 2.6.0=10,421 4.4.2>=1,5xx=0": exit 1 when one fails`)
	f.IntVar(&idle, "idle", 0, "hold this many idle sessions open for --duration instead, timing new sessions meanwhile")
	return c
}
