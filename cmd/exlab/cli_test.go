package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commands is every command of the tree under c, c included.
func commands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, s := range c.Commands() {
		out = append(out, commands(s)...)
	}
	return out
}

// TestEveryCommandHasHelp: --help exits 0 on every command and shows every flag it takes.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands(newRoot(&bytes.Buffer{}, &bytes.Buffer{})) {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"exlab"}, path...), " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(append(path, "--help"), &out, &errb); code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), "Flags:") || !strings.Contains(out.String(), "--help") {
				t.Errorf("no flags shown:\n%s", out.String())
			}
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(out.String(), "--"+f.Name+" ") {
					t.Errorf("--%s not shown:\n%s", f.Name, out.String())
				}
			})
		})
	}
}

// TestCommandLineErrors: a wrong command line exits 2 with what is wrong; a bad value of a
// service flag is fatal (exit 1) before anything listens.
func TestCommandLineErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Available Commands:"},
		{[]string{"nope"}, 2, `unknown command "nope" for "exlab"`},
		{[]string{"config"}, 2, "Available Commands:"},
		{[]string{"config", "nope"}, 2, `unknown command "nope" for "exlab config"`},
		{[]string{"serve", "stray"}, 2, `unknown command "stray" for "exlab serve"`},
		{[]string{"mailbox", "list", "a", "b"}, 2, "accepts at most 1 arg(s), received 2"},
		{[]string{"mailbox", "show"}, 2, "accepts 1 arg(s), received 0"},
		{[]string{"queue", "get", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"probe", "--port", "70000"}, 1, "--port: 70000 is not a port"},
		{[]string{"serve", "--port-offset", "64000", "--data", "DATA"}, 1, `--port-offset 64000: EX01\Default EX01 would bind 0.0.0.0:2525 to port 66525, outside 1-65535`},
		{[]string{"hub", "--port-offset", "-26", "--data", "DATA"}, 1, `--port-offset -26: EX01\Default Frontend EX01 would bind [::]:25 to port -1`},
		{[]string{"serve", "--admin", "nonsense", "--data", "DATA"}, 1, "--admin: address nonsense: missing port in address"},
		{[]string{"serve", "--admin", "127.0.0.1:99999", "--data", "DATA"}, 1, `--admin: "127.0.0.1:99999": "99999" is not a port`},
		{[]string{"serve", "--proxy-transport", "udp", "--data", "DATA"}, 1, `--proxy-transport: "udp" is not memory or tcp`},
		{[]string{"readyz", "--admin", "nonsense"}, 1, "--admin: address nonsense: missing port in address"},
		{[]string{"fault", "set", "--data", "DATA"}, 1, "fault set: --step is required (or --file)"},
		{[]string{"version"}, 0, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string(nil), tc.args...)
			for i := range args {
				if args[i] == "DATA" {
					args[i] = dir
				}
			}
			var out, errb bytes.Buffer
			code := run(args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.want, out.String(), errb.String())
			}
		})
	}
}

// TestJSONEverywhere: every command that prints records takes --json.
func TestJSONEverywhere(t *testing.T) {
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	for _, path := range [][]string{{"queue", "get"}, {"message", "get"}, {"tracking", "search"}, {"fault", "list"},
		{"mailbox", "list"}, {"probe"}, {"connector", "audit"}, {"bench"}} {
		c, _, err := root.Find(path)
		if err != nil || c.Flags().Lookup("json") == nil {
			t.Errorf("exlab %s has no --json (%v)", strings.Join(path, " "), err)
		}
	}
}
