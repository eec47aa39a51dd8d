package replacefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The crash and system-call tests run this test binary again as a child
// that calls WriteFile (replacefile_unix_test.go, replacefile_linux_test.go).
// childEnv names what the child does, from children; targetEnv the file.
const (
	childEnv  = "ORIONBRIDGE_REPLACEFILE_CHILD"
	targetEnv = "ORIONBRIDGE_REPLACEFILE_TARGET"
)

// children are the child modes, registered by the per-OS test files.
var children = map[string]func(target string) error{}

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		run, ok := children[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, mode)
			os.Exit(3)
		}
		if err := run(os.Getenv(targetEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// version is n bytes of recognisable content: lines naming tag, so a
// reader that sees a mix of two versions, or a truncated one, is caught.
func version(tag string, n int) []byte {
	line := []byte("version " + tag + " of the file\n")
	return bytes.Repeat(line, n/len(line)+1)[:n]
}

// entries lists dir's names, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// isTemp reports whether name is a temporary file WriteFile made for base.
func isTemp(base, name string) bool {
	random, ok := strings.CutPrefix(name, "."+base+".tmp")
	return ok && random != "" && strings.Trim(random, "0123456789abcdef") == ""
}

func TestRenameReplacesAnOpenFile(t *testing.T) {
	dir := t.TempDir()
	to := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(to, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(to) // a watcher reading it at that instant
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	from := filepath.Join(dir, "config.toml.tmp")
	if err := os.WriteFile(from, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Rename(from, to); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if b, err := os.ReadFile(to); err != nil || string(b) != "new" {
		t.Fatalf("after Rename the file holds %q (%v), want %q", b, err, "new")
	}
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Errorf("the temporary file is still there: %v", err)
	}
	if err := Rename(filepath.Join(dir, "missing"), to); err == nil {
		t.Error("Rename of a missing file succeeded")
	}
}

// Each case writes "new" to config.toml in a fresh folder; a failure must
// leave the target as it was and no temporary file behind.
func TestWriteFile(t *testing.T) {
	errNoACL := errors.New("no ACL for you")
	tests := []struct {
		name        string
		setup       func(t *testing.T, dir string) // before the write
		path        string                         // relative to the folder; "config.toml" if empty
		chdir       bool                           // pass path relative to the working directory
		prepare     func(tmp string) error
		wantErr     []string // substrings of the error; none = success
		wantIs      error
		wantContent string   // of config.toml after the write; "" = absent
		wantEntries []string // the folder's names after the write
	}{
		{
			name:        "new file",
			wantContent: "new",
			wantEntries: []string{"config.toml"},
		},
		{
			name:        "replaces an existing file",
			setup:       func(t *testing.T, dir string) { writeOld(t, dir) },
			wantContent: "new",
			wantEntries: []string{"config.toml"},
		},
		{
			name:        "relative path in the working directory",
			setup:       func(t *testing.T, dir string) { writeOld(t, dir) },
			chdir:       true,
			wantContent: "new",
			wantEntries: []string{"config.toml"},
		},
		{
			name:        "missing folder",
			path:        filepath.Join("missing", "sub", "config.toml"),
			wantErr:     []string{"write ", filepath.Join("missing", "sub", "config.toml"), "the folder ", filepath.Join("missing", "sub") + " does not exist; create it first"},
			wantIs:      os.ErrNotExist,
			wantEntries: nil,
		},
		{
			name:        "prepare fails",
			setup:       func(t *testing.T, dir string) { writeOld(t, dir) },
			prepare:     func(string) error { return errNoACL },
			wantErr:     []string{"config.toml: prepare ", ".config.toml.tmp", "no ACL for you"},
			wantIs:      errNoACL,
			wantContent: "old",
			wantEntries: []string{"config.toml"},
		},
		{
			name: "rename fails: the target is a folder",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "config.toml"), 0o700); err != nil {
					t.Fatal(err)
				}
			},
			wantErr:     []string{"config.toml: rename ", ".config.toml.tmp", "over it"},
			wantEntries: []string{"config.toml"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			rel := tc.path
			if rel == "" {
				rel = "config.toml"
			}
			path := filepath.Join(dir, rel)
			if tc.chdir {
				t.Chdir(dir)
				path = rel
			}
			err := WriteFileWith(path, []byte("new"), 0o600, tc.prepare)
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("WriteFile succeeded, want an error")
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("error %q does not wrap %v", err, tc.wantIs)
				}
			}
			target := filepath.Join(dir, "config.toml")
			if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
				got, _ := os.ReadFile(target)
				if string(got) != tc.wantContent {
					t.Errorf("config.toml holds %q, want %q", got, tc.wantContent)
				}
			} else if tc.wantContent != "" {
				t.Errorf("config.toml is not a file (%v), want %q", err, tc.wantContent)
			}
			if got := entries(t, dir); !slices.Equal(got, tc.wantEntries) {
				t.Errorf("the folder holds %q, want %q (no temporary file left)", got, tc.wantEntries)
			}
		})
	}
}

func writeOld(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// prepare runs once, on an empty file beside the target, before any byte
// is written: certs sets a key's Windows ACL there.
func TestWriteFilePrepareRunsBeforeAnyByte(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.key")
	calls := 0
	err := WriteFileWith(path, []byte("secret key"), 0o600, func(tmp string) error {
		calls++
		if filepath.Dir(tmp) != dir || !isTemp("server.key", filepath.Base(tmp)) {
			t.Errorf("prepare got %s, want a hidden .server.key.tmp file in %s", tmp, dir)
		}
		fi, err := os.Stat(tmp)
		if err != nil {
			return err
		}
		if fi.Size() != 0 {
			t.Errorf("prepare got a file of %d bytes, want it empty", fi.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("prepare ran %d times, want once", calls)
	}
}

// Watchers notice a new version by size and mtime; a same-size
// replacement must get a later mtime even when the clock says otherwise
// (coarse file system timestamps, or a target stamped in the future).
func TestWriteFileMovesMtimeForward(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.crt")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().After(future) {
		t.Errorf("mtime %v is not after the replaced file's %v: a watcher comparing size and mtime misses the change", fi.ModTime(), future)
	}
}

// Readers never see a partly written file: while WriteFile replaces the
// file with one of two versions of different sizes again and again, every
// read returns one of them whole. A write in place (os.WriteFile's
// truncate-then-write) fails this within a few rounds.
func TestWriteFileReadersSeeWholeVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	versions := [][]byte{version("A", 1<<20), version("B", 700<<10)}
	if err := WriteFile(path, versions[0], 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	var bad []byte
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := os.ReadFile(path)
			if err != nil {
				bad = []byte("read error: " + err.Error())
				return
			}
			reads++
			if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
				bad = got
				return
			}
		}
	})
	for i := range 60 {
		if err := WriteFile(path, versions[i%2], 0o644); err != nil {
			t.Error(err)
			break
		}
	}
	close(done)
	wg.Wait()
	if bad != nil {
		head := bad[:min(len(bad), 60)]
		t.Fatalf("a reader saw %d bytes starting %q, neither version whole (after %d good reads)", len(bad), head, reads)
	}
	t.Logf("%d reads, each one version whole", reads)
}
