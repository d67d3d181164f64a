package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/exlab/exlab/bench"
)

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", stderr, "bench --target HOST:PORT [flags]")
	var o bench.Options
	fs.StringVar(&o.Target, "target", "", "SMTP server to load, host:port")
	fs.IntVar(&o.Sessions, "sessions", 20, "parallel connections (with --rate: the most at once)")
	fs.IntVar(&o.Messages, "messages", 1000, "total messages (0, or --duration: run for a time instead)")
	fs.DurationVar(&o.Duration, "duration", 0, "run this long instead of sending a message count")
	fs.IntVar(&o.PerSession, "per-session", 20, "messages per connection (1 = a new connection for each message)")
	fs.IntVar(&o.Size, "size", 1024, "message size in bytes")
	fs.IntVar(&o.Rcpts, "rcpts", 1, "recipients per message")
	fs.StringVar(&o.From, "from", "bench@bench.test", "envelope sender")
	fs.StringVar(&o.To, "to", "user1@contoso.test", "recipient pattern; {n} becomes a running number (user{n}@contoso.test)")
	fs.StringVar(&o.Helo, "helo", "bench.test", "EHLO name")
	fs.BoolVar(&o.StartTLS, "starttls", false, "STARTTLS after EHLO (certificates are not verified)")
	fs.StringVar(&o.Auth, "auth", "", "USER:PASS: AUTH PLAIN after EHLO (and STARTTLS)")
	fs.BoolVar(&o.Chunking, "chunking", false, "send the body with BDAT instead of DATA")
	fs.Float64Var(&o.Rate, "rate", 0, "open loop: start messages at this many per second, whatever the server's pace")
	fs.DurationVar(&o.Timeout, "timeout", 0, "per-command timeout (default 30s)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	expect := fs.String("expect", "", `conditions on the replies, e.g. "250 2.6.0=10,421 4.4.2>=1,5xx=0": exit 1 when one fails`)
	idle := fs.Int("idle", 0, "hold this many idle sessions open for --duration instead, timing new sessions meanwhile")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	messagesSet := false
	fs.Visit(func(f *flag.Flag) { messagesSet = messagesSet || f.Name == "messages" })
	if o.Duration > 0 && !messagesSet {
		o.Messages = 0 // --duration alone: run for the time, not a count
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *idle > 0 {
		if o.Duration == 0 {
			o.Duration = 10 * time.Second
		}
		res, err := bench.Hold(ctx, bench.HoldOptions{Target: o.Target, Sessions: *idle, Duration: o.Duration, Timeout: o.Timeout})
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(res)
			return 0
		}
		fmt.Fprintf(stdout, "held %d idle sessions (%d failed, %d refused); open p50 %s p99 %s; new sessions meanwhile: n=%d p50 %s p99 %s max %s\n",
			res.Opened, res.Failed, res.Refused, res.Open.P50, res.Open.P99, res.Probe.N, res.Probe.P50, res.Probe.P99, res.Probe.Max)
		return 0
	}
	if st, err := os.Stdout.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && stdout == os.Stdout && !*asJSON {
		o.Progress = os.Stdout
	}
	var exps []bench.Expectation
	if *expect != "" {
		var err error
		if exps, err = bench.ParseExpect(*expect); err != nil {
			return errorf(stderr, "--expect: %v", err)
		}
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		res.Print(stdout)
	}
	if exps != nil {
		lines, ok := res.Check(exps)
		for _, l := range lines {
			fmt.Fprintln(stderr, l)
		}
		if !ok {
			return 1
		}
	}
	return 0
}
