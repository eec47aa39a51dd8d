package replacefile

import (
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func init() {
	children["write"] = func(target string) error {
		return WriteFile(target, version("traced", 256<<10), 0o600)
	}
}

// straceLine is one system call in `strace -f -y` output: an optional
// thread id, the call's name and its arguments, in which -y shows each
// file descriptor with its path, as 3</dir/file>.
var straceLine = regexp.MustCompile(`^(?:\d+\s+)?(\w+)\((.*)$`)

// The order a crash cannot see from inside the process: the data is
// fsynced before the rename, the folder after it, and the target is never
// opened for writing. The test binary runs as a child under strace, which
// records the real system calls.
func TestWriteFileSyscallOrder(t *testing.T) {
	testutil.RequireTools(t, testutil.Tool{Name: "strace", Deb: "strace"})
	bin, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		existing bool
	}{
		{"creating a file", false},
		{"replacing a file", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "config.toml")
			if tc.existing {
				if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			log := filepath.Join(t.TempDir(), "strace.log")
			out, err := runChild(t, "write", target, bin, "-f", "-y", "-qq", "-o", log,
				"-e", "trace=open,openat,creat,write,pwrite64,writev,truncate,ftruncate,fsync,fdatasync,rename,renameat,renameat2")
			if err != nil {
				t.Fatalf("strace %s: %v\n%s", os.Args[0], err, out)
			}
			raw, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}

			tmpOpen := regexp.MustCompile(`"(` + regexp.QuoteMeta(dir) + `/\.config\.toml\.tmp[0-9a-f]+)".*O_EXCL.*O_NOFOLLOW`)
			var tmp string
			// Index of each event in the trace; -1 = not seen.
			lastTmpWrite, tmpSync, renamed, dirSync := -1, -1, -1, -1
			var calls []string // those on dir, for the failure message
			for i, line := range strings.Split(string(raw), "\n") {
				m := straceLine.FindStringSubmatch(line)
				if m == nil {
					continue // "<... resumed>", exits, signals
				}
				name, args := m[1], m[2]
				if strings.Contains(args, dir) {
					calls = append(calls, name+"("+args)
				}
				on := func(path string) bool { return path != "" && strings.Contains(args, "<"+path+">") }
				switch {
				case tmp == "" && (name == "openat" || name == "open"):
					if mm := tmpOpen.FindStringSubmatch(args); mm != nil {
						tmp = mm[1]
					}
				case (name == "write" || name == "pwrite64" || name == "writev") && on(tmp):
					lastTmpWrite = i
				case (name == "fsync" || name == "fdatasync") && on(tmp):
					tmpSync = i
				case tmp != "" && strings.HasPrefix(name, "rename") && strings.Contains(args, `"`+tmp+`"`) && strings.Contains(args, `"`+target+`"`):
					renamed = i
				case name == "fsync" && on(dir) && renamed >= 0:
					dirSync = i
				}
				// In place: the target opened for writing, truncated or written.
				if strings.Contains(args, `"`+target+`"`) && (strings.Contains(args, "O_WRONLY") || strings.Contains(args, "O_RDWR") || strings.Contains(args, "O_TRUNC") || name == "truncate") ||
					strings.Contains(name, "write") && on(target) || name == "ftruncate" && on(target) {
					t.Errorf("the target is written in place: %s(%s", name, args)
				}
			}
			trace := strings.Join(calls, "\n")
			switch {
			case tmp == "":
				t.Fatalf("no temporary file .config.toml.tmp… created with O_EXCL in %s; calls:\n%s", dir, trace)
			case lastTmpWrite < 0:
				t.Fatalf("%s was never written; calls:\n%s", tmp, trace)
			case tmpSync < lastTmpWrite:
				t.Fatalf("%s was not fsynced after its last write and before the rename; calls:\n%s", tmp, trace)
			case renamed < 0:
				t.Fatalf("%s was never renamed over %s; calls:\n%s", tmp, target, trace)
			case renamed < tmpSync:
				t.Fatalf("%s was renamed before it was fsynced: a crash could leave the name on empty data; calls:\n%s", tmp, trace)
			case dirSync < 0:
				t.Fatalf("the folder %s was not fsynced after the rename: a crash could undo it; calls:\n%s", dir, trace)
			}
			if b, err := os.ReadFile(target); err != nil || string(b) != string(version("traced", 256<<10)) {
				t.Errorf("the target holds %d bytes (%v), want the new version", len(b), err)
			}
		})
	}
}
