package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	var report, ramp string
	var p99Bound time.Duration
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
		if ramp != "" {
			r, err := bench.ParseRamp(ramp)
			if err != nil {
				return fmt.Errorf("--ramp: %v", err)
			}
			var progress io.Writer
			if !asJSON {
				progress = a.stdout
				bench.PrintRampHeader(a.stdout, p99Bound)
			}
			o.Progress = nil
			rr, err := bench.RunRamp(ctx, o, r, p99Bound, progress)
			if err != nil {
				return err
			}
			if asJSON {
				format.WriteJSON(a.stdout, rr)
			} else {
				rr.PrintKnee(a.stdout)
			}
			if rr.Knee < 0 {
				return exitCode(1)
			}
			return nil
		}
		res, err := bench.Run(ctx, o)
		if err != nil {
			return err
		}
		return a.benchResult(res, asJSON, report, exps)
	})
	c.AddCommand(a.benchMergeCmd())
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
	f.StringVar(&report, "report", "", "also write a self-contained HTML page: throughput and per-phase p50/p99 over time, the reply mix")
	f.StringVar(&ramp, "ramp", "", "START:STEP:MAX[:HOLD]: open-loop steps of offered msgs/s, each HOLD long (default 5s), up to the knee")
	f.DurationVar(&p99Bound, "p99-bound", 50*time.Millisecond, "--ramp: a step holds while the p99 from schedule to the final reply after data stays under this, with no failure")
	return c
}

// benchResult prints a result (text or JSON), its warnings, the --report page, the
// expectations, and turns them into the exit status (bench.Result.Exit).
func (a *app) benchResult(res *bench.Result, asJSON bool, report string, exps []bench.Expectation) error {
	if asJSON {
		format.WriteJSON(a.stdout, res)
	} else {
		res.Print(a.stdout)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.stderr, "warning:", w)
	}
	if report != "" {
		f, err := os.Create(report)
		if err != nil {
			return err
		}
		err = bench.WriteReport(f, res)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--report: %v", err)
		}
	}
	code, lines := res.Exit(exps)
	for _, l := range lines {
		fmt.Fprintln(a.stderr, l)
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// benchMergeCmd merges the --json results of several runs (several machines loading one
// server at once) into one, losslessly (bench.Merge).
func (a *app) benchMergeCmd() *cobra.Command {
	var asJSON bool
	var report, expect string
	c := &cobra.Command{Use: "merge A.json B.json ...", Short: "merge the --json results of several bench runs (several machines) into one", Args: cobra.MinimumNArgs(1)}
	c.RunE = runE(func(args []string) error {
		var runs []*bench.Result
		for _, name := range args {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			r, err := bench.ReadResult(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			runs = append(runs, r)
		}
		res, err := bench.Merge(runs...)
		if err != nil {
			return err
		}
		var exps []bench.Expectation
		if expect != "" {
			if exps, err = bench.ParseExpect(expect); err != nil {
				return fmt.Errorf("--expect: %v", err)
			}
		}
		return a.benchResult(res, asJSON, report, exps)
	})
	f := c.Flags()
	f.BoolVar(&asJSON, "json", false, "print the merged result as JSON (which merges again)")
	f.StringVar(&report, "report", "", "also write the merged result as a self-contained HTML page")
	f.StringVar(&expect, "expect", "", "conditions on the merged replies, as bench --expect")
	return c
}
