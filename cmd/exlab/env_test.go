package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	svc "github.com/exlab/exlab/cmd/server"
)

// TestEnvOverrides: the EXLAB_* variables set the flags of serve, frontend and hub that the
// command line leaves alone, a flag given explicitly wins, and a bad value names its variable.
func TestEnvOverrides(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cmd     string
		args    []string
		env     map[string]string
		want    map[string]string // flag → value after the variables
		wantErr string
	}{
		{name: "every flag from its variable", cmd: "serve",
			env: map[string]string{"EXLAB_DATA": "/data", "EXLAB_CONFIG": "/etc/exlab/org.yaml", "EXLAB_PORT_OFFSET": "10000",
				"EXLAB_SERVER": "EX02", "EXLAB_ADMIN": "0.0.0.0:8470", "EXLAB_ADMIN_TOKEN": "s3cret", "EXLAB_LOG_LEVEL": "debug",
				"EXLAB_EVENTS": "stderr", "EXLAB_PROXY_TRANSPORT": "tcp"},
			want: map[string]string{"data": "/data", "config": "/etc/exlab/org.yaml", "port-offset": "10000", "server": "EX02",
				"admin": "0.0.0.0:8470", "admin-token": "s3cret", "log-level": "debug", "events": "stderr", "proxy-transport": "tcp"}},
		{name: "a flag wins over its variable", cmd: "serve", args: []string{"--port-offset", "20000", "--data=/flag"},
			env:  map[string]string{"EXLAB_PORT_OFFSET": "10000", "EXLAB_DATA": "/env", "EXLAB_SERVER": "EX02"},
			want: map[string]string{"port-offset": "20000", "data": "/flag", "server": "EX02"}},
		{name: "unset and empty variables keep the defaults", cmd: "hub",
			env:  map[string]string{"EXLAB_LOG_LEVEL": "", "EXLAB_PORT_OFFSET": ""},
			want: map[string]string{"log-level": "info", "port-offset": "0", "data": "./exlab-data", "admin": ""}},
		{name: "frontend takes them too", cmd: "frontend", env: map[string]string{"EXLAB_SERVER": "EX01", "EXLAB_ADMIN_TOKEN": "t"},
			want: map[string]string{"server": "EX01", "admin-token": "t"}},
		{name: "not an integer", cmd: "serve", env: map[string]string{"EXLAB_PORT_OFFSET": "x"},
			wantErr: `EXLAB_PORT_OFFSET: "x" is not an integer`},
		{name: "a bad value is refused even where a later flag is fine", cmd: "hub", args: []string{"--data", "/d"},
			env: map[string]string{"EXLAB_PORT_OFFSET": "10k"}, wantErr: `EXLAB_PORT_OFFSET: "10k" is not an integer`},
		{name: "a bad variable behind an explicit flag is not read", cmd: "serve", args: []string{"--port-offset", "5"},
			env: map[string]string{"EXLAB_PORT_OFFSET": "x"}, want: map[string]string{"port-offset": "5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
			c := child(root, tc.cmd)
			if err := c.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			err := applyEnv(c.Flags(), func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for flag, want := range tc.want {
				if got := c.Flags().Lookup(flag).Value.String(); got != want {
					t.Errorf("--%s = %q, want %q", flag, got, want)
				}
			}
		})
	}
}

// TestEnvCommandLine runs exlab as a user does: a bad variable is a wrong command line (exit
// 2) naming the variable, --help lists every variable, and the admin token's variable is the
// one cmd/server has always read.
func TestEnvCommandLine(t *testing.T) {
	if got := envName("admin-token"); got != svc.AdminTokenEnv {
		t.Errorf("--admin-token reads %s, cmd/server documents %s", got, svc.AdminTokenEnv)
	}
	t.Setenv("EXLAB_PORT_OFFSET", "x")
	for _, cmd := range []string{"serve", "frontend", "hub"} {
		var out, errb bytes.Buffer
		if code := run([]string{cmd}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `EXLAB_PORT_OFFSET: "x" is not an integer`) {
			t.Errorf("exlab %s with EXLAB_PORT_OFFSET=x: exit %d, stderr %q", cmd, code, errb.String())
		}
		out.Reset()
		if code := run([]string{cmd, "--help"}, &out, &errb); code != 0 {
			t.Fatalf("exlab %s --help: exit %d", cmd, code)
		}
		for _, v := range []string{"EXLAB_DATA", "EXLAB_CONFIG", "EXLAB_PORT_OFFSET", "EXLAB_SERVER", "EXLAB_ADMIN,", "EXLAB_ADMIN_TOKEN",
			"EXLAB_LOG_LEVEL", "EXLAB_EVENTS", "EXLAB_PROXY_TRANSPORT", "command line wins"} {
			if !strings.Contains(out.String(), v) {
				t.Errorf("exlab %s --help does not mention %s:\n%s", cmd, v, out.String())
			}
		}
	}
}

// TestEnvServe runs the binary as the compose file does, configured only through the
// environment: EX02 of docs/examples/two-servers.yaml (bindings moved to 127.0.0.1:0), the
// admin listener beyond loopback with its token from EXLAB_ADMIN_TOKEN. It must start as EX02,
// and the image's health check, exlab readyz --data DIR, must pass against it.
func TestEnvServe(t *testing.T) {
	b, err := os.ReadFile("../../docs/examples/two-servers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "organization.yaml")
	if err := os.WriteFile(cfg, bindingsLine.ReplaceAll(b, []byte(`${1}Bindings: ["127.0.0.1:0"]`)), 0o600); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	cmd := exec.Command(exlabBin, "serve")
	cmd.Env = append(os.Environ(), "EXLAB_CONFIG="+cfg, "EXLAB_DATA="+data, "EXLAB_SERVER=EX02",
		"EXLAB_ADMIN=0.0.0.0:0", "EXLAB_ADMIN_TOKEN=env-token", "EXLAB_LOG_LEVEL=info")
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	var mu sync.Mutex
	var log strings.Builder
	logged := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		ex02 := false
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			ex02 = ex02 || strings.Contains(sc.Text(), `EX02\Default Frontend EX02 listening on 127.0.0.1:`)
			if strings.Contains(sc.Text(), "every connector listens") {
				ready <- ex02
			}
		}
		close(ready)
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	select {
	case ex02, ok := <-ready:
		if !ok || !ex02 {
			t.Fatalf("exlab did not start as EX02 from EXLAB_*:\n%s", logged())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("exlab did not start\n%s", logged())
	}
	if out, errOut, code := exlab(t, "readyz", "--data", data); code != 0 {
		t.Errorf("readyz: exit %d\n%s%s", code, out, errOut)
	}
	if tok, err := os.ReadFile(filepath.Join(data, adminapi.TokenFile)); err != nil || strings.TrimSpace(string(tok)) != "env-token" {
		t.Errorf("admin token in the data directory %q (%v), want EXLAB_ADMIN_TOKEN's", tok, err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Error("exlab did not stop")
	}
}
