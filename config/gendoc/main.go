// Command gendoc writes docs/config-reference.md from the configuration's parameter tables
// (config.Objects). `make generate` runs it from the repository root; config's
// TestReferenceIsCurrent fails when the committed file is stale.
package main

import (
	"fmt"
	"os"

	"github.com/exlab/exlab/config"
)

func main() {
	out := config.ReferenceFile
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.WriteFile(out, config.Reference(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
