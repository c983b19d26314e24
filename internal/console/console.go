// Package console is the web console of "evstore serve": a page at "/"
// that lists streams, reads a stream's events, tails @all live, lists
// consumers with their lag and deletes a stream, all through the JSON
// API under /api/. It is static HTML, CSS and JavaScript embedded in the
// binary: no CDN, nothing to build.
//
// The page renders every piece of event content as text, never as HTML,
// and its Content-Security-Policy lets only its own script run. With
// tokens, it asks for one and sends it as "Authorization: Bearer" on
// each request (no cookies, so no cross-site request can borrow it); the
// live tail reads the Server-Sent Events stream with fetch, since
// EventSource cannot send that header.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var static embed.FS

// An asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// types are the content types of the assets, by extension: fixed here,
// not taken from the machine's MIME database, which differs from one
// system to the next.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// assets maps a URL path to its file; "/" is the page.
var assets = load()

func load() map[string]asset {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	out := map[string]asset{}
	err = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, contentType: types[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if a.contentType == "" {
			return fmt.Errorf("console: %s: no content type for its extension", name)
		}
		if name == "index.html" {
			name = ""
		}
		out["/"+name] = a
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}

// csp lets the page load its own script, style and images and call its
// own origin, and nothing else: no inline script, so even text that
// slipped into the page as HTML could not run.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the console: the page at "/" and its assets (GET and
// HEAD), and 404 for any other path. Mount it at "/" beside the API;
// the page calls /api/ on its own origin. It needs no token: the page
// holds no data until the API, which checks tokens, gives it some.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache") // revalidate: a new binary may serve a new page
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
