package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHandler checks what the handler serves: the page and its assets
// with their types and a Content-Security-Policy without inline script,
// 304 for a known ETag, 404 elsewhere, 405 for other methods.
func TestHandler(t *testing.T) {
	ts := httptest.NewServer(Handler())
	defer ts.Close()

	for path, want := range map[string]string{
		"/":            "text/html; charset=utf-8",
		"/console.js":  "text/javascript; charset=utf-8",
		"/console.css": "text/css; charset=utf-8",
		"/favicon.svg": "image/svg+xml",
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, want)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", path)
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET %s sets a cookie", path)
		}

		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", path, again.StatusCode)
		}
	}

	for _, path := range []string{"/index.html", "/api/streams", "/static/console.js", "/nope"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(ts.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// TestNoHTMLSinks keeps the page's rule that store content is set as
// text: no script uses an API that parses a string as HTML, and the page
// has no inline script or handler, which the CSP would block anyway.
func TestNoHTMLSinks(t *testing.T) {
	js := string(assets["/console.js"].body)
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser", "createContextualFragment", "eval(", "new Function", "srcdoc"} {
		if strings.Contains(js, sink) {
			t.Errorf("console.js uses %s", sink)
		}
	}
	html := string(assets["/"].body)
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(html) || regexp.MustCompile(`\son[a-z]+=`).MatchString(html) {
		t.Error("index.html has inline script or an inline event handler")
	}
	if regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).MatchString(html) {
		t.Error("index.html loads something from another origin")
	}
}
