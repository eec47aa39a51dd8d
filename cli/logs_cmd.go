package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"orionbridge/app"
	"orionbridge/config"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// followEvery is how often `logs --follow` looks for new lines.
const followEvery = 250 * time.Millisecond

func logsCommand(args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("logs", stderr)
	configPath := flags.String("config", "", "configuration `file`")
	follow := flags.Bool("follow", false, "keep printing new lines until Ctrl-C")
	lines := flags.Int("lines", 50, "how many of the last lines to print")
	if status, ok := parseOnlyFlags(flags, args, stderr, ""); !ok {
		return status
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	path := filepath.Join(cfg.DataDir, "logs", app.LogFileName)
	fmt.Fprintln(stdout, path)
	offset, err := tailLog(stdout, path, *lines)
	if err != nil && !(*follow && errors.Is(err, fs.ErrNotExist)) {
		fmt.Fprintf(stderr, "orionbridge logs: %v\n", err)
		return exitFailure
	}
	if !*follow {
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	followLog(ctx, stdout, path, offset)
	return exitOK
}

// tailLog prints the last n lines of path and returns where it stopped.
func tailLog(w io.Writer, path string, n int) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ring := make([]string, 0, n)
	r := bufio.NewReader(f)
	var offset int64
	for {
		line, err := r.ReadString('\n')
		if line != "" && (err == nil || errors.Is(err, io.EOF) && line[len(line)-1] == '\n') {
			offset += int64(len(line))
			if n > 0 {
				if len(ring) == n {
					ring = ring[1:]
				}
				ring = append(ring, line)
			}
		}
		if err != nil {
			break
		}
	}
	for _, l := range ring {
		io.WriteString(w, l)
	}
	return offset, nil
}

// followLog prints lines appended to path from offset until ctx is done.
// After a rotation (the file is new or shorter), it starts the new file
// from the top.
func followLog(ctx context.Context, w io.Writer, path string, offset int64) {
	var current os.FileInfo
	if st, err := os.Stat(path); err == nil {
		current = st
	}
	var partial []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(followEvery):
		}
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if current == nil || !os.SameFile(current, st) || st.Size() < offset {
			offset, partial = 0, nil
		}
		current = st
		if st.Size() == offset {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		buf := make([]byte, st.Size()-offset)
		n, _ := f.ReadAt(buf, offset)
		f.Close()
		offset += int64(n)
		// Print whole lines only; keep a half-written one for next time.
		data := append(partial, buf[:n]...)
		last := len(data)
		for last > 0 && data[last-1] != '\n' {
			last--
		}
		w.Write(data[:last])
		partial = append([]byte(nil), data[last:]...)
	}
}
