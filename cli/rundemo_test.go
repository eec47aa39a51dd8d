package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"orionbridge/config"
	"orionbridge/internal/testutil"
)

// holdEnginePort listens on 127.0.0.1:21400, the demo engine's old fixed
// port, as a program the user did not start would. It never answers, so a
// route to it shows as a missing echo. When something else holds the port
// already, that is the same situation.
func holdEnginePort(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:21400")
	if errors.Is(err, syscall.EADDRINUSE) {
		t.Log("127.0.0.1:21400 is held by another program already")
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
}

// The demo's configuration routes /ws to the engine this process listens
// for, on a port the OS picked, whatever the user's /ws said and whoever
// holds 127.0.0.1:21400; every other key and route stays the user's, and
// the user's file is not written.
func TestPrepareDemoRoutesToItsOwnEngine(t *testing.T) {
	_, configHome, _ := testutil.SetHome(t)
	t.Setenv("ORIONBRIDGE_MANAGED_CONFIG", filepath.Join(t.TempDir(), "none.toml"))
	holdEnginePort(t)
	userFile := filepath.Join(configHome, "OrionBridge", "config.toml")
	tests := []struct {
		name       string
		user       string // the user's config file; "" for none
		wantRoutes []string
		check      func(t *testing.T, c config.Config)
	}{
		{name: "no config file", wantRoutes: []string{demoRoutePath}},
		{
			name: "the user's /ws and another route",
			user: `port = 21900
token = "s3cret-token"
allowed_origins = ["https://editor.example.com"]

[[routes]]
path = "/reports"
target = "127.0.0.1:9100"
framing = "lines"
line_ending = "crlf"

[[routes]]
path = "/ws"
target = "127.0.0.1:21400"
framing = "length-prefixed"
launch = ["/opt/orion/engine"]
`,
			wantRoutes: []string{"/reports", demoRoutePath},
			check: func(t *testing.T, c config.Config) {
				if c.Port != 21900 || c.Token != "s3cret-token" || len(c.AllowedOrigins) != 1 || c.Routes[0].LineEnding != "crlf" {
					t.Errorf("the copy lost the user's settings: %+v", c)
				}
				if c.Routes[1].Launch != nil {
					t.Errorf("the demo route kept the user's launch %q", c.Routes[1].Launch)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(userFile)
			var before []byte
			if tt.user != "" {
				testutil.WriteFile(t, userFile, tt.user)
				os.Chmod(userFile, 0o600)
				before = []byte(tt.user)
			}
			d, err := prepareDemo("")
			if err != nil {
				t.Fatal(err)
			}
			engineAddr := d.engine.Addr().String()
			if engineAddr == "127.0.0.1:21400" {
				t.Fatal("the demo engine took 21400: it must take a port the OS picks")
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan struct{})
			go func() {
				defer close(served)
				DemoEngine{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}.Serve(ctx, d.engine)
			}()
			defer func() { cancel(); <-served }()

			c, err := config.Load(d.configPath)
			if err != nil {
				t.Fatalf("the demo's config does not load: %v", err)
			}
			var paths []string
			for _, r := range c.Routes {
				paths = append(paths, r.Path)
				if r.Path == demoRoutePath && (r.Target != engineAddr || r.Framing != "raw") {
					t.Errorf("route %s -> %s (%s), want -> %s (raw)", r.Path, r.Target, r.Framing, engineAddr)
				}
			}
			if strings.Join(paths, " ") != strings.Join(tt.wantRoutes, " ") {
				t.Errorf("routes %q, want %q", paths, tt.wantRoutes)
			}
			if tt.check != nil {
				tt.check(t, c)
			}

			// What answers at the route's target is the demo engine.
			conn, err := net.DialTimeout("tcp", c.Routes[len(c.Routes)-1].Target, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang guard: the stranger never answers
			conn.Write([]byte("ping\n"))
			buf := make([]byte, 5)
			if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping\n" {
				t.Errorf("the route's target answered %q, %v; want the demo engine's echo", buf, err)
			}

			// The copy is private, and the user's file untouched.
			for path, want := range map[string]os.FileMode{filepath.Dir(d.configPath): 0o700, d.configPath: 0o600} {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
					t.Errorf("%s: %v, mode %v; want %v", path, err, fi.Mode().Perm(), want)
				}
			}
			if after, err := os.ReadFile(userFile); tt.user != "" && (err != nil || string(after) != string(before)) {
				t.Errorf("the user's config changed: %q, %v", after, err)
			}
			d.close()
			if _, err := os.Stat(filepath.Dir(d.configPath)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the copy's folder outlived the demo: %v", err)
			}
		})
	}
}

// Routes that IT's managed file sets would override the copy's: the demo
// stops and says so, rather than run with a route it did not choose.
func TestPrepareDemoRefusesManagedRoutes(t *testing.T) {
	testutil.SetHome(t)
	managed := testutil.TempFile(t, "managed.toml", "[[routes]]\npath = \"/ws\"\ntarget = \"127.0.0.1:21400\"\n")
	os.Chmod(managed, 0o600)
	t.Setenv("ORIONBRIDGE_MANAGED_CONFIG", managed)
	d, err := prepareDemo("")
	if err == nil {
		d.close()
		t.Fatal("the demo ran with routes the managed config sets")
	}
	if want := "the machine-wide managed configuration " + managed + " sets the routes"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
}
