package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// baseline is the exlab that the working tree's binary is compared with (issue 14 point 4).
type baseline struct {
	Ref    string // what -baseline said: a binary path or a git ref
	Commit string // the commit it was built from; empty for a binary given by path
	Bin    string // the binary to run
}

// String is how RESULTS.md names the baseline.
func (b baseline) String() string {
	if b.Commit == "" {
		return "binary " + b.Ref
	}
	return fmt.Sprintf("git ref %s (commit %s)", b.Ref, b.Commit)
}

// resolveBaseline turns -baseline REF into a binary. An existing file is used as it is;
// anything else is taken for a git ref of the repository at repo: its tree is exported with
// `git archive` (no worktree is registered, nothing in the repository changes) into a directory
// under tmp and exlab is built there with `go build -o … ./cmd/exlab`. The export is removed
// after the build; the binary stays in tmp, which the caller removes.
func resolveBaseline(repo, ref, tmp string) (baseline, error) {
	if st, err := os.Stat(ref); err == nil && !st.IsDir() {
		return baseline{Ref: ref, Bin: ref}, nil
	}
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--verify", "--quiet", ref+"^{commit}").Output()
	if err != nil {
		return baseline{}, fmt.Errorf("-baseline %q is neither a file nor a git commit of %s", ref, repo)
	}
	commit := strings.TrimSpace(string(out))
	src, err := os.MkdirTemp(tmp, "baseline-src")
	if err != nil {
		return baseline{}, err
	}
	defer os.RemoveAll(src)
	archive := exec.Command("git", "-C", repo, "archive", "--format=tar", commit)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return baseline{}, err
	}
	untar.Stdin = pipe
	var aerr, terr strings.Builder
	archive.Stderr, untar.Stderr = &aerr, &terr
	if err := untar.Start(); err != nil {
		return baseline{}, err
	}
	if err := archive.Run(); err != nil {
		_ = untar.Wait()
		return baseline{}, fmt.Errorf("git archive %s: %v %s", commit, err, aerr.String())
	}
	if err := untar.Wait(); err != nil {
		return baseline{}, fmt.Errorf("tar -x: %v %s", err, terr.String())
	}
	bin := filepath.Join(tmp, "exlab-"+commit[:12])
	build := exec.Command("go", "build", "-o", bin, "./cmd/exlab")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return baseline{}, fmt.Errorf("go build at %s: %v\n%s", commit[:12], err, out)
	}
	return baseline{Ref: ref, Commit: commit, Bin: bin}, nil
}
