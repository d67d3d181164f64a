package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// commit is set by make release with -ldflags "-X main.commit=…" (git rev-parse HEAD). go build
// stamps the commit itself (vcs.revision) in a git checkout, but not in a linked git worktree,
// whose .git is a file (golang/go#58218), nor with -buildvcs=false; the ldflags value works
// everywhere git does.
var commit string

// buildVersion is what `exlab version` reports: the version set with -ldflags (make build and
// make release set `git describe --tags --always --dirty`), and the commit: main.commit when set,
// else the one go build stamped into the binary (runtime/debug.BuildInfo's vcs.revision,
// vcs.modified and vcs.time, recorded by default when go build runs inside a git checkout).
type buildVersion struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Time     string `json:"commitTime,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readVersion is the version of this binary: ldVersion and ldCommit are main.version ("dev"
// when unset) and main.commit ("" when unset), info what debug.ReadBuildInfo returned.
func readVersion(ldVersion, ldCommit string, info *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: ldVersion, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info != nil {
		v.readSettings(info)
	}
	if ldCommit != "" && ldCommit != v.Commit {
		// The stamp, if any, is of another checkout (a worktree nested in one): ldflags win.
		v.Commit, v.Modified, v.Time = ldCommit, strings.HasSuffix(ldVersion, "-dirty"), ""
	}
	// Built without -ldflags (go build, go install): the commit is the version, written the
	// way git describe --always --dirty would.
	if v.Version == "dev" && v.Commit != "" {
		v.Version = shortCommit(v.Commit)
		if v.Modified {
			v.Version += "-dirty"
		}
	}
	return v
}

// readSettings takes the Go version and the vcs.* settings from info.
func (v *buildVersion) readSettings(info *debug.BuildInfo) {
	if info.GoVersion != "" {
		v.Go = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.Time = s.Value
		}
	}
}

// shortCommit is the commit abbreviated as git does by default (7 hex digits).
func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// String is the one line `exlab version` prints: "exlab 1a2b3c4 (commit 1a2b3c4d…, modified)".
func (v buildVersion) String() string {
	s := "exlab " + v.Version
	switch {
	case v.Commit == "":
		s += " (commit unknown)"
	case v.Modified:
		s += " (commit " + v.Commit + ", modified)"
	default:
		s += " (commit " + v.Commit + ")"
	}
	return s
}

// currentVersion is this binary's version.
func currentVersion() buildVersion {
	info, _ := debug.ReadBuildInfo()
	return readVersion(version, commit, info)
}

// versionCmd is exlab version [--json].
func (a *app) versionCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "version", Short: "print the version and the commit it was built from", Args: cobra.NoArgs,
		RunE: runE(func([]string) error {
			v := currentVersion()
			if !asJSON {
				_, err := fmt.Fprintln(a.stdout, v)
				return err
			}
			e := json.NewEncoder(a.stdout)
			e.SetIndent("", "  ")
			return e.Encode(v)
		})}
	c.Flags().BoolVar(&asJSON, "json", false, "print it as JSON (version, commit, modified, commitTime, go, platform)")
	return c
}
