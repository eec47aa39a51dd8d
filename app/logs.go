package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"gopkg.in/natefinch/lumberjack.v2"

	"orionbridge/internal/owneronly"
)

const (
	LogFileName = "orionbridge.log"
	// 5 files of 10 MiB: weeks of sessions for a support bundle, and a hard
	// cap on the disk a forgotten tray app can use.
	logFileMiB   = 10
	logFilesKept = 4 // plus the current one
)

// OpenLogFile returns a handler writing JSON lines to dir/orionbridge.log,
// rotated by size, and the file to close at exit.
//
// dir is <data_dir>/logs, opened before NewInstance checks the data dir;
// so the data dir gets that check here first, and a planted one is
// reported as the data dir, with the data_dir fix.
func OpenLogFile(dir string, level slog.Leveler) (slog.Handler, io.Closer, error) {
	dataDir := filepath.Dir(dir)
	if err := owneronly.MkdirAll("data dir", dataDir); err != nil {
		return nil, nil, dataDirError(dataDir, err)
	}
	return openLogFileCapped(dir, level, logFileMiB, logFilesKept)
}

// openLogFileCapped is OpenLogFile with the cap given: mib per file (the
// unit lumberjack takes) and kept old files.
func openLogFileCapped(dir string, level slog.Leveler, mib, kept int) (slog.Handler, io.Closer, error) {
	// lumberjack opens the file by name, following a symbolic link, and
	// keeps an existing folder's owner and mode. So the folder must be ours
	// and owner-only (then nobody else can put anything in it later), and
	// the file, if it exists, a regular file of ours: a planted link would
	// have us append to any file we can write.
	if err := owneronly.MkdirAll("log folder", dir); err != nil {
		return nil, nil, err
	}
	// Ours, so tightening it is safe: logs name sites and sessions.
	if err := restrictLogDir(dir); err != nil {
		return nil, nil, fmt.Errorf("log folder %s: make it owner-only: %w", dir, err)
	}
	path := filepath.Join(dir, LogFileName)
	if err := owneronly.CheckFile("log file", path, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	w := &lumberjack.Logger{
		Filename:   path,
		MaxSize:    mib,
		MaxBackups: kept,
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), w, nil
}

// restrictLogDir makes the checked log folder owner-only (0700; on Windows
// MkdirAll's protected DACL already is, and chmod would not change it).
func restrictLogDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	return os.Chmod(dir, 0o700)
}
