package assets

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

// These are cheap structural guards for the diagnostics page. The bridge
// serves it under a strict Content-Security-Policy (script-src 'self';
// style-src 'self'; no external resources), so anything inline would be
// silently blocked by the browser.

func readWeb(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(Web, "web/"+name)
	if err != nil {
		t.Fatalf("read web/%s: %v", name, err)
	}
	return string(b)
}

func webFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(Web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk web: %v", err)
	}
	return names
}

func TestWebFilesNonEmpty(t *testing.T) {
	names := webFiles(t)
	for _, want := range []string{"web/index.html", "web/diagnostics.js", "web/diagnostics.css"} {
		found := false
		for _, n := range names {
			if n == want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is not embedded", want)
		}
	}
	for _, n := range names {
		b, err := fs.ReadFile(Web, n)
		if err != nil {
			t.Errorf("read %s: %v", n, err)
			continue
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			t.Errorf("%s is empty", n)
		}
	}
}

var refAttr = regexp.MustCompile(`(?i)\s(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))`)

func TestIndexReferencesOnlyEmbeddedFiles(t *testing.T) {
	html := readWeb(t, "index.html")
	refs := refAttr.FindAllStringSubmatch(html, -1)
	if len(refs) == 0 {
		t.Fatal("index.html references no files")
	}
	for _, m := range refs {
		ref := m[1] + m[2] + m[3]
		if ref == "" || strings.HasPrefix(ref, "#") {
			continue
		}
		if strings.Contains(ref, ":") || strings.HasPrefix(ref, "//") {
			t.Errorf("index.html references %q: only files under web/ are allowed (CSP default-src 'self')", ref)
			continue
		}
		if i := strings.IndexAny(ref, "?#"); i >= 0 {
			ref = ref[:i]
		}
		name := path.Clean("web/" + strings.TrimPrefix(ref, "/"))
		if _, err := fs.Stat(Web, name); err != nil {
			t.Errorf("index.html references %q, which is not embedded (%s)", ref, name)
		}
	}
	for _, want := range []string{"diagnostics.js", "diagnostics.css"} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html does not load %s", want)
		}
	}
}

var (
	scriptTag   = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
	styleTag    = regexp.MustCompile(`(?i)<style\b`)
	styleAttr   = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=`)
	handlerAttr = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	jsURL       = regexp.MustCompile(`(?i)javascript:`)
)

func TestIndexHasNothingInline(t *testing.T) {
	html := readWeb(t, "index.html")
	scripts := scriptTag.FindAllStringSubmatch(html, -1)
	if len(scripts) == 0 {
		t.Error("index.html has no <script src=...>")
	}
	for _, m := range scripts {
		if !regexp.MustCompile(`(?i)\ssrc\s*=`).MatchString(m[1]) {
			t.Errorf("inline <script%s> (CSP script-src 'self' blocks it)", m[1])
		}
		if strings.TrimSpace(m[2]) != "" {
			t.Errorf("<script%s> has an inline body", m[1])
		}
	}
	if strings.Count(strings.ToLower(html), "<script") != len(scripts) {
		t.Error("index.html has an unterminated <script> tag")
	}
	if styleTag.MatchString(html) {
		t.Error("index.html has a <style> element (CSP style-src 'self' blocks it)")
	}
	if m := styleAttr.FindString(html); m != "" {
		t.Errorf("index.html has a style= attribute: %s", m)
	}
	if m := handlerAttr.FindString(html); m != "" {
		t.Errorf("index.html has an inline event handler: %s", m)
	}
	if jsURL.MatchString(html) {
		t.Error("index.html has a javascript: URL")
	}
}

func TestScriptsAvoidHTMLInjectionAndEval(t *testing.T) {
	banned := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"style\"", "setAttribute('style'"}
	for _, n := range webFiles(t) {
		if !strings.HasSuffix(n, ".js") {
			continue
		}
		b, err := fs.ReadFile(Web, n)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, bad := range banned {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s; build the DOM with createElement/textContent", n, bad)
			}
		}
	}
}

func TestStylesheetsLoadNothingExternal(t *testing.T) {
	for _, n := range webFiles(t) {
		if !strings.HasSuffix(n, ".css") {
			continue
		}
		b, err := fs.ReadFile(Web, n)
		if err != nil {
			t.Fatal(err)
		}
		css := strings.ToLower(string(b))
		if strings.Contains(css, "@import") || strings.Contains(css, "url(http") || strings.Contains(css, "url(//") {
			t.Errorf("%s loads an external resource", n)
		}
	}
}
