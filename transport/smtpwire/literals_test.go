package smtpwire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// replyLiteral is what a hand-written SMTP reply looks like in Go source: a string literal that
// starts with a code and an enhanced code ("550 5.1.10 …").
var replyLiteral = regexp.MustCompile(`^[245]\d\d [245]\.\d+\.\d+ `)

// TestNoReplyLiterals walks the module's Go sources and fails on a reply text written outside
// the table (STYLE §2: every reply exlab sends or stores is a row of replies.go/replies_table.go).
// Tests, testdata and the table itself are exempt; comments do not count, as only string
// literals of the syntax tree are read.
func TestNoReplyLiterals(t *testing.T) {
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "transport/smtpwire/replies") || rel == "transport/smtpwire/gen_replies.go" {
			return nil
		}
		for _, lit := range replyLiterals(t, path) {
			t.Errorf("%s:%d: reply text outside the table: %s", rel, lit.line, lit.text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type literal struct {
	line int
	text string
}

// replyLiterals lists the string literals of one file that look like SMTP replies.
func replyLiterals(t *testing.T, path string) []literal {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []literal
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err == nil && replyLiteral.MatchString(s) {
			out = append(out, literal{fset.Position(lit.Pos()).Line, lit.Value})
		}
		return true
	})
	return out
}

// TestReplyLiteralsFound guards the walker itself: it must see a literal in code and ignore
// one in a comment.
func TestReplyLiteralsFound(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\n// \"550 5.1.1 in a comment\"\nvar a = \"451 4.4.0 in code\"\nvar b = `250 2.0.0 raw`\nvar c = \"250 OK\"\n"
	path := filepath.Join(dir, "p.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := replyLiterals(t, path)
	if len(got) != 2 || got[0].line != 4 || got[1].line != 5 {
		t.Errorf("found %v, want the literals on lines 4 and 5", got)
	}
}
