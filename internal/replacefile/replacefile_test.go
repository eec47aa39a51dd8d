package replacefile

import (
	"os"
	"path/filepath"
	"testing"
)

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
