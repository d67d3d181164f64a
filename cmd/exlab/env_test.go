package main

import (
	"bytes"
	"strings"
	"testing"

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
