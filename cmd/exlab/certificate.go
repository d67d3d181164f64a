package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/exlab/exlab/transport/smtpreceive"
)

// cmdCertificate is `exlab certificate new`, exlab's New-ExchangeCertificate: it (re)makes the
// server's self-signed certificate in the data directory, with chosen validity dates so a lab
// can reproduce an expired certificate (Event 12014, no STARTTLS).
func cmdCertificate(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprint(stderr, "Usage: exlab certificate new [--config FILE] [--server NAME] [--data DIR] [--not-before DATE] [--not-after DATE]\n")
		return 2
	}
	fs := newFlagSet("certificate new", stderr, "certificate new [--config FILE] [--server NAME] [--data DIR] [--not-before DATE] [--not-after DATE]")
	cfgPath := fs.String("config", "", "organization file (default: the embedded default)")
	serverName := fs.String("server", "", "which server's certificate (default: the first)")
	dataDir := fs.String("data", "./exlab-data", "data directory of the server")
	notBefore := fs.String("not-before", "", "start of validity, YYYY-MM-DD (default: now)")
	notAfter := fs.String("not-after", "", "end of validity, YYYY-MM-DD (default: five years from now; a past date makes an expired certificate)")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return 2
	}
	_, srv, err := loadServer(*cfgPath, *serverName)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	from, to := time.Now().UTC(), time.Now().UTC().AddDate(5, 0, 0)
	for _, d := range []struct {
		flag string
		val  string
		dst  *time.Time
	}{{"--not-before", *notBefore, &from}, {"--not-after", *notAfter, &to}} {
		if d.val == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.val)
		if err != nil {
			return errorf(stderr, "%s: %q is not a date (YYYY-MM-DD)", d.flag, d.val)
		}
		*d.dst = t
	}
	if !to.After(from) {
		return errorf(stderr, "--not-after must be after --not-before")
	}
	path := filepath.Join(*dataDir, certDir, "Exchange Certificate.pem")
	cert, err := smtpreceive.WriteSelfSigned(path, srv.Fqdn, from, to)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "%s: subject %s, valid %s to %s\n", path, cert.Leaf.Subject, cert.Leaf.NotBefore.Format(time.DateOnly), cert.Leaf.NotAfter.Format(time.DateOnly))
	return 0
}
