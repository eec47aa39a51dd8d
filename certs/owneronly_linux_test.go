package certs

import (
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nobodyUID stands for another local user: files chowned to it are
// "planted". Chown needs root; CI runs as root, so nothing skips there.
const nobodyUID = 65534

// TestPlantedOrExposedKeyIsRefused: a CA key or certificate folder that
// someone else wrote, or can read or write, is refused with an error naming
// the path and the fix, and never used (issue 12, finding 1).
func TestPlantedOrExposedKeyIsRefused(t *testing.T) {
	testutil.RequireRoot(t, "it chowns files to another user")
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir string) // after a first OpenLocal
		want  []string
	}{
		{"ca key readable by others", func(t *testing.T, dir string) {
			must(t, os.Chmod(filepath.Join(dir, caKeyName), 0o644))
		}, []string{"ca key", caKeyName, "readable by others (mode 0644)", "chmod 600"}},
		{"ca key owned by another user", func(t *testing.T, dir string) {
			must(t, os.Chown(filepath.Join(dir, caKeyName), nobodyUID, nobodyUID))
		}, []string{"ca key", "owned by uid 65534", "not by you"}},
		{"ca key a symbolic link", func(t *testing.T, dir string) {
			key := filepath.Join(dir, caKeyName)
			must(t, os.Rename(key, key+".real"))
			must(t, os.Symlink(key+".real", key))
		}, []string{"ca key", "symbolic link", "remove DIR/" + caKeyName}},
		{"certificate folder writable by others", func(t *testing.T, dir string) {
			must(t, os.Chmod(dir, 0o777))
		}, []string{"certificate folder", "writable by others (mode 0777)", "chmod 700 DIR"}},
		{"certificate folder owned by another user", func(t *testing.T, dir string) {
			must(t, os.Chown(dir, nobodyUID, nobodyUID))
		}, []string{"certificate folder", "owned by uid 65534"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "certs")
			clock := newClock()
			first, _ := openLocal(t, dir, clock)
			tt.spoil(t, dir)
			s, err := OpenLocal(dir, testOptions(clock, &testutil.LockedBuffer{}))
			if err == nil {
				same := s.Status().CAFingerprint == first.Status().CAFingerprint
				t.Fatalf("OpenLocal succeeded (same CA: %v); want a refusal", same)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestExposedLeafKeyIsReplaced: a leaf key others can read is not served;
// the renewal replaces it with a private one.
func TestExposedLeafKeyIsReplaced(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	first, _ := openLocal(t, dir, clock)
	must(t, os.Chmod(filepath.Join(dir, leafKeyName), 0o644))
	s, logs := openLocal(t, dir, clock)
	if s.Status().LeafSerial == first.Status().LeafSerial {
		t.Fatal("the leaf whose key others can read is still served")
	}
	if !strings.Contains(logs.String(), "readable by others") {
		t.Errorf("the new leaf's reason does not name the exposed key; logs:\n%s", logs)
	}
	if fi, _ := os.Stat(filepath.Join(dir, leafKeyName)); fi.Mode().Perm() != 0o600 {
		t.Errorf("new leaf key mode %v, want 0600", fi.Mode().Perm())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
