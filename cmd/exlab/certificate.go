package main

import (
	"crypto/sha1"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	svc "github.com/exlab/exlab/cmd/server"
	"github.com/exlab/exlab/transport/smtpwire"
)

// certificateCmd is exlab certificate new, exlab's New-ExchangeCertificate: it (re)makes the
// server's self-signed certificate in the data directory as Exchange makes it (RSA 2048, CN =
// host name, five years to the second; spec §13.16), with chosen validity dates so a lab can
// reproduce an expired certificate (Event 12014, no STARTTLS).
func (a *app) certificateCmd() *cobra.Command {
	c := group("certificate", "the server's certificate")
	var cfgPath, serverName, dataDir, notBefore, notAfter string
	nc := &cobra.Command{Use: "new", Short: "(re)make the server's self-signed certificate in the data directory", Args: cobra.NoArgs,
		RunE: runE(func([]string) error {
			path, cert, err := svc.NewCertificate(dataDir, cfgPath, serverName, notBefore, notAfter)
			if err != nil {
				return err
			}
			// The thumbprint is how Exchange's cmdlets name a certificate (Get-ExchangeCertificate
			// -Thumbprint), and what the protocol log's certificate line shows.
			fmt.Fprintf(a.stdout, "%s: subject %s, valid %s to %s, thumbprint %X\n", path, smtpwire.DistinguishedName(cert.Leaf.Subject),
				cert.Leaf.NotBefore.Format(time.DateOnly), cert.Leaf.NotAfter.Format(time.DateOnly), sha1.Sum(cert.Leaf.Raw))
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
