package browserpolicy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// tree lists every file (with its content) and folder under root.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInstallUninstallFiles(t *testing.T) {
	firefoxIT := `{"policies":{"DisableTelemetry":true,"LocalNetworkAccess":{"SkipDomains":["intranet.corp"]}}}`
	tests := []struct {
		name string
		// before is what the machine has: files (content) and folders ("/").
		before map[string]string
	}{
		{"bare machine", map[string]string{"etc/": ""}},
		{"Chrome and Firefox with IT's policies", map[string]string{
			"etc/opt/chrome/policies/managed/it.json": `{"HomepageLocation":"https://intranet.corp"}`,
			"etc/firefox/policies/policies.json":      firefoxIT,
			"var/lib/orionbridge/":                    "",
		}},
	}
	origins := []string{"https://editor.example.com", "http://127.0.0.1:8080"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range tt.before {
				full := filepath.Join(root, p)
				if strings.HasSuffix(p, "/") {
					if err := os.MkdirAll(full, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := tree(t, root)

			statuses, err := Install(root, Options{Origins: origins, Iframe: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range statuses {
				if !s.InPlace || !s.Current {
					t.Errorf("%s after install: %+v; want in place and current", s.Browser, s)
				}
			}
			want, _ := ChromiumPolicy(Options{Origins: origins, Iframe: true})
			for _, dir := range []string{"etc/chromium", "etc/opt/chrome", "etc/opt/edge"} {
				path := filepath.Join(root, dir, "policies/managed", FileName)
				got, err := os.ReadFile(path)
				if err != nil || string(got) != string(want) {
					t.Errorf("%s: %q, %v; want %s", path, got, err, want)
				}
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("%s: mode %v, %v; want 0644, readable by every user's browser", path, fi.Mode(), err)
				}
			}
			ff, err := os.ReadFile(filepath.Join(root, "etc/firefox/policies/policies.json"))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Policies map[string]json.RawMessage `json:"policies"`
			}
			if err := json.Unmarshal(ff, &doc); err != nil {
				t.Fatal(err)
			}
			var lna struct{ SkipDomains []string }
			_ = json.Unmarshal(doc.Policies["LocalNetworkAccess"], &lna)
			for _, d := range []string{"editor.example.com", "127.0.0.1"} {
				if !slices.Contains(lna.SkipDomains, d) {
					t.Errorf("Firefox SkipDomains %q lacks %s", lna.SkipDomains, d)
				}
			}
			if strings.Contains(tt.before["etc/firefox/policies/policies.json"], "DisableTelemetry") &&
				(string(doc.Policies["DisableTelemetry"]) != "true" || !slices.Contains(lna.SkipDomains, "intranet.corp")) {
				t.Errorf("IT's Firefox policies were not kept:\n%s", ff)
			}

			// Idempotent: a second install leaves every byte as it was.
			installed := tree(t, root)
			if _, err := Install(root, Options{Origins: origins, Iframe: true}); err != nil {
				t.Fatal(err)
			}
			if again := tree(t, root); !reflect.DeepEqual(again, installed) {
				t.Errorf("a second install changed the files:\n%v\nfirst:\n%v", again, installed)
			}

			// allowed_origins changed: status says so, install follows.
			changed := []string{"https://other.example.com"}
			statuses, err = Status(root, Options{Origins: changed})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range statuses {
				if s.Current {
					t.Errorf("%s: current after allowed_origins changed: %+v", s.Browser, s)
				}
			}
			if _, err := Install(root, Options{Origins: changed}); err != nil {
				t.Fatal(err)
			}
			statuses, _ = Status(root, Options{Origins: changed})
			for _, s := range statuses {
				if !s.Current || s.Iframe || slices.Contains(s.Entries, "https://editor.example.com:443") || slices.Contains(s.Entries, "editor.example.com") {
					t.Errorf("%s after install with new origins: %+v; want only the new origin, no iframe policy", s.Browser, s)
				}
			}

			done, err := Uninstall(root)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("uninstall:\n%s", strings.Join(done, "\n"))
			after := tree(t, root)
			// Firefox's file is rewritten: compare it as JSON.
			ffPath := "etc/firefox/policies/policies.json"
			if b, a := before[ffPath], after[ffPath]; b != "" {
				var bv, av any
				_ = json.Unmarshal([]byte(b), &bv)
				if err := json.Unmarshal([]byte(a), &av); err != nil || !reflect.DeepEqual(av, bv) {
					t.Errorf("Firefox policies after uninstall:\n%s\nwant %s", a, b)
				}
				after[ffPath] = b
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("after uninstall the machine has\n%v\nwant it as before\n%v", after, before)
			}
			// A second uninstall has nothing left to do, and fails nothing.
			if _, err := Uninstall(root); err != nil {
				t.Errorf("second uninstall: %v", err)
			}
		})
	}
}

// A policy folder that others can write is refused: they could swap the
// policy for their own.
func TestInstallRefusesWritableFolder(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/chromium/policies/managed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := Install(root, Options{Origins: []string{"https://editor.example.com"}})
	if err == nil || !strings.Contains(err.Error(), "writable by others") || !strings.Contains(err.Error(), "chmod") {
		t.Fatalf("install into a world-writable folder: %v; want refused, naming the fix", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		t.Error("the policy was written into the world-writable folder")
	}
}
