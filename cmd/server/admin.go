package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

// startAdmin listens on addr, writes the address and a new token into dir and serves the API.
func startAdmin(addr, dir string, o adminapi.Options, log *slog.Logger) (*admin, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	o.Token = hex.EncodeToString(tok)
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
