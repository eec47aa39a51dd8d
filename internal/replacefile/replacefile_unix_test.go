//go:build unix

package replacefile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// The crash child's file: the old version the parent writes and the new
// one the child is killed while replacing it with.
var (
	crashOld = version("old", 64<<10)
	crashNew = version("new", 1<<20)
)

func init() {
	// The child replaces target with crashNew and kills itself with
	// SIGKILL (no deferred cleanup, no flush: as a crash) once the
	// temporary file is written, synced and closed and before the rename.
	children["crash"] = func(target string) error {
		beforeRename = func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
		if err := WriteFile(target, crashNew, 0o600); err != nil {
			return err
		}
		return errors.New("WriteFile returned: it never reached the point between write and rename")
	}
}

// runChild runs this test binary as a child in mode on target and returns
// its output and error (nil if it exited 0). wrap runs it under a
// command (strace).
func runChild(t *testing.T, mode, target string, wrap ...string) ([]byte, error) {
	t.Helper()
	args := append(slices.Clone(wrap), os.Args[0])
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, targetEnv+"="+target)
	return cmd.CombinedOutput()
}

// A crash between write and rename leaves the target exactly as it was,
// and the temporary file, complete, as the only leftover.
func TestWriteFileCrashBeforeRename(t *testing.T) {
	tests := []struct {
		name     string
		existing bool // the target exists before the write
	}{
		{"replacing a file", true},
		{"creating a file", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "server.key")
			if tc.existing {
				if err := os.WriteFile(target, crashOld, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, err := runChild(t, "crash", target)
			ee, ok := errors.AsType[*exec.ExitError](err)
			if !ok {
				t.Fatalf("the child was not killed: %v\n%s", err, out)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("the child ended with %v, want killed by SIGKILL before the rename\n%s", err, out)
			}

			got, err := os.ReadFile(target)
			switch {
			case tc.existing && !bytes.Equal(got, crashOld):
				t.Errorf("after the crash the target holds %d bytes (%v), want the old %d bytes exactly", len(got), err, len(crashOld))
			case !tc.existing && !errors.Is(err, os.ErrNotExist):
				t.Errorf("after the crash the target exists (%d bytes, %v), want none", len(got), err)
			}

			var temps []string
			for _, name := range entries(t, dir) {
				switch {
				case name == "server.key" && tc.existing:
				case isTemp("server.key", name):
					temps = append(temps, name)
				default:
					t.Errorf("unexpected %s in the folder after the crash", name)
				}
			}
			if len(temps) != 1 {
				t.Fatalf("temporary files left: %q, want exactly one .server.key.tmp…", temps)
			}
			// The leftover is whole: the crash came after the write, and
			// it stayed owner-only.
			tmp := filepath.Join(dir, temps[0])
			if b, err := os.ReadFile(tmp); err != nil || !bytes.Equal(b, crashNew) {
				t.Errorf("the leftover %s holds %d bytes (%v), want the new %d bytes", temps[0], len(b), err, len(crashNew))
			}
			if fi, err := os.Stat(tmp); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the leftover's mode is %v (%v), want 0600", fi.Mode(), err)
			}

			// The next write is not confused by the leftover.
			if err := WriteFile(target, []byte("after"), 0o600); err != nil {
				t.Fatalf("WriteFile after the crash: %v", err)
			}
			if b, _ := os.ReadFile(target); string(b) != "after" {
				t.Errorf("after the crash a new write gave %q", b)
			}
		})
	}
}

// The mode is perm exactly, whatever the umask and the replaced file's
// mode, and it is already set when prepare runs, before any byte.
func TestWriteFileMode(t *testing.T) {
	tests := []struct {
		name     string
		perm     os.FileMode
		umask    int
		existing os.FileMode // mode of a file being replaced; 0 = none
	}{
		{"owner-only under umask 022", 0o600, 0o022, 0},
		{"owner-only under umask 000", 0o600, 0o000, 0},
		{"world-readable under umask 077", 0o644, 0o077, 0},
		{"world-readable under umask 022", 0o644, 0o022, 0},
		{"group-readable under umask 027", 0o640, 0o027, 0},
		{"owner-only replacing a world-readable file", 0o600, 0o022, 0o644},
		{"world-readable replacing an owner-only file", 0o644, 0o077, 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "file")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			old := syscall.Umask(tc.umask) // process-wide: no test here runs in parallel
			defer syscall.Umask(old)
			var atPrepare os.FileMode
			err := WriteFileWith(path, []byte("new"), tc.perm, func(tmp string) error {
				fi, err := os.Stat(tmp)
				if err == nil {
					atPrepare = fi.Mode().Perm()
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if atPrepare != tc.perm {
				t.Errorf("before the first byte the mode is %v, want %v", atPrepare, tc.perm)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
			}
		})
	}
}
