package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	svc "github.com/exlab/exlab/cmd/server"
)

// signalCause is the cause of a context cancelled by a signal; the stopping line names it.
type signalCause struct{ os.Signal }

func (s signalCause) Error() string { return s.Signal.String() }

// serviceCmd is exlab serve, frontend or hub: flags to svc.Options, then svc.Run until
// SIGINT or SIGTERM; SIGHUP re-reads the configuration.
func (a *app) serviceCmd(name, short string, fe, hub bool) *cobra.Command {
	o := svc.Options{Frontend: fe, Hub: hub, Stderr: a.stderr, Version: version}
	c := &cobra.Command{Use: name, Short: short, Args: cobra.NoArgs}
	f := c.Flags()
	f.StringVar(&o.ConfigPath, "config", "", "organization file (default: the embedded Exchange 2019 default, see: exlab config default)")
	dataFlag(c, &o.DataDir, "data directory: queue database, certificate, keys (a frontend and a hub run apart share it, or set Organization.ExchangeServerAuthKey)")
	f.IntVar(&o.PortOffset, "port-offset", 0, "add N to every binding port, and to the admin port (for unprivileged users and side-by-side instances)")
	f.StringVar(&o.ServerName, "server", "", "which server of the organization to run (default: the first)")
	f.StringVar(&o.Admin, "admin", "", "admin listener address (default 127.0.0.1:8470 shifted by --port-offset; \"off\" disables it; only where the hub runs)")
	f.StringVar(&o.AdminToken, "admin-token", "", "the admin listener's token (default: $"+svc.AdminTokenEnv+", else a new random one in the data directory's admin.token); required when --admin is not on loopback")
	f.StringVar(&o.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.Events, "events", "", "also write the Exchange events (EventID, Source, Level, Message) as JSON lines to this file, or to stderr with \"stderr\"")
	f.StringVar(&o.ProxyTransport, "proxy-transport", "memory", "serve: how the frontend reaches the hub of this process: memory (SMTP over an in-process pipe) or tcp (SMTP over loopback to Default <SERVER>)")
	c.RunE = runE(func([]string) error {
		// Signals are caught before anything listens: a SIGTERM right after start (a
		// supervisor, a test) still gets the clean shutdown, never the default action of dying.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sig)
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		reload := make(chan struct{}, 1)
		o.Reload = reload
		go func() {
			for s := range sig {
				if s != syscall.SIGHUP {
					cancel(signalCause{s})
					return
				}
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}()
		err := svc.Run(ctx, o)
		if err == svc.ErrStoreFailed {
			return exitCode(1) // said on stderr by Run
		}
		return err
	})
	envFlags(c, os.LookupEnv) // EXLAB_PORT_OFFSET=10000 as --port-offset 10000; EXLAB_ADMIN_TOKEN as before
	return c
}
