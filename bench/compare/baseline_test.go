package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitRepo makes a throwaway module whose cmd/exlab prints version, one commit per version.
func gitRepo(t *testing.T, versions ...string) (dir string, commits []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir = t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	if err := os.MkdirAll(filepath.Join(dir, "cmd/exlab"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.test/x\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"" + v + "\") }\n"
		if err := os.WriteFile(filepath.Join(dir, "cmd/exlab/main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		run("add", "-A")
		run("commit", "-q", "-m", v)
		commits = append(commits, run("rev-parse", "HEAD"))
	}
	return dir, commits
}

func TestResolveBaseline(t *testing.T) {
	repo, commits := gitRepo(t, "one", "two")
	file := filepath.Join(t.TempDir(), "exlab-old")
	if err := os.WriteFile(file, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref        string
		wantCommit string
		wantOutput string // what the built binary prints
		wantBin    string
		wantErr    bool
	}{
		{ref: "HEAD~1", wantCommit: commits[0], wantOutput: "one"},
		{ref: "HEAD", wantCommit: commits[1], wantOutput: "two"},
		{ref: commits[0][:10], wantCommit: commits[0], wantOutput: "one"},
		{ref: file, wantBin: file},
		{ref: "no-such-ref", wantErr: true},
		{ref: "HEAD~5", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			tmp := t.TempDir()
			b, err := resolveBaseline(repo, tc.ref, tmp)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("resolveBaseline(%q) = %+v, want an error", tc.ref, b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Commit != tc.wantCommit {
				t.Errorf("commit %q, want %q", b.Commit, tc.wantCommit)
			}
			if tc.wantBin != "" {
				if b.Bin != tc.wantBin {
					t.Errorf("bin %q, want %q", b.Bin, tc.wantBin)
				}
				return
			}
			out, err := exec.Command(b.Bin).Output()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.wantOutput {
				t.Errorf("baseline binary printed %q, want %q (built from the wrong tree)", out, tc.wantOutput)
			}
			// Only the binary is left behind: the exported tree is gone.
			ents, _ := os.ReadDir(tmp)
			if len(ents) != 1 || ents[0].Name() != filepath.Base(b.Bin) {
				t.Errorf("tmp holds %v, want only the binary", ents)
			}
			if !strings.Contains(b.String(), tc.wantCommit) {
				t.Errorf("String() = %q lacks the commit", b.String())
			}
		})
	}
}
