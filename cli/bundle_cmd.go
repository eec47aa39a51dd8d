package cli

import (
	"context"
	"fmt"
	"io"
	"orionbridge/app"
	"orionbridge/config"
	"orionbridge/internal/owneronly"
	"os"
	"time"
)

func supportBundleCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("support-bundle", stderr)
	configPath := fs.String("config", "", "configuration `file`")
	output := fs.String("output", "", "zip `file` to write (default: OrionBridge-support-<date>.zip here)")
	if status, ok := parseOnlyFlags(fs, args, stderr, ""); !ok {
		return status
	}
	cfg, sources, err := config.LoadSources(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	// The running bridge knows the most (sessions, health); without one,
	// an instance that is not started still reports config, certificate
	// and logs.
	var ctrl app.Controller
	for _, port := range append([]int{cfg.Port}, cfg.FallbackPorts...) {
		if r, err := app.Attach(cfg, port); err == nil {
			defer r.Close()
			ctrl = r
			break
		}
	}
	if ctrl == nil {
		in, err := app.NewInstance("", cfg, nil)
		if err != nil {
			fmt.Fprintln(stderr, "orionbridge support-bundle:", err)
			return exitFailure
		}
		in.SetConfigPath(*configPath)
		in.SetSources(sources)
		ctrl = in
	}
	name := *output
	if name == "" {
		name = "OrionBridge-support-" + time.Now().Format("2006-01-02-150405") + ".zip"
	}
	// A new file only, never through a link someone left at that name.
	f, err := owneronly.Create(name, 0o600)
	if err != nil {
		fmt.Fprintln(stderr, "orionbridge support-bundle:", err)
		return exitFailure
	}
	if err := app.WriteSupportBundle(context.Background(), f, ctrl); err != nil {
		f.Close()
		os.Remove(name)
		fmt.Fprintln(stderr, "orionbridge support-bundle:", err)
		return exitFailure
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(stderr, "orionbridge support-bundle:", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, name)
	return exitOK
}
