//go:build linux

package e2e

// Issue 15, point 4: IT approves Local Network Access by policy, so that no
// operator sees (or dismisses) Chrome's prompt. A page from 127.0.0.1,
// which Chromium is told to treat as a public site
// (--ip-address-space-overrides), opens a session through the bridge on
// localhost once `orionbridge policy install` has written the managed
// policy into the real /etc/chromium/policies/managed/, with no
// Browser.setPermission call and nobody at the browser; without the policy
// the same page is blocked (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).
// Chromium 156 reads the managed folder at start and also watches it (a
// running browser picked the policy up within 10 s in a trial), but each
// case starts a fresh browser anyway, so that nothing a browser learnt
// carries over between cases: only the policy differs.

import (
	"bytes"
	"errors"
	"io/fs"
	"net/url"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"
)

// policyPaths are every file and folder `policy install` may create on
// Linux (browserpolicy/layout_linux.go).
var policyPaths = []string{
	"/etc/chromium/policies/managed/orionbridge.json",
	"/etc/opt/chrome/policies/managed/orionbridge.json",
	"/etc/opt/edge/policies/managed/orionbridge.json",
	"/etc/firefox/policies/policies.json",
	"/var/lib/orionbridge/browser-policy.json",
}

// snapshot is the machine's policy files and folders: content, or absent.
type snapshot map[string]*[]byte

func takeSnapshot(t *testing.T) snapshot {
	t.Helper()
	s := snapshot{}
	for _, p := range policyPaths {
		for d := p; d != "/"; d = filepath.Dir(d) {
			if _, seen := s[d]; seen {
				break
			}
			fi, err := os.Lstat(d)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				s[d] = nil
			case err != nil:
				t.Fatal(err)
			case fi.IsDir():
				s[d] = new([]byte)
			default:
				data, err := os.ReadFile(d)
				if err != nil {
					t.Fatal(err)
				}
				s[d] = &data
			}
		}
	}
	return s
}

// restore puts back what differs from s (deepest paths first, so a folder
// is emptied before it is removed) and names each difference.
func (s snapshot) restore() []string {
	var diffs []string
	paths := make([]string, 0, len(s))
	for p := range s {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	for _, p := range paths {
		want := s[p]
		fi, err := os.Lstat(p)
		switch {
		case want == nil && err == nil:
			diffs = append(diffs, p+" was left behind")
			_ = os.RemoveAll(p)
		case want != nil && err != nil:
			diffs = append(diffs, p+" is gone")
			if strings.HasSuffix(p, ".json") {
				_ = os.MkdirAll(filepath.Dir(p), 0o755)
				_ = os.WriteFile(p, *want, 0o644)
			} else {
				_ = os.MkdirAll(p, 0o755)
			}
		case want != nil && !fi.IsDir():
			if data, _ := os.ReadFile(p); !bytes.Equal(data, *want) {
				diffs = append(diffs, p+" changed")
				_ = os.WriteFile(p, *want, fi.Mode().Perm())
			}
		}
	}
	return diffs
}

func TestLocalNetworkPolicyInChromium(t *testing.T) {
	testutil.RequireRoot(t, "policy install writes the managed policy into /etc/chromium/policies/managed/")
	e := newEnv(t)
	mustOrion(t, e.home, "certs", "install", "--scope", "user", "--config", e.config)
	e.startBridge(t)
	page, err := url.Parse(e.pageURL)
	if err != nil {
		t.Fatal(err)
	}

	// A run killed before its cleanup may have left our policy behind;
	// the "without" case would then pass through it. Our files are ours by
	// name, so take them out first.
	if _, err := os.Stat(policyPaths[0]); err == nil {
		out, err := orion(t, e.home, "policy", "uninstall")
		t.Logf("removed a policy left behind by an earlier run: %v\n%s", err, out)
	}
	// Whatever happens below, the machine ends as it was: uninstall, then
	// anything uninstall missed is put back, and that fails the test.
	before := takeSnapshot(t)
	t.Cleanup(func() {
		if out, err := orion(t, e.home, "policy", "uninstall"); err != nil {
			t.Errorf("policy uninstall at cleanup: %v\n%s", err, out)
		}
		if diffs := before.restore(); len(diffs) > 0 {
			t.Errorf("policy uninstall did not leave the machine as it was: %s (restored)", strings.Join(diffs, "; "))
		}
	})

	ws := "wss://localhost:" + strconv.Itoa(e.port) + "/ws"
	// A fresh browser per case, with the test page's origin public.
	open := func(t *testing.T) *browser {
		return openBrowser(t, e.home, chromedp.Flag("ip-address-space-overrides", page.Host+"=public"))
	}
	blocked := func(t *testing.T) {
		b := open(t)
		res := b.visit(t, e.pageURL)
		if res.Opened || res.Received != "" {
			t.Errorf("WebSocket: opened=%v, received %q; want it blocked by Local Network Access", res.Opened, res.Received)
		}
		text := b.loadFailure(t, ws)
		t.Logf("Chromium: %s failed: %s", ws, text)
		if !strings.Contains(text, "LOCAL_NETWORK") && !strings.Contains(strings.ToLower(text), "local network") {
			t.Errorf("%s failed with %q; want a Local Network Access error", ws, text)
		}
	}

	if !t.Run("without the policy the public page is blocked", blocked) {
		return
	}

	if !t.Run("policy install: the public page connects", func(t *testing.T) {
		mustOrion(t, e.home, "policy", "install", "--config", e.config)
		out, err := orion(t, e.home, "policy", "status", "--config", e.config)
		if err != nil || !strings.Contains(out, "Chromium") || !strings.Contains(out, "in place for http://"+page.Host) {
			t.Errorf("policy status: %v\n%s\nwant Chromium in place for http://%s", err, out, page.Host)
		}
		b := open(t)
		e.checkEcho(t, b, b.visit(t, e.pageURL))
	}) {
		return
	}

	t.Run("policy uninstall: blocked again", func(t *testing.T) {
		mustOrion(t, e.home, "policy", "uninstall")
		if _, err := os.Stat(policyPaths[0]); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after policy uninstall: %v; want it gone", policyPaths[0], err)
		}
		blocked(t)
	})
}

// TestPolicyInstallNeedsRoot runs policy install as an ordinary user.
func TestPolicyInstallNeedsRoot(t *testing.T) {
	testutil.RequireRoot(t, "it runs the command as the user nobody")
	// binDir and t.TempDir() are private to root: copy the binary where
	// nobody can run it.
	dir, err := os.MkdirTemp("", "orionbridge-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(orionbridge(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "orionbridge")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"install", "uninstall"} {
		cmd := exec.Command(bin, "policy", sub)
		cmd.Env = homeEnv(dir)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "needs root: run with sudo") {
			t.Errorf("policy %s as nobody: %v\n%s\nwant exit status 1 and \"needs root: run with sudo\"", sub, err, out)
		}
	}
}
