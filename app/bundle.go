package app

import (
	"archive/zip"
	"bytes"
	"context"
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
//
// Without the config there is no bundle: its secrets could not be scrubbed
// from the logs. A certificate, health or snapshot the bridge does not
// answer is written as the error, so IT sees that it was unreachable.
func WriteSupportBundle(ctx context.Context, w io.Writer, ctrl Controller) error {
	cfg, err := ctrl.Config(ctx)
	if err != nil {
		return fmt.Errorf("support bundle: read the config, whose secrets are scrubbed from the logs: %w", err)
	}
	z := zip.NewWriter(w)
	info := ctrl.Info()
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
	if rep, err := ctrl.Certificate(ctx); err != nil {
		fmt.Fprintf(&certText, "the bridge did not answer: %v\n", err)
	} else {
		certs.WriteStatus(&certText, rep.Status, rep.Stores)
		if rep.Err != nil {
			fmt.Fprintf(&certText, "\ntrust check failed: %v\n", rep.Err)
		}
	}
	if err := add("certs-status.txt", certText.Bytes()); err != nil {
		return err
	}

	health, healthErr := ctrl.Health(ctx)
	snap, snapErr := ctrl.Snapshot(ctx)
	for _, f := range []struct {
		name string
		v    any
		err  error
	}{{"health.json", health, healthErr}, {"snapshot.json", snap, snapErr}} {
		var v any = f.v
		if f.err != nil {
			v = map[string]string{"error": "the bridge did not answer: " + f.err.Error()}
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := add(f.name, b); err != nil {
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
