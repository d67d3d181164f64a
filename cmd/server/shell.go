package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/emshell"
)

// shellSessions are the Exchange Management Shell sessions of POST /api/v1/shell: each keeps
// its variables between requests, and goes after shellIdle unused (a remote PowerShell session
// to Exchange ends the same way). The cmdlets reach this server through its own admin API, as
// exlab shell's do, so that both run the same code.
type shellSessions struct {
	dataDir string
	mu      sync.Mutex
	m       map[string]*shellSession
}

type shellSession struct {
	mu   sync.Mutex // one script at a time per session
	sh   *emshell.Shell
	used time.Time
}

const shellIdle = 15 * time.Minute

func (ss *shellSessions) run(ctx context.Context, req adminapi.ShellRequest) (adminapi.ShellResult, error) {
	ss.mu.Lock()
	for id, s := range ss.m {
		if time.Since(s.used) > shellIdle {
			delete(ss.m, id)
		}
	}
	s := ss.m[req.Session]
	id := req.Session
	if s == nil {
		cl := adminapi.Dial(ss.dataDir)
		if cl == nil {
			ss.mu.Unlock()
			return adminapi.ShellResult{}, fmt.Errorf("the admin listener of %s does not answer", ss.dataDir)
		}
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
		s = &shellSession{sh: emshell.New(cl)}
		if ss.m == nil {
			ss.m = map[string]*shellSession{}
		}
		ss.m[id] = s
	}
	s.used = time.Now()
	ss.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out, errs bytes.Buffer
	err := s.sh.Run(ctx, req.Script, &out, &errs)
	return adminapi.ShellResult{Session: id, Output: out.String(), Errors: errs.String(), Failed: err != nil}, nil
}
