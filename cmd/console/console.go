// Package console owns exlab's web console: the pages an admin opens in a browser on the admin
// listener, in the spirit of the Exchange admin center (EAC), whose pages run the cmdlets the
// shell does. It serves embedded assets only (no CDN, nothing fetched at run time); everything
// the pages show comes from /api/v1 (the cmdlets through POST /api/v1/shell, deliveries, tracking
// and load figures from the event stream). It does not own authentication: the admin API's
// token guards the data, and the pages ask for it once (POST /api/v1/login sets a cookie).
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Assets is the console's files (index.html, app.js, pages/*.js, vendor/ with uPlot).
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// CSP is the console's Content-Security-Policy: its own scripts and styles only, no remote
// content, frames only from itself (a message's HTML body, itself sandboxed).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

// Handler serves the console at / : index.html for / and every path that is not a file (the
// pages route by the URL's fragment), the assets by name.
func Handler() http.Handler {
	files := http.FileServerFS(Assets())
	root := Assets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the console's pages are read with GET", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache") // revalidated: a new binary's assets are seen at once
		p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if p == "" || p == "." {
			serveIndex(w, r, root)
			return
		}
		if st, err := fs.Stat(root, p); err != nil || st.IsDir() {
			serveIndex(w, r, root)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, root fs.FS) {
	b, err := fs.ReadFile(root, "index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}
