package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

const (
	logFileName = "orionbridge.log"
	// 5 files of 10 MiB: weeks of sessions for a support bundle, and a hard
	// cap on the disk a forgotten tray app can use.
	logFileMiB   = 10
	logFilesKept = 4 // plus the current one
)

// openLogFile returns a handler writing JSON lines to dir/orionbridge.log,
// rotated by size, and the file to close at exit.
func openLogFile(dir string, level slog.Leveler) (slog.Handler, io.Closer, error) {
	return openLogFileCapped(dir, level, logFileMiB, logFilesKept)
}

// openLogFileCapped is openLogFile with the cap given: mib per file (the
// unit lumberjack takes) and kept old files.
func openLogFileCapped(dir string, level slog.Leveler, mib, kept int) (slog.Handler, io.Closer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("log folder %s: %w", dir, err)
	}
	w := &lumberjack.Logger{
		Filename:   filepath.Join(dir, logFileName),
		MaxSize:    mib,
		MaxBackups: kept,
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), w, nil
}
