package server

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/transport"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// What the tools read of a server through its data directory: the running server's admin
// listener when there is one, else the stopped server's files.

// Running is the admin client of the server running on dataDir; the error says that none
// answers, and (what) which command needs one.
func Running(dataDir, what string) (*adminapi.Client, error) {
	if c := adminapi.Dial(dataDir); c != nil {
		return c, nil
	}
	if what != "" {
		what = " (" + what + " needs the running hub)"
	}
	return nil, fmt.Errorf("no running server answers for %s%s", dataDir, what)
}

func openStore(dataDir string) (*queue.Store, error) {
	st, err := queue.Open(filepath.Join(dataDir, QueueDir), queue.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("no running server answers for %s and its queue database cannot be read: %v", dataDir, err)
	}
	return st, nil
}

// Mailboxes reads the delivered messages of the server on dataDir, running or stopped; close
// releases the store.
func Mailboxes(dataDir string) (mb adminapi.Mailboxes, close func(), err error) {
	if c := adminapi.Dial(dataDir); c != nil {
		return c, func() {}, nil
	}
	st, err := openStore(dataDir)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { _ = st.Close() }, nil
}

// InMailbox says whether an item belongs to the mailbox named by addr (its primary address or
// an address the message was sent to); "" matches every item.
func InMailbox(it queue.MailboxItem, addr string) bool {
	if addr == "" || strings.EqualFold(it.Mailbox, addr) {
		return true
	}
	for _, t := range it.To {
		if strings.EqualFold(t, addr) {
			return true
		}
	}
	return false
}

// StoredQueues reads the queues (and the messages of queueID, "" for all) of a stopped server
// from its data directory, with the organization at cfgPath.
func StoredQueues(dataDir, cfgPath, serverName, queueID string) ([]transport.QueueInfo, []transport.MessageInfo, error) {
	org, srv, err := LoadServer(cfgPath, serverName)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(dataDir)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	return transport.StoredQueues(st, org, srv, queueID)
}

// NewCertificate is New-ExchangeCertificate: it (re)makes the self-signed certificate of the
// server named serverName in dataDir, valid from notBefore to notAfter (YYYY-MM-DD; "" for now
// and five years from now), and says where it is.
func NewCertificate(dataDir, cfgPath, serverName, notBefore, notAfter string) (string, tls.Certificate, error) {
	_, srv, err := LoadServer(cfgPath, serverName)
	if err != nil {
		return "", tls.Certificate{}, err
	}
	// New-ExchangeCertificate: from now to five years later, to the second (spec §13.16).
	now := time.Now().UTC().Truncate(time.Second)
	from, to := now, now.AddDate(5, 0, 0)
	for _, d := range []struct {
		flag, val string
		dst       *time.Time
	}{{"--not-before", notBefore, &from}, {"--not-after", notAfter, &to}} {
		if d.val == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.val)
		if err != nil {
			return "", tls.Certificate{}, fmt.Errorf("%s: %q is not a date (YYYY-MM-DD)", d.flag, d.val)
		}
		*d.dst = t
	}
	if !to.After(from) {
		return "", tls.Certificate{}, fmt.Errorf("--not-after must be after --not-before")
	}
	path := filepath.Join(dataDir, CertDir, "Exchange Certificate.pem")
	cert, err := smtpreceive.WriteExchangeCertificate(path, srv.Fqdn, srv.Version, from, to)
	return path, cert, err
}

// ParseTime reads a time of exlab tracking search: 2006-01-02, 2006-01-02 15:04:05 (local) or
// RFC 3339; "" is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2006-01-02, 2006-01-02 15:04:05 or RFC 3339)", s)
}
