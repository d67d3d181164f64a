package main

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/exlab/exlab/config"
)

// TestReadmeDocumentsEveryParameter keeps the configuration reference in README.md in step with
// the config struct tree: every parameter the decoder accepts is named there.
func TestReadmeDocumentsEveryParameter(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range []any{config.OrganizationInfo{}, config.Server{}, config.AcceptedDomain{}, config.Mailbox{},
		config.ReceiveConnector{}, config.ADPermission{}, config.SendConnector{}, config.Certificate{}, config.Credential{}, config.TransportConfig{},
		config.Fault{}, config.ServerComponentState{}, config.Organization{}, config.DkimSigningConfig{}} {
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if !f.IsExported() || f.Tag.Get("exlab") == "-" {
				continue
			}
			if !strings.Contains(readme, f.Name) {
				t.Errorf("README.md does not document %s.%s", rt.Name(), f.Name)
			}
		}
	}
	for _, s := range []string{"SIGHUP", "make run", "make test"} {
		if !strings.Contains(readme, s) {
			t.Errorf("README.md does not mention %q", s)
		}
	}
}

var (
	codeSpan = regexp.MustCompile("`(exlab [^`]*)`")
	flagName = regexp.MustCompile(`--[a-z][a-z0-9-]*`)
)

// TestReadmeCommands checks the README's Commands table against the command tree: every
// command and flag a row names exists (the row's first cell: on that command; elsewhere in
// the row: on some command), and every command of the tree has a row.
func TestReadmeCommands(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	anyFlag := map[string]bool{}
	root.InitDefaultVersionFlag()
	for _, c := range commands(root) {
		c.InitDefaultHelpFlag() // cobra adds --help (and --version) when it runs a command
		c.Flags().VisitAll(func(f *pflag.Flag) { anyFlag[f.Name] = true })
	}
	documented := map[*cobra.Command]bool{}
	_, table, _ := strings.Cut(string(b), "\n## Commands\n")
	table, _, _ = strings.Cut(table, "\n## ")
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `exlab") {
			continue
		}
		rows++
		line = strings.ReplaceAll(line, `\|`, "\x00") // an escaped | inside a cell
		cells := strings.Split(line, "|")
		first := strings.ReplaceAll(cells[1], "\x00", "|")
		for _, m := range codeSpan.FindAllStringSubmatch(first, -1) {
			for _, c := range resolve(t, root, strings.Fields(m[1])[1:]) {
				documented[c] = true
				for _, f := range flagName.FindAllString(m[1], -1) {
					if c.Flags().Lookup(f[2:]) == nil {
						t.Errorf("README: %s has no flag %s (%q)", c.CommandPath(), f, m[1])
					}
				}
			}
		}
		for _, f := range flagName.FindAllString(strings.Join(cells[2:], "|"), -1) {
			if !anyFlag[f[2:]] {
				t.Errorf("README: no command has the flag %s (row %q)", f, first)
			}
		}
	}
	if rows < 20 {
		t.Fatalf("README: only %d rows found in the Commands table", rows)
	}
	for _, c := range commands(root) {
		if c.Runnable() && !c.HasSubCommands() && !documented[c] && c.Name() != "help" && c.Parent().Name() != "completion" {
			t.Errorf("README: the Commands table has no row for %s", c.CommandPath())
		}
	}
}

// resolve walks words (after "exlab") down the command tree while they name subcommands;
// "a|b" names both. A word that is no subcommand ends the path, unless it is where a
// subcommand was required.
func resolve(t *testing.T, c *cobra.Command, words []string) []*cobra.Command {
	t.Helper()
	if len(words) == 0 || strings.HasPrefix(words[0], "-") || strings.HasPrefix(words[0], "[") || strings.HasPrefix(words[0], "(") {
		return []*cobra.Command{c}
	}
	var out []*cobra.Command
	for _, name := range strings.Split(words[0], "|") {
		sub := child(c, name)
		if sub == nil {
			if c.HasSubCommands() {
				t.Errorf("README: %s has no command %q", c.CommandPath(), name)
			}
			return []*cobra.Command{c}
		}
		out = append(out, resolve(t, sub, words[1:])...)
	}
	return out
}

func child(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}
