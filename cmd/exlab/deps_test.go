package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/exlab/exlab/"

// allowed is STYLE.md §1's import table: which exlab packages each package may import. A new
// edge fails this test (compare golang/go src/go/build/deps_test.go).
var allowed = map[string][]string{
	"transport/smtpwire":    {},
	"config":                {"transport/smtpwire"},
	"config/gendoc":         {"config"},
	"routing":               {"config"},
	"queue":                 {},
	"transport/smtpreceive": {"transport/smtpwire", "config"},
	"transport/smtpsend":    {"transport/smtpwire", "config"},
	"frontend":              {"transport/smtpreceive", "transport/smtpsend", "transport/smtpwire", "routing", "config"},
	"transport":             {"transport/smtpreceive", "transport/smtpsend", "transport/smtpwire", "queue", "routing", "config"},
	// The Mailbox Transport Delivery service: reached by the hub over SMTP only, never imported by it.
	"transport/mailboxtransport": {"transport/smtpreceive", "transport/smtpwire", "queue", "routing", "config"},
	"bench":                      {},
	"bench/compare":              {"bench"},
	"cmd/adminapi":               {"config", "queue", "transport", "transport/smtpreceive", "transport/smtpwire"},
	"cmd/probe":                  {"bench", "config", "routing", "transport/smtpreceive"},
	"cmd/emshell":                {"bench", "cmd/shell", "cmd/adminapi", "config", "routing", "transport"},
	"cmd/shell":                  {},
	// The web console: embedded assets only; its data comes over HTTP from /api/v1.
	"cmd/console": {},
	"cmd/format":  {"bench", "cmd/adminapi", "cmd/probe", "queue", "routing", "transport"},
	"cmd/server":  {"cmd/adminapi", "cmd/console", "cmd/emshell", "config", "routing", "queue", "transport", "transport/mailboxtransport", "transport/smtpreceive", "transport/smtpsend", "transport/smtpwire", "frontend"},
	"cmd/exlab": {"cmd/server", "cmd/adminapi", "cmd/emshell", "cmd/shell", "cmd/probe", "cmd/format", "config", "routing", "queue", "transport",
		"transport/smtpreceive", "transport/smtpsend", "transport/smtpwire", "frontend", "bench"},
}

func TestImportGraph(t *testing.T) {
	root := "../.."
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if len(f.Comments) > 0 && f.Comments[0].List[0].Text == "//go:build ignore" {
			return nil
		}
		ok, known := allowed[rel]
		if !known {
			t.Errorf("package %s is not in the import table of STYLE.md §1", rel)
			return nil
		}
		seen[rel] = true
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, module) {
				continue
			}
			dep := strings.TrimPrefix(p, module)
			if !contains(ok, dep) {
				t.Errorf("%s imports %s, which STYLE.md §1 does not allow", path, dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for p := range allowed {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("packages of the table not found: %v", missing)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
