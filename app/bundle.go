package app

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"orionbridge/certs"
	"orionbridge/config"
	"orionbridge/internal/owneronly"
)

// WriteSupportBundle writes a zip for IT: the logs, the config (its
// secrets redacted, see Config.Redacted; the control secret is never
// included), the certificate and trust status, the health and live
// sessions, and version and OS. The secret values are also scrubbed from
// every other file, logs included.
func WriteSupportBundle(w io.Writer, ctrl Controller) error {
	z := zip.NewWriter(w)
	info := ctrl.Info()
	cfg := ctrl.Config()
	secrets := cfg.SecretValues()
	scrub := func(b []byte) []byte {
		for _, s := range secrets {
			b = bytes.ReplaceAll(b, []byte(s), []byte(config.RedactedText))
		}
		return b
	}
	add := func(name string, data []byte) error {
		f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
		if err != nil {
			return err
		}
		_, err = f.Write(scrub(data))
		return err
	}

	about := fmt.Sprintf("Orion Bridge %s\nmode: %s\npid: %d\nstarted: %s\nOS: %s/%s\nGo: %s\nwritten: %s\nconfig: %s\nmanaged keys: %s\nlogs: %s\n",
		info.Version, info.Mode, info.PID, info.Started.Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		time.Now().Format(time.RFC3339), info.ConfigPath, strings.Join(info.ManagedKeys, ", "), info.LogDir)
	if err := add("about.txt", []byte(about)); err != nil {
		return err
	}

	shown := cfg.Redacted()
	conf, err := config.Marshal(shown)
	if err != nil {
		return fmt.Errorf("support bundle: config: %w", err)
	}
	if err := add("config.toml", conf); err != nil {
		return err
	}

	var certText bytes.Buffer
	rep := ctrl.Certificate()
	certs.WriteStatus(&certText, rep.Status, rep.Stores)
	if rep.Err != nil {
		fmt.Fprintf(&certText, "\ntrust check failed: %v\n", rep.Err)
	}
	if err := add("certs-status.txt", certText.Bytes()); err != nil {
		return err
	}

	for name, v := range map[string]any{"health.json": ctrl.Health(), "snapshot.json": ctrl.Snapshot()} {
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := add(name, b); err != nil {
			return err
		}
	}

	logs, _ := filepath.Glob(filepath.Join(info.LogDir, "*"))
	for _, p := range logs {
		// Only regular files of ours: a link planted in the folder would
		// put any file we can read into a zip sent to IT.
		data, err := owneronly.ReadFile("log file", p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return fmt.Errorf("support bundle: %w", err)
		}
		if err := add("logs/"+filepath.Base(p), data); err != nil {
			return err
		}
	}
	return z.Close()
}
