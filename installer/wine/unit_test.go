//go:build linux

package wine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// windowsTests are tests of this module's packages that matter most on
// Windows, run as Windows programs (the package's test binary,
// cross-compiled) under Wine: real Winsock and crypt32, not their Linux
// stand-ins. Before issue 14's fix the bridge's three failed with
// "bind: winapi error #10048": WSAEADDRINUSE was not taken for "address in
// use", so neither the fallback ports nor "already running" worked.
var windowsTests = []struct{ pkg, run string }{
	{"./bridge/", "^(TestIsAddrInUse|TestIsNoSuchAddress|TestFallbackPorts|TestSecondInstanceRefused)$"},
}

func TestPackageTestsUnderWine(t *testing.T) {
	root := setup(t)
	p := newPrefix(t, "")
	for _, tc := range windowsTests {
		t.Run(strings.Trim(tc.pkg, "./"), func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "pkg.test.exe")
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			defer cancel()
			build := exec.CommandContext(ctx, "go", "test", "-c", "-o", exe, tc.pkg)
			build.Dir = root
			build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=windows go test -c %s: %v\n%s", tc.pkg, err, out)
			}
			win := `C:\` + strings.Trim(strings.ReplaceAll(tc.pkg, "/", ""), ".") + ".test.exe"
			copyFile(t, exe, p.path(win))
			out, err := p.wine(5*time.Minute, win, "-test.run", tc.run, "-test.count=1", "-test.v")
			t.Logf("%s under Wine:\n%s", tc.pkg, out)
			if err != nil || !strings.Contains(out, "\nPASS") {
				t.Errorf("%s -test.run %s under Wine: %v", tc.pkg, tc.run, err)
			}
		})
	}
}
