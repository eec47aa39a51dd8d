package cli

// `orionbridge config write-managed`: the installers' way to write keys of
// the machine-wide managed config (config/managed.go says how).

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"orionbridge/config"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const managedWriteUsage = "usage: orionbridge config write-managed [--port N] [--allowed-origins ORIGIN,ORIGIN…] [--engine-address HOST:PORT]"

func managedWriteCommand(args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("config write-managed", stderr)
	port := flags.String("port", "", "the HTTPS/WSS `port` (key port)")
	origins := flags.String("allowed-origins", "", "comma-separated `origins` allowed to connect (key allowed_origins)")
	engine := flags.String("engine-address", "", "`host:port` of the report engine: the first route's target (key routes[0].target)")
	if status, ok := parseOnlyFlags(flags, args, stderr, managedWriteUsage); !ok {
		return status
	}
	keys := config.ManagedKeys{}
	if p := strings.TrimSpace(*port); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintf(stderr, "orionbridge config write-managed: --port %q: expected a port number 1-65535\n", p)
			return exitUsage
		}
		keys.Port = &n
	}
	if o := strings.TrimSpace(*origins); o != "" {
		list := []string{}
		for _, s := range strings.Split(o, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		keys.Origins = list
	}
	if e := strings.TrimSpace(*engine); e != "" {
		keys.Engine = e
	}

	path := config.ManagedPath()
	if err := config.PrepareManagedDir(filepath.Dir(path)); err != nil {
		fmt.Fprintf(stderr, "orionbridge config write-managed: %v\n", err)
		return exitFailure
	}
	if keys.Empty() {
		fmt.Fprintf(stdout, "%s: no key given, nothing written\n", path)
		return exitOK
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(stderr, config.ReadError(path, err))
		return exitFailure
	}
	data, err := config.MergeManaged(path, old, keys)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if err := config.WriteManagedFile(path, data); err != nil {
		fmt.Fprintf(stderr, "orionbridge config write-managed: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: wrote %s\n", path, strings.Join(keys.Names(), ", "))
	return exitOK
}
