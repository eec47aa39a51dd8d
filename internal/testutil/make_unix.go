//go:build unix

package testutil

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Make runs the Makefile's rules for targets in root, unsigned whatever the
// caller's environment says (signing is the release's business). make and
// what it runs (go build, cc1) form one process group, stopped with SIGTERM
// a minute before the test's -timeout would end the test binary and leave
// them running; goal names the make goal whose -timeout allows for the
// first Windows build, for the message.
func Make(t testing.TB, root, goal string, targets ...string) {
	t.Helper()
	ctx := t.Context()
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := dt.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Minute))
			defer cancel()
		}
	}
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory", "-C", root}, targets...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = append(os.Environ(), "SIGN_CERT=", "SIGN_KEY=")
	out, err := cmd.CombinedOutput()
	t.Logf("make %s:\n%s", strings.Join(targets, " "), out)
	if ctx.Err() != nil {
		t.Fatalf("make %s stopped at the test's deadline: the first Windows build takes minutes; run `make %s`, whose -timeout allows for it",
			strings.Join(targets, " "), goal)
	}
	if err != nil {
		t.Fatalf("make %s: %v", strings.Join(targets, " "), err)
	}
}
