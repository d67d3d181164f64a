package console

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	for _, c := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/pages/dashboard.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/vendor/uPlot.min.css", 200, "text/css; charset=utf-8"},
		{"GET", "/no/such/page", 200, "text/html; charset=utf-8"}, // the pages route by the fragment
		{"GET", "/pages/", 200, "text/html; charset=utf-8"},
		{"POST", "/", 405, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || (c.ctype != "" && rec.Header().Get("Content-Type") != c.ctype) {
			t.Errorf("%s %s: %d %q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if c.status == 200 && rec.Header().Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: no CSP", c.path)
		}
	}
}

// TestAssetsComplete: what index.html loads and every page the router knows are embedded, and
// no asset loads anything from elsewhere (the CSP would block it; this says which file).
func TestAssetsComplete(t *testing.T) {
	root := Assets()
	index, _ := fs.ReadFile(root, "index.html")
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(string(index), -1) {
		if _, err := fs.Stat(root, m[1]); err != nil {
			t.Errorf("index.html loads %s: %v", m[1], err)
		}
	}
	app, _ := fs.ReadFile(root, "app.js")
	m := regexp.MustCompile(`const pages = \[([^\]]+)\]`).FindSubmatch(app)
	if m == nil {
		t.Fatal("app.js has no page list")
	}
	for _, p := range regexp.MustCompile(`'(\w+)'`).FindAllSubmatch(m[1], -1) {
		if _, err := fs.Stat(root, "pages/"+string(p[1])+".js"); err != nil {
			t.Errorf("page %s: %v", p[1], err)
		}
		if !strings.Contains(string(index), `data-page="`+string(p[1])+`"`) {
			t.Errorf("page %s is not in the navigation", p[1])
		}
	}
	_ = fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() || strings.HasPrefix(path, "vendor/") {
			return nil
		}
		b, _ := fs.ReadFile(root, path)
		if u := regexp.MustCompile(`(?:src|href|import|url)\s*[=(]\s*['"]?(https?:)?//`).Find(b); u != nil {
			t.Errorf("%s refers to another site: %s", path, u)
		}
		return nil
	})
}

// TestVendoredAssets: the vendored files are the pinned npm package's (make console-vendor).
func TestVendoredAssets(t *testing.T) {
	root := Assets()
	sums, err := fs.ReadFile(root, "vendor/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(sums)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		b, err := fs.ReadFile(root, "vendor/"+f[1])
		if err != nil {
			t.Errorf("%s: %v", f[1], err)
			continue
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f[0] {
			t.Errorf("%s is not the pinned package's file (run make console-vendor)", f[1])
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d vendored files checked, want 3", n)
	}
}
