package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDemoSiteServesTheExampleAndTheClient(t *testing.T) {
	srv := httptest.NewServer(DemoSiteHandler(21480))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `allow="loopback-network; local-network-access"`},
		{"/editor.html", "text/html", `src="/editor.js"`},
		{"/editor.js", "text/javascript", `from "/client.js"`},
		{"/shop.js", "text/javascript", "orion-editor-status"},
		{"/example.css", "text/css", ".editor-frame"},
		{"/client.js", "text/javascript", "export function connect"},
		{"/client.d.ts", "", "export function connect"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		resp, body := get(tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, resp.StatusCode)
			continue
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-src 'self' http://localhost:21480 http://127.0.0.1:21480", "connect-src 'self' https://localhost:* wss://localhost:* http://localhost:*"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
	}
	if resp, _ := get("/missing.html"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /missing.html: %d, want 404", resp.StatusCode)
	}
	// Only the example and the client: not the bridge's diagnostics page.
	if resp, _ := get("/diagnostics.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /diagnostics.js: %d, want 404", resp.StatusCode)
	}
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

func TestDemoSiteListensOnLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:21480": true,
		"[::1]:0":         true,
		"localhost:21480": true,
		"0.0.0.0:21480":   false,
		":21480":          false,
		"192.0.2.1:21480": false,
		"example.com:80":  false,
		"127.0.0.1":       false,
	} {
		if err := checkLoopbackAddr(addr); (err == nil) != ok {
			t.Errorf("checkLoopbackAddr(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := demoSiteCommand([]string{"--listen", "0.0.0.0:0"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("demo-site --listen 0.0.0.0:0: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "loopback only") {
		t.Errorf("stderr %q does not say why", stderr.String())
	}
}
