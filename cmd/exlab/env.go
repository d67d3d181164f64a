package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every flag of exlab serve, frontend and hub:
// EXLAB_ and the flag's name upper-cased with - as _ (--port-offset: EXLAB_PORT_OFFSET,
// --admin-token: EXLAB_ADMIN_TOKEN, which cmd/server names AdminTokenEnv). A container or a
// systemd EnvironmentFile sets the flags this way.
const envPrefix = "EXLAB_"

// envName is the environment variable of the flag name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envFlags makes the EXLAB_* variables the defaults of c's flags: before c runs, each flag not
// given on the command line takes its variable's value when the variable is set and not empty;
// a flag given explicitly wins. --help lists the variables.
func envFlags(c *cobra.Command, lookup func(string) (string, bool)) {
	var names []string
	c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, envName(f.Name)) })
	sort.Strings(names)
	c.Long = c.Short + ".\n\nEvery flag can also be set with an environment variable: " + envPrefix +
		" followed by the flag's name upper-cased, - as _ (" + strings.Join(names, ", ") +
		"). A flag on the command line wins over its variable; an empty variable is ignored."
	c.PreRunE = func(c *cobra.Command, _ []string) error { return applyEnv(c.Flags(), lookup) }
}

// applyEnv sets every flag of fs not changed on the command line from its EXLAB_* variable.
// A value the flag refuses is an error naming the variable.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok || v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("%s: %q %s", name, v, valueProblem(f.Value.Type(), e))
		}
	})
	return err
}

// valueProblem says what is wrong with a value a flag of type typ refused with err.
func valueProblem(typ string, err error) string {
	switch {
	case strings.HasPrefix(typ, "int") || strings.HasPrefix(typ, "uint"):
		return "is not an integer"
	case typ == "bool":
		return "is not true or false"
	case typ == "duration":
		return "is not a duration (e.g. 30s, 5m)"
	}
	return "is not valid: " + err.Error()
}
