package owneronly

import (
	"errors"
	"io/fs"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// otherUID stands for another local user (nobody). Chown needs root; CI
// runs as root, so nothing skips there.
const otherUID = 65534

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantError(t *testing.T, err error, kind Kind, parts ...string) {
	t.Helper()
	if kind == 0 {
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		return
	}
	oe, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("got %v (%T), want an *owneronly.Error of kind %d", err, err, kind)
	}
	if oe.Kind != kind {
		t.Errorf("kind %d, want %d: %v", oe.Kind, kind, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestCheckDir(t *testing.T) {
	testutil.RequireRoot(t, "it chowns files to another user")
	tests := []struct {
		name  string
		setup func(t *testing.T, base string) string // returns the dir to check
		kind  Kind
		parts []string
	}{
		{"own 0700", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			must(t, os.Mkdir(d, 0o700))
			return d
		}, 0, nil},
		{"own 0755 is fine: only writing is refused", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			must(t, os.Mkdir(d, 0o700))
			must(t, os.Chmod(d, 0o755))
			return d
		}, 0, nil},
		{"own 0777", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			must(t, os.Mkdir(d, 0o700))
			must(t, os.Chmod(d, 0o777))
			return d
		}, Writable, []string{"is writable by others (mode 0777)", "chmod 700 "}},
		{"own 0770: group-writable", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			must(t, os.Mkdir(d, 0o700))
			must(t, os.Chmod(d, 0o770))
			return d
		}, Writable, []string{"mode 0770"}},
		{"another user's", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			must(t, os.Mkdir(d, 0o700))
			must(t, os.Chown(d, otherUID, otherUID))
			return d
		}, Foreign, []string{"owned by uid 65534 (nobody), not by you (uid 0 (root))", "remove "}},
		{"a symbolic link to our own folder", func(t *testing.T, base string) string {
			d := filepath.Join(base, "real")
			must(t, os.Mkdir(d, 0o700))
			must(t, os.Symlink(d, filepath.Join(base, "d")))
			return filepath.Join(base, "d")
		}, Symlink, []string{"is a symbolic link to " + filepath.Join("", "")}},
		{"a file", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			must(t, os.WriteFile(d, nil, 0o600))
			return d
		}, WrongType, []string{"not a folder"}},
		{"under another user's folder", func(t *testing.T, base string) string {
			above := filepath.Join(base, "above")
			must(t, os.Mkdir(above, 0o755))
			must(t, os.Chown(above, otherUID, otherUID))
			d := filepath.Join(above, "d")
			must(t, os.Mkdir(d, 0o700))
			return d
		}, UnsafeAbove, []string{"the folder " + "", "above it is owned by uid 65534"}},
		{"under a world-writable folder without the sticky bit", func(t *testing.T, base string) string {
			above := filepath.Join(base, "above")
			must(t, os.Mkdir(above, 0o700))
			must(t, os.Chmod(above, 0o777))
			d := filepath.Join(above, "d")
			must(t, os.Mkdir(d, 0o700))
			return d
		}, UnsafeAbove, []string{"writable by others (mode 0777) and not sticky"}},
		{"under a sticky world-writable folder, like /tmp", func(t *testing.T, base string) string {
			above := filepath.Join(base, "above")
			must(t, os.Mkdir(above, 0o700))
			must(t, os.Chmod(above, 0o777|fs.ModeSticky))
			d := filepath.Join(above, "d")
			must(t, os.Mkdir(d, 0o700))
			return d
		}, 0, nil},
		{"through a link someone else owns", func(t *testing.T, base string) string {
			real := filepath.Join(base, "real")
			must(t, os.Mkdir(real, 0o700))
			must(t, os.Mkdir(filepath.Join(real, "d"), 0o700))
			link := filepath.Join(base, "link")
			must(t, os.Symlink(real, link))
			must(t, os.Lchown(link, otherUID, otherUID))
			return filepath.Join(link, "d")
		}, UnsafeAbove, []string{"link above it is owned by uid 65534"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t, t.TempDir())
			err := CheckDir("data dir", dir)
			wantError(t, err, tt.kind, append([]string{"data dir "}, tt.parts...)...)
		})
	}
}

func TestCheckFileAndReadSecret(t *testing.T) {
	testutil.RequireRoot(t, "it chowns files to another user")
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		kind  Kind // for ReadSecret
		parts []string
	}{
		{"own 0600", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("s"), 0o600)) }, 0, nil},
		{"own 0644", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, []byte("s"), 0o600))
			must(t, os.Chmod(p, 0o644))
		}, Readable, []string{"readable by others (mode 0644)", "chmod 600 "}},
		{"own 0640: group-readable", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, []byte("s"), 0o600))
			must(t, os.Chmod(p, 0o640))
		}, Readable, []string{"mode 0640"}},
		{"own 0666", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, []byte("s"), 0o600))
			must(t, os.Chmod(p, 0o666))
		}, Writable, []string{"writable by others (mode 0666)"}},
		{"another user's", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, []byte("s"), 0o600))
			must(t, os.Chown(p, otherUID, otherUID))
		}, Foreign, []string{"owned by uid 65534"}},
		{"a symbolic link to our own file", func(t *testing.T, p string) {
			must(t, os.WriteFile(p+".real", []byte("s"), 0o600))
			must(t, os.Symlink(p+".real", p))
		}, Symlink, []string{"symbolic link to ", "remove "}},
		{"a FIFO", func(t *testing.T, p string) { must(t, syscall.Mkfifo(p, 0o600)) }, WrongType, []string{"not a regular file"}},
		{"a folder", func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o700)) }, WrongType, []string{"not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "control.secret")
			tt.setup(t, path)
			b, err := ReadSecret("control secret", path)
			wantError(t, err, tt.kind, append([]string{"control secret " + path}, tt.parts...)...)
			if err == nil && string(b) != "s" {
				t.Errorf("read %q", b)
			}
			if err != nil && b != nil {
				t.Errorf("ReadSecret refused and still returned %q", b)
			}
			// CheckFile without private accepts what only others can read.
			cerr := CheckFile("control secret", path, false)
			if (cerr == nil) != (err == nil || tt.kind == Readable) {
				t.Errorf("CheckFile(private=false) = %v, ReadSecret = %v", cerr, err)
			}
		})
	}
	if _, err := ReadSecret("control secret", filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestMkdirAll(t *testing.T) {
	testutil.RequireRoot(t, "it chowns files to another user")
	base := t.TempDir()
	old := syscall.Umask(0o002) // a umask that would leave group write
	defer syscall.Umask(old)

	// Creates every missing folder 0700.
	dir := filepath.Join(base, "a", "b", "c")
	must(t, MkdirAll("data dir", dir))
	for _, p := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir} {
		fi, err := os.Lstat(p)
		must(t, err)
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %04o, want 0700", p, fi.Mode().Perm())
		}
	}
	// An existing folder of ours keeps its mode; it is not "fixed".
	must(t, os.Chmod(dir, 0o755))
	must(t, MkdirAll("data dir", dir))
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("existing folder's mode changed to %04o", fi.Mode().Perm())
	}
	// A folder someone else made first is refused, and nothing is created in it.
	planted := filepath.Join(base, "planted")
	must(t, os.Mkdir(planted, 0o777))
	must(t, os.Chmod(planted, 0o777))
	must(t, os.Chown(planted, otherUID, otherUID))
	wantError(t, MkdirAll("data dir", planted), Foreign, "data dir "+planted, "owned by uid 65534")
	wantError(t, MkdirAll("log folder", filepath.Join(planted, "logs")), UnsafeAbove, "the folder "+planted+" above it")
	if _, err := os.Lstat(filepath.Join(planted, "logs")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MkdirAll created a folder inside the planted one: %v", err)
	}
	// A symbolic link in place of the folder is refused, not followed.
	link := filepath.Join(base, "link")
	must(t, os.Symlink(dir, link))
	wantError(t, MkdirAll("data dir", link), Symlink, "symbolic link")
}

func TestCreateNeverFollowsOrReplaces(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	must(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "orionbridge.log")
	must(t, os.Symlink(target, link))
	if f, err := Create(link, 0o600); err == nil {
		f.Close()
		t.Fatal("Create opened a symbolic link")
	} else if !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a link: %v, want fs.ErrExist", err)
	}
	dangling := filepath.Join(dir, "dangling")
	must(t, os.Symlink(filepath.Join(dir, "would-be-created"), dangling))
	if f, err := Create(dangling, 0o600); err == nil {
		f.Close()
		t.Fatal("Create followed a dangling link")
	}
	if _, err := os.Lstat(filepath.Join(dir, "would-be-created")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Create made the dangling link's target")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target now holds %q", b)
	}
	f, err := CreateTemp(dir, ".x-*.tmp", 0o600)
	must(t, err)
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 || !strings.HasPrefix(filepath.Base(f.Name()), ".x-") {
		t.Errorf("CreateTemp made %s with mode %04o", f.Name(), fi.Mode().Perm())
	}
}
