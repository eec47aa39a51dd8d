//go:build linux

package cli

import (
	"bytes"
	"orionbridge/config/configtest"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyCommand runs policy install, status and uninstall against a
// temporary root: exit statuses, and what each prints.
func TestPolicyCommand(t *testing.T) {
	testutil.SetHome(t)
	configtest.UseManagedConfig(t, "")
	root := t.TempDir()
	cfg := testutil.TempFile(t, "config.toml", `allowed_origins = ["https://editor.example.com"]`+"\n")
	empty := testutil.TempFile(t, "empty.toml", "")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runPolicy(root, args, &out, &errb)
		return code, out.String(), errb.String()
	}
	// The steps run in order, on one machine.
	steps := []struct {
		args       []string
		code       int
		out, errOf string
	}{
		{nil, exitUsage, "", "usage: orionbridge policy"},
		{[]string{"enable"}, exitUsage, "", `unknown command "enable"`},
		{[]string{"status", "--iframe"}, exitUsage, "", "--iframe is for install"},
		{[]string{"install", "--config", empty}, exitFailure, "", "allowed_origins is empty"},
		{[]string{"status", "--config", cfg}, exitFailure, "not installed", ""},
		{[]string{"install", "--config", cfg, "--iframe"}, exitOK, "Chromium        " + root + "/etc/chromium/policies/managed/orionbridge.json: in place for https://editor.example.com:443; iframe policy", ""},
		{[]string{"status", "--config", cfg}, exitOK, "Firefox         " + root + "/etc/firefox/policies/policies.json: in place for editor.example.com", ""},
		{[]string{"uninstall"}, exitOK, "Chromium: removed " + root + "/etc/chromium/policies/managed/orionbridge.json", ""},
		{[]string{"uninstall"}, exitOK, "nothing to remove", ""},
		{[]string{"status", "--config", cfg}, exitFailure, "Run `sudo orionbridge policy install`", ""},
	}
	for _, s := range steps {
		code, out, errs := run(s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.errOf) {
			t.Errorf("policy %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr with %q",
				strings.Join(s.args, " "), code, out, errs, s.code, s.out, s.errOf)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("uninstall left %v in %s", entries, filepath.Base(root))
	}
}
