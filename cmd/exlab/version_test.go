package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

const (
	rev1 = "1a2b3c4d5e6f708192a3b4c5d6e7f80910a1b2c3"
	rev2 = "ffeeddccbbaa99887766554433221100ffeeddcc"
)

// stamp is the BuildInfo go build writes in a git checkout.
func stamp(rev string, modified bool) *debug.BuildInfo {
	m := "false"
	if modified {
		m = "true"
	}
	return &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
		{Key: "-trimpath", Value: "true"}, {Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-02T23:00:00Z"},
		{Key: "vcs.modified", Value: m}}}
}

func TestReadVersion(t *testing.T) {
	for _, tc := range []struct {
		name              string
		ldVersion, commit string
		info              *debug.BuildInfo
		want              string
	}{
		{"no build info", "dev", "", nil, "exlab dev (commit unknown)"},
		{"no vcs stamp (worktree, -buildvcs=false)", "dev", "", &debug.BuildInfo{GoVersion: "go1.26.8"}, "exlab dev (commit unknown)"},
		{"go build in a clean checkout", "dev", "", stamp(rev1, false), "exlab 1a2b3c4 (commit " + rev1 + ")"},
		{"go build in a modified checkout", "dev", "", stamp(rev1, true), "exlab 1a2b3c4-dirty (commit " + rev1 + ", modified)"},
		{"make build: ldflags version and the stamp", "v1.2.0-3-g1a2b3c4", "", stamp(rev1, false), "exlab v1.2.0-3-g1a2b3c4 (commit " + rev1 + ")"},
		{"make release in a worktree: ldflags only", "v1.2.0", rev1, nil, "exlab v1.2.0 (commit " + rev1 + ")"},
		{"make release, dirty", "v1.2.0-dirty", rev1, &debug.BuildInfo{}, "exlab v1.2.0-dirty (commit " + rev1 + ", modified)"},
		{"ldflags agree with the stamp", "v1.2.0", rev1, stamp(rev1, true), "exlab v1.2.0 (commit " + rev1 + ", modified)"},
		{"stamp of another checkout: ldflags win", "v1.2.0", rev1, stamp(rev2, true), "exlab v1.2.0 (commit " + rev1 + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readVersion(tc.ldVersion, tc.commit, tc.info).String(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// gitOut runs git in the package directory; the test skips without git or outside a checkout
// (a source archive), and fails instead when CI is set.
func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("git %v: %v", args, err)
		}
		t.Skipf("git %v: %v (not a git checkout?)", args, err)
	}
	return strings.TrimSpace(string(out))
}

// versionOf runs bin version and bin version --json.
func versionOf(t *testing.T, bin string) (string, buildVersion) {
	t.Helper()
	text, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("exlab version: %v", err)
	}
	js, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("exlab version --json: %v", err)
	}
	var v buildVersion
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatalf("exlab version --json: %v\n%s", err, js)
	}
	if v.String() != strings.TrimSpace(string(text)) {
		t.Errorf("--json %+v says other than the text %q", v, text)
	}
	return strings.TrimSpace(string(text)), v
}

// TestVersionNamesCommit: the binary TestMain built (go build, no -ldflags) names the commit
// it was built from, as go build stamped it: HEAD, and "modified" when git status shows
// changes (go build's test for vcs.modified). go build stamps nothing in a linked git worktree
// (golang/go#58218) or with -buildvcs=false; the binary then says "commit unknown" rather
// than a wrong one.
func TestVersionNamesCommit(t *testing.T) {
	head := gitOut(t, "rev-parse", "HEAD")
	modified := gitOut(t, "status", "--porcelain") != ""
	linked := gitOut(t, "rev-parse", "--path-format=absolute", "--git-dir") != gitOut(t, "rev-parse", "--path-format=absolute", "--git-common-dir")
	goflags, _ := exec.Command("go", "env", "GOFLAGS").Output()
	stamps := !linked && !strings.Contains(string(goflags), "-buildvcs=false")

	want := "exlab dev (commit unknown)"
	if stamps {
		want = "exlab " + head[:7] + " (commit " + head + ")"
		if modified {
			want = "exlab " + head[:7] + "-dirty (commit " + head + ", modified)"
		}
	}
	got, v := versionOf(t, exlabBin)
	if got != want {
		t.Errorf("exlab version = %q\nwant %q (linked worktree %v, GOFLAGS %q)", got, want, linked, strings.TrimSpace(string(goflags)))
	}
	if stamps && v.Time == "" {
		t.Errorf("no commit time in %+v", v)
	}
}

// TestVersionLdflags: built as make release builds it (-ldflags main.version and main.commit;
// -race like TestMain's binary, so only the link is new), exlab version prints that version and
// that commit, in a worktree too.
func TestVersionLdflags(t *testing.T) {
	head := gitOut(t, "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "exlab")
	ld := "-X main.version=v9.8.7-test -X main.commit=" + head
	if out, err := exec.Command("go", "build", "-race", "-ldflags", ld, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	got, v := versionOf(t, bin)
	if want := "exlab v9.8.7-test (commit " + head + ")"; got != want {
		t.Errorf("exlab version = %q, want %q", got, want)
	}
	if v.Version != "v9.8.7-test" || v.Commit != head || v.Modified {
		t.Errorf("--json = %+v", v)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != got {
		t.Errorf("exlab --version = %q, %v; want %q", out, err, got)
	}
}
