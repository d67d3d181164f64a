package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
)

// admin is the admin listener: a loopback HTTP endpoint the tools use while the server runs
// (the Pebble store is locked by the running server). Access needs the token kept in the
// data directory, readable by its owner only.
type admin struct {
	srv *http.Server
	dir string
}

// startAdmin listens on addr, writes the address and the token (token, or a new random one
// when it is "") into dir and serves the API.
func startAdmin(addr, dir string, o adminapi.Options, token string, log *slog.Logger) (*admin, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	o.Token = token
	if o.Token == "" {
		tok := make([]byte, 16)
		_, _ = rand.Read(tok)
		o.Token = hex.EncodeToString(tok)
	}
	if err := os.WriteFile(filepath.Join(dir, adminapi.TokenFile), []byte(o.Token+"\n"), 0o600); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, adminapi.AddrFile), []byte(l.Addr().String()+"\n"), 0o600); err != nil {
		l.Close()
		return nil, err
	}
	a := &admin{dir: dir, srv: &http.Server{Handler: adminapi.Handler(o), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := a.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener", "err", err)
		}
	}()
	log.Info("admin listener", "addr", l.Addr().String())
	return a, nil
}

func (a *admin) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	_ = os.Remove(filepath.Join(a.dir, adminapi.AddrFile))
	_ = os.Remove(filepath.Join(a.dir, adminapi.TokenFile))
}

// AdminTokenEnv is the environment variable that sets the admin token (as --admin-token does).
const AdminTokenEnv = "EXLAB_ADMIN_TOKEN"

// CheckAdminExposure refuses an admin listener beyond loopback without a token set explicitly:
// the API reads and deletes every mailbox, and a random token written into the data directory
// would be the only thing between it and the network. addr "" (off) and loopback addresses
// (127.0.0.0/8, ::1, localhost) pass without one.
func CheckAdminExposure(addr, token string) error {
	if addr == "" || token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin: %v", err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("--admin %s listens beyond loopback: set the admin token explicitly (--admin-token or %s), "+
		"or keep the admin listener on 127.0.0.1", addr, AdminTokenEnv)
}

// trackingDir is where the hub writes its message tracking log (MessageTrackingLogPath, or
// the data directory's).
func (s *services) trackingDir() string {
	if s.srv.MessageTrackingLogPath != "" {
		return s.srv.MessageTrackingLogPath
	}
	return filepath.Join(s.o.DataDir, TrackingDir)
}
