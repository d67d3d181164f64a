package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// certificateCmd is exlab certificate new, exlab's New-ExchangeCertificate: it (re)makes the
// server's self-signed certificate in the data directory, with chosen validity dates so a lab
// can reproduce an expired certificate (Event 12014, no STARTTLS).
func (a *app) certificateCmd() *cobra.Command {
	c := group("certificate", "the server's certificate")
	var cfgPath, serverName, dataDir, notBefore, notAfter string
	nc := &cobra.Command{Use: "new", Short: "(re)make the server's self-signed certificate in the data directory", Args: cobra.NoArgs,
		RunE: runE(func([]string) error {
			_, srv, err := svc.LoadServer(cfgPath, serverName)
			if err != nil {
				return err
			}
			from, to := time.Now().UTC(), time.Now().UTC().AddDate(5, 0, 0)
			for _, d := range []struct {
				flag, val string
				dst       *time.Time
			}{{"--not-before", notBefore, &from}, {"--not-after", notAfter, &to}} {
				if d.val == "" {
					continue
				}
				t, err := time.Parse(time.DateOnly, d.val)
				if err != nil {
					return fmt.Errorf("%s: %q is not a date (YYYY-MM-DD)", d.flag, d.val)
				}
				*d.dst = t
			}
			if !to.After(from) {
				return fmt.Errorf("--not-after must be after --not-before")
			}
			path := filepath.Join(dataDir, svc.CertDir, "Exchange Certificate.pem")
			cert, err := smtpreceive.WriteSelfSigned(path, srv.Fqdn, from, to)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: subject %s, valid %s to %s\n", path, cert.Leaf.Subject, cert.Leaf.NotBefore.Format(time.DateOnly), cert.Leaf.NotAfter.Format(time.DateOnly))
			return nil
		})}
	f := nc.Flags()
	f.StringVar(&cfgPath, "config", "", "organization file (default: the embedded default)")
	f.StringVar(&serverName, "server", "", "which server's certificate (default: the first)")
	dataFlag(nc, &dataDir, "data directory of the server")
	f.StringVar(&notBefore, "not-before", "", "start of validity, YYYY-MM-DD (default: now)")
	f.StringVar(&notAfter, "not-after", "", "end of validity, YYYY-MM-DD (default: five years from now; a past date makes an expired certificate)")
	c.AddCommand(nc)
	return c
}
