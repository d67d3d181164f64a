package server

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Data directory layout, after Exchange's install path (spec §7.1, §8).
const (
	QueueDir     = "TransportRoles/data/Queue"
	TrackingDir  = "TransportRoles/Logs/MessageTracking"
	CertDir      = "Certificates"
	authKeyFile  = "exchange-server-auth.key"
	DefaultAdmin = "127.0.0.1:8470"
)

// LoadServer loads the organization (the embedded default when path is "") and picks the
// server to act as: the one named, or the first.
func LoadServer(path, name string) (*config.Organization, *config.Server, error) {
	org, err := LoadOrg(path)
	if err != nil {
		return nil, nil, err
	}
	srv := &org.Servers[0]
	if name != "" {
		if srv = org.Server(name); srv == nil {
			return nil, nil, fmt.Errorf("--server: %q is not a server of %s", name, org.File)
		}
	}
	return org, srv, nil
}

// LoadOrg loads the organization file at path, or the embedded default when path is "".
func LoadOrg(path string) (*config.Organization, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// CheckPortOffset says whether offset keeps every binding port of srv's connectors (port 0,
// an ephemeral port, aside) in 1-65535; the error names the first connector it would push out.
func CheckPortOffset(org *config.Organization, srv *config.Server, offset int) error {
	conns := org.MailboxDeliveryConnectors(srv) // the Mailbox Transport ports shift too
	for i := range org.ReceiveConnectors {
		conns = append(conns, &org.ReceiveConnectors[i])
	}
	for _, rc := range conns {
		if !strings.EqualFold(rc.Server, srv.Name) {
			continue
		}
		for _, b := range rc.Bindings {
			if p := b.Port + offset; b.Port != 0 && (p < 1 || p > 65535) {
				return fmt.Errorf("--port-offset %d: %s would bind %s to port %d, outside 1-65535", offset, rc.Identity(), b, p)
			}
		}
	}
	return nil
}

// AdminAddress is the admin listener address of --admin flag with --port-offset offset:
// flag itself, or the default shifted by offset; "" for "off". A flag that is not host:port
// with a port in 0-65535 is an error.
func AdminAddress(flag string, offset int) (string, error) {
	switch flag {
	case "off":
		return "", nil
	case "":
		a, err := ShiftPort(DefaultAdmin, offset)
		if err != nil {
			return "", fmt.Errorf("--admin: the default %s with --port-offset %d: %v", DefaultAdmin, offset, err)
		}
		return a, nil
	}
	if _, err := ShiftPort(flag, 0); err != nil {
		return "", fmt.Errorf("--admin: %v", err)
	}
	return flag, nil
}

// ShiftPort adds offset to the port of addr (host:port) unless it is 0; the result must be a
// port.
func ShiftPort(addr string, offset int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("%q: %q is not a port", addr, port)
	}
	if p != 0 {
		p += offset
		if p < 1 || p > 65535 {
			return "", fmt.Errorf("%q: port %d is outside 1-65535", addr, p)
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// exchangeAuthKey is the organization key for X-EXPS: from the config, or made once and kept in
// the data directory (like the self-signed certificate).
func exchangeAuthKey(org *config.Organization, dir string) ([]byte, error) {
	if k := org.Organization.ExchangeServerAuthKey; k != "" {
		return []byte(k), nil
	}
	path := filepath.Join(dir, authKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600)
}

// smtpCertificatesOf are the organization's certificates imported on server (every service).
func smtpCertificatesOf(org *config.Organization, server string) []*config.Certificate {
	var out []*config.Certificate
	for i := range org.Certificates {
		c := &org.Certificates[i]
		if c.Server == "" || strings.EqualFold(c.Server, server) {
			out = append(out, c)
		}
	}
	return out
}

// smtpCertificates are the configured certificates enabled for SMTP on srv.
func smtpCertificates(org *config.Organization, srv *config.Server) []tls.Certificate {
	var out []tls.Certificate
	for i := range org.Certificates {
		c := &org.Certificates[i]
		if c.KeyPair != nil && c.EnabledFor("SMTP") && (c.Server == "" || strings.EqualFold(c.Server, srv.Name)) {
			out = append(out, *c.KeyPair)
		}
	}
	return out
}

// protocolLog starts one of the server's protocol logs: role FrontEnd or Hub, send or receive,
// under the configured path or the data directory in Exchange's layout (spec §7.1).
func protocolLog(srv *config.Server, dataDir, role string, send bool, log *slog.Logger) *smtpwire.ProtocolLog {
	path, dir := srv.ReceiveProtocolLogPath, "SmtpReceive"
	o := smtpwire.ProtocolLogOptions{MaxFileSize: int64(srv.ReceiveProtocolLogMaxFileSize),
		MaxDirectorySize: int64(srv.ReceiveProtocolLogMaxDirectorySize), MaxAge: srv.ReceiveProtocolLogMaxAge.Duration(), Logger: log}
	if send {
		path, dir = srv.SendProtocolLogPath, "SmtpSend"
		o = smtpwire.ProtocolLogOptions{MaxFileSize: int64(srv.SendProtocolLogMaxFileSize),
			MaxDirectorySize: int64(srv.SendProtocolLogMaxDirectorySize), MaxAge: srv.SendProtocolLogMaxAge.Duration(), Logger: log}
	}
	if path == "" {
		path = filepath.Join(dataDir, "TransportRoles", "Logs", role, "ProtocolLog", dir)
	} else {
		path = filepath.Join(path, role)
	}
	return smtpwire.NewProtocolLog(path, send, o)
}

// warnLabPasswords warns when the lab mailboxes' passwords can be used from beyond this
// machine: any of srv's receive connectors that offers AUTH (BasicAuth or Integrated) listens
// on a wildcard or a non-loopback address, and a mailbox has a password (the embedded
// default's are P@ssw0rd). exlab is a lab: its passwords are in the organization file.
// warnSharedKey warns when the servers of a multi-server organization would each make their
// own ExchangeServer auth key: they could not authenticate to each other (X-EXPS), and every
// intra-organization hop would fail.
func warnSharedKey(log *slog.Logger, org *config.Organization) {
	if len(org.Servers) > 1 && org.Organization.ExchangeServerAuthKey == "" {
		log.Warn("the organization has more than one server and no Organization.ExchangeServerAuthKey: each server makes its own key, "+
			"so they cannot authenticate to each other (set one, e.g. openssl rand -hex 32)", "servers", len(org.Servers))
	}
}

func warnLabPasswords(log *slog.Logger, org *config.Organization, srv *config.Server) {
	var mailboxes []string
	for _, mb := range org.Mailboxes {
		if mb.Password != "" {
			mailboxes = append(mailboxes, mb.PrimarySmtpAddress)
		}
	}
	if len(mailboxes) == 0 {
		return
	}
	var exposed []string
	for i := range org.ReceiveConnectors {
		rc := &org.ReceiveConnectors[i]
		if !rc.Enabled || !strings.EqualFold(rc.Server, srv.Name) || !(rc.HasAuth(config.AuthBasicAuth) || rc.HasAuth(config.AuthIntegrated)) {
			continue
		}
		for _, b := range rc.Bindings {
			if b.Addr.IsUnspecified() || !b.Addr.Unmap().IsLoopback() {
				exposed = append(exposed, rc.Identity()+" "+b.String())
			}
		}
	}
	if len(exposed) > 0 {
		log.Warn("lab passwords: these connectors offer AUTH beyond loopback, and the mailboxes' passwords are in the organization file "+
			"(the embedded default's are P@ssw0rd); change them, or bind the connectors to 127.0.0.1, before other machines can reach this one",
			"mailboxes", strings.Join(mailboxes, ", "), "connectors", strings.Join(exposed, "; "))
	}
}

// logEffectiveConfig logs the configuration the server runs with (STYLE §5, chasquid LogConfig).
func logEffectiveConfig(log *slog.Logger, org *config.Organization, srv *config.Server) {
	log.Info("organization", "file", org.File, "name", org.Organization.Name, "server", srv.Name, "fqdn", srv.Fqdn,
		"version", string(srv.Version), "BindingConflictMode", string(srv.BindingConflictMode))
	for _, ad := range org.AcceptedDomains {
		log.Info("AcceptedDomain", "DomainName", ad.DomainName, "DomainType", string(ad.DomainType), "Default", ad.Default)
	}
	for _, rc := range org.ReceiveConnectors {
		if !strings.EqualFold(rc.Server, srv.Name) {
			continue
		}
		b := make([]string, len(rc.Bindings))
		for i, x := range rc.Bindings {
			b[i] = x.String()
		}
		log.Info("ReceiveConnector", "Identity", rc.Identity(), "TransportRole", string(rc.TransportRole), "Enabled", rc.Enabled,
			"Bindings", strings.Join(b, ","), "PermissionGroups", fmt.Sprint(rc.PermissionGroups),
			"AuthMechanism", fmt.Sprint(rc.AuthMechanism), "MaxMessageSize", rc.MaxMessageSize.String())
	}
}
