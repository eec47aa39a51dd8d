//go:build linux

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestMakeRunNeverRelaysToAStranger runs what `make run` runs (the last line
// of its recipe, from `make -n`, with the headless build as BIN) while
// another program holds 127.0.0.1:21400, the port the user's /ws names and
// the demo engine used to take. The page's session must reach the demo
// engine, on the port the system picked, and the stranger must get nothing;
// at exit the configuration copy is gone.
func TestMakeRunNeverRelaysToAStranger(t *testing.T) {
	testutil.RequireTools(t, testutil.Tool{Name: "make", Deb: "make"})
	bin := headlessBuild.build(t)
	recipe := makeRunCommand(t, bin)

	// The stranger: whatever holds 21400 answers every connection with its
	// own words. When another program holds it already, that is the case
	// under test too.
	var strangerConns atomic.Int32
	if ln, err := net.Listen("tcp", "127.0.0.1:21400"); err == nil {
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				strangerConns.Add(1)
				_, _ = c.Write([]byte("a stranger answers\n"))
				c.Close()
			}
		}()
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatal(err)
	}

	home := t.TempDir()
	port := testutil.FreePort(t)
	dataDir := filepath.Join(home, "data")
	userConfig := filepath.Join(home, "config.toml")
	const origin = "https://editor.example.com"
	if err := os.WriteFile(userConfig, []byte(fmt.Sprintf(`port = %d
fallback_ports = []
data_dir = %q
allowed_origins = [%q]

[[routes]]
path = "/ws"
target = "127.0.0.1:21400"
`, port, dataDir, origin)), 0o600); err != nil {
		t.Fatal(err)
	}
	// make run's command, on the user's config (make run uses the default
	// one; --config points the test's HOME at this one).
	cmd := exec.Command(recipe[0], append(recipe[1:], "--config", userConfig)...)
	cmd.Env, cmd.Dir = isolatedEnv(home), home
	p := startCmd(t, "make run's command", cmd)
	p.waitForOutput(t, `msg="bridge listening" endpoint=wss://localhost:`+strconv.Itoa(port)+" ")
	m := regexp.MustCompile(`demo engine listening on (127\.0\.0\.1:\d+),.*\n.*copy of your configuration \(([^)]+)\)`).FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("the demo did not say where its engine listens and where its config is:\n%s", p.out)
	}
	engineAddr, configCopy := m[1], m[2]
	if engineAddr == "127.0.0.1:21400" {
		t.Fatal("the demo engine listens on 21400")
	}

	// /health names the demo engine as /ws's target, reachable.
	pool := testutil.CAPool(t, filepath.Join(dataDir, "certs", "ca.pem"))
	client := &http.Client{Timeout: waitLimit, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(fmt.Sprintf("https://localhost:%d/health", port))
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Routes []struct {
			Path, Target string
			Reachable    bool
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || len(health.Routes) != 1 || health.Routes[0].Target != engineAddr || !health.Routes[0].Reachable {
		t.Fatalf("/health routes %+v (%v), want /ws -> %s, reachable", health.Routes, err, engineAddr)
	}

	// A page's session echoes through the demo engine.
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitLimit}
	c, _, err := d.Dial(fmt.Sprintf("wss://localhost:%d/ws", port), http.Header{"Origin": {origin}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	if err := c.WriteMessage(websocket.TextMessage, []byte("hello demo\n")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "hello demo\n" {
		t.Fatalf("the page got %q, %v; want the demo engine's echo", got, err)
	}
	if n := strangerConns.Load(); n != 0 {
		t.Errorf("the program holding 127.0.0.1:21400 got %d connections", n)
	}

	p.stop(t) // SIGTERM: exits 0, or the test fails
	if _, err := os.Stat(configCopy); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the configuration copy %s outlived make run: %v", configCopy, err)
	}
	if after, _ := os.ReadFile(userConfig); !strings.Contains(string(after), `target = "127.0.0.1:21400"`) {
		t.Errorf("the user's config was rewritten:\n%s", after)
	}
}

// makeRunCommand is the command `make run` runs last, with BIN=bin: the
// Makefile stays the entry point, and this test runs what it runs.
func makeRunCommand(t *testing.T, bin string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// make -n -s run BIN=<bin>: prints the recipes without running them.
	out, err := exec.CommandContext(ctx, "make", "-C", root, "--no-print-directory", "-n", "-s", "run", "BIN="+bin).Output()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.Fields(lines[len(lines)-1])
	if len(last) < 2 || last[0] != bin || last[1] != "demo" {
		t.Fatalf("make run ends with %q; want %s demo …", lines[len(lines)-1], bin)
	}
	return last
}
