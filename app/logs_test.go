package app

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLogRotationAtTheCap(t *testing.T) {
	dir := t.TempDir()
	h, closer, err := openLogFileCapped(dir, slog.LevelInfo, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(h)
	filler := strings.Repeat("x", 1000)
	for range 5 * 1024 { // about 5 MiB against a 1 MiB cap
		log.Info("session closed", "filler", filler)
	}
	closer.Close()
	var files []string
	waitUntil(t, "old files to be pruned", func() bool {
		files, _ = filepath.Glob(filepath.Join(dir, "orionbridge*.log"))
		return len(files) == 3
	})
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > 1<<20 {
			t.Errorf("%s has %d bytes, over the 1 MiB cap", f, st.Size())
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, logFileName)); st.Mode().Perm()&0o077 != 0 {
		t.Errorf("log file mode %v: others can read it", st.Mode().Perm())
	}
}

// syncWriter collects followLog's output for the test to read.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestTailAndFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), logFileName)
	writeFile(t, path, "one\ntwo\nthree\nhalf")
	var out bytes.Buffer
	offset, err := tailLog(&out, path, 2)
	if err != nil || out.String() != "two\nthree\n" || offset != int64(len("one\ntwo\nthree\n")) {
		t.Fatalf("tail: %q, %d, %v", out.String(), offset, err)
	}

	w := &syncWriter{}
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
	waitUntil(t, "appended lines", func() bool { return w.String() == "half line\nfour\n" })
	// Rotation: the file is renamed away and a new one starts.
	os.Rename(path, path+".1")
	appendTo(path, "after rotation\n")
	waitUntil(t, "the rotated file", func() bool { return strings.HasSuffix(w.String(), "four\nafter rotation\n") })
}

func TestSupportBundle(t *testing.T) {
	setHome(t)
	in := startInstance(t)
	cfg := in.Config()
	cfg.Token = "s3cret-token-value"
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(in.LogDir(), logFileName), `{"msg":"a line that somehow holds s3cret-token-value"}`+"\n")
	var buf bytes.Buffer
	if err := WriteSupportBundle(&buf, in); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range z.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		got[f.Name] = string(b)
		if strings.Contains(string(b), "s3cret-token-value") {
			t.Errorf("%s holds the token", f.Name)
		}
	}
	secret, _ := readControlSecret(cfg.DataDir)
	for name, want := range map[string]string{
		"about.txt":           "Orion Bridge test",
		"config.toml":         "token = '(redacted)'",
		"certs-status.txt":    "CA fingerprint",
		"health.json":         `"app": "Orion Bridge"`,
		"snapshot.json":       `"running": true`,
		"logs/" + logFileName: "(redacted)",
	} {
		if !strings.Contains(got[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, got[name])
		}
	}
	for name, content := range got {
		if strings.Contains(content, secret) {
			t.Errorf("%s holds the control secret", name)
		}
	}
}
