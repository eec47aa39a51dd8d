//go:build linux

package wine

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The harness must stop a Windows program that grows without end or never
// ends, and leave none of the prefix's processes behind: the old uninstall
// grew to 21 GB in 100 s, and this is what keeps a regression of that kind
// from eating the machine. testdata/runaway.c misbehaves on purpose.
func TestHarnessBoundsWineProcesses(t *testing.T) {
	setup(t)
	exe := filepath.Join(t.TempDir(), "runaway.exe")
	src, _ := filepath.Abs(filepath.Join("testdata", "runaway.c"))
	if out, err := exec.Command("x86_64-w64-mingw32-gcc", "-O2", "-s", "-Wall", "-Werror", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", src, err, out)
	}
	p := newPrefix(t, "")
	copyFile(t, exe, p.path(`C:\runaway.exe`))
	for _, tc := range []struct {
		mode  string
		limit time.Duration
		want  string
	}{
		{"grow", 5 * time.Minute, "memory bound: killed every Wine process of the prefix"},
		{"hang", 5 * time.Second, "still running after 5s: killed the prefix's processes"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			start := time.Now()
			out, err := p.wine(tc.limit, `C:\runaway.exe`, tc.mode)
			t.Logf("after %v: %v", time.Since(start).Round(100*time.Millisecond), err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runaway %s: %v\n%s; want an error saying %q", tc.mode, err, out, tc.want)
			}
			if pids := p.processes(); len(pids) != 0 {
				t.Errorf("left running: %v", pids)
			}
		})
	}
}
