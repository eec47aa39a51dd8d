package cli

import (
	"bytes"
	"context"
	"orionbridge/app"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTailAndFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), app.LogFileName)
	testutil.WriteFile(t, path, "one\ntwo\nthree\nhalf")
	var out bytes.Buffer
	offset, err := tailLog(&out, path, 2)
	if err != nil || out.String() != "two\nthree\n" || offset != int64(len("one\ntwo\nthree\n")) {
		t.Fatalf("tail: %q, %d, %v", out.String(), offset, err)
	}

	w := &testutil.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); followLog(ctx, w, path, offset) }()
	defer func() { cancel(); <-done }()
	appendTo := func(p, s string) {
		f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		f.WriteString(s)
		f.Close()
	}
	appendTo(path, " line\nfour\n")
	testutil.WaitFor(t, "appended lines", func() bool { return w.String() == "half line\nfour\n" })
	// Rotation: the file is renamed away and a new one starts.
	os.Rename(path, path+".1")
	appendTo(path, "after rotation\n")
	testutil.WaitFor(t, "the rotated file", func() bool { return strings.HasSuffix(w.String(), "four\nafter rotation\n") })
}
