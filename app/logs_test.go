package app

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"log/slog"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"strings"
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
	testutil.WaitFor(t, "old files to be pruned", func() bool {
		files, _ = filepath.Glob(filepath.Join(dir, "orionbridge*.log"))
		return len(files) == 3
	})
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > 1<<20 {
			t.Errorf("%s has %d bytes, over the 1 MiB cap", f, st.Size())
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, LogFileName)); st.Mode().Perm()&0o077 != 0 {
		t.Errorf("log file mode %v: others can read it", st.Mode().Perm())
	}
}

func TestSupportBundle(t *testing.T) {
	testutil.SetHome(t)
	in := startInstance(t)
	cfg := in.RunningConfig()
	cfg.Token = "s3cret-token-value"
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(in.LogDir(), LogFileName), `{"msg":"a line that somehow holds s3cret-token-value"}`+"\n")
	var buf bytes.Buffer
	if err := WriteSupportBundle(context.Background(), &buf, in); err != nil {
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
		"logs/" + LogFileName: "(redacted)",
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
