package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/signal"

	"github.com/exlab/exlab/bench"
)

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", stderr, "bench --target HOST:PORT [flags]")
	var o bench.Options
	fs.StringVar(&o.Target, "target", "", "SMTP server to load, host:port")
	fs.IntVar(&o.Sessions, "sessions", 20, "parallel connections")
	fs.IntVar(&o.Messages, "messages", 1000, "total messages (0: run for --duration)")
	fs.DurationVar(&o.Duration, "duration", 0, "run this long instead of a message count")
	fs.IntVar(&o.PerSession, "per-session", 20, "messages per connection (1 = a new connection for each message)")
	fs.IntVar(&o.Size, "size", 1024, "message size in bytes")
	fs.IntVar(&o.Rcpts, "rcpts", 1, "recipients per message")
	fs.StringVar(&o.From, "from", "bench@bench.test", "envelope sender")
	fs.StringVar(&o.To, "to", "user1@contoso.test", "recipient pattern; {n} becomes a running number")
	fs.StringVar(&o.Helo, "helo", "bench.test", "EHLO name")
	fs.DurationVar(&o.Timeout, "timeout", 0, "per-command timeout (default 30s)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if o.Duration > 0 && o.Messages == 1000 {
		o.Messages = 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Run(ctx, o)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return 0
	}
	res.Print(stdout)
	return 0
}
