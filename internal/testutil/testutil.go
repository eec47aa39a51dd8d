// Package testutil holds what the tests of several packages repeat: a
// locked buffer for logs written from many goroutines, free ports, a
// waiter that polls until a condition holds, files and a private HOME.
// It is imported by tests only.
package testutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// SetHome points every location the OS lookups use at fresh directories,
// for the rest of the test: HOME and the XDG variables; on Windows also
// USERPROFILE, AppData (configHome) and LocalAppData (dataHome); on macOS,
// where both live in ~/Library/Application Support, configHome and
// dataHome are that folder.
func SetHome(t testing.TB) (home, configHome, dataHome string) {
	t.Helper()
	home, configHome, dataHome = t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", configHome)
	t.Setenv("XDG_DATA_HOME", dataHome)
	switch runtime.GOOS {
	case "windows":
		t.Setenv("USERPROFILE", home)
		t.Setenv("AppData", configHome)
		t.Setenv("LocalAppData", dataHome)
	case "darwin":
		configHome = filepath.Join(home, "Library", "Application Support")
		if err := os.MkdirAll(configHome, 0o700); err != nil {
			t.Fatal(err)
		}
		dataHome = configHome
	}
	return home, configHome, dataHome
}

// WriteFile writes data to path (mode 0644), creating its folders.
func WriteFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TempFile writes content to a new file named name in a fresh temporary
// folder and returns its path.
func TempFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	WriteFile(t, p, content)
	return p
}

// FreePort returns a TCP port that was free a moment ago on 127.0.0.1 and
// on ::1 (where a bridge listens too), other than the ports in taken.
func FreePort(t testing.TB, taken ...int) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ok := !slices.Contains(taken, port)
		if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
			ln6.Close()
		} else if errors.Is(err, syscall.EADDRINUSE) {
			ok = false
		}
		ln.Close()
		if ok {
			return port
		}
	}
	t.Fatal("no free TCP port found")
	return 0
}

// RequireRoot skips a test that needs root (chown, useradd, sudo) on a
// developer's machine, and fails it under CI=true, where CI runs as root
// and nothing may skip.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test must run as root in CI: %s", why)
	}
	t.Skipf("needs root: %s (CI runs it as root)", why)
}

// EchoEngine listens on a free loopback port and echoes every byte of every
// connection until the test ends; it returns the address.
func EchoEngine(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// LockedBuffer is a bytes.Buffer that goroutines may write while the test
// reads it: log handlers, a followed file, a process's output.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor polls cond until it holds. The 30 s bound only keeps a broken
// test from hanging: it asserts the outcome, never how fast it came.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CAPool is a pool holding the certificates of the PEM file at path, such
// as a bridge's <data_dir>/certs/ca.pem, for a client that trusts it.
func CAPool(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", path)
	}
	return pool
}

// Tool is a program a test runs, and the Debian package that provides it.
type Tool struct{ Name, Deb string }

// RequireTools skips the test when a tool is missing, naming the apt-get
// command that installs it, except under CI=true, where that is a failure:
// CI must run everything.
func RequireTools(t testing.TB, tools ...Tool) {
	t.Helper()
	var missing, debs []string
	for _, tl := range tools {
		if _, err := exec.LookPath(tl.Name); err != nil {
			missing = append(missing, tl.Name)
			if !slices.Contains(debs, tl.Deb) {
				debs = append(debs, tl.Deb)
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("%s not found: install with `sudo apt-get install -y --no-install-recommends %s` (or `make deps-test`)",
		strings.Join(missing, ", "), strings.Join(debs, " "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// BridgeDialer is a WebSocket dialer that trusts the CA of the bridge whose
// data dir is dataDir (<dataDir>/certs/ca.pem), as a browser would after
// `orionbridge certs install`.
func BridgeDialer(t testing.TB, dataDir string) *websocket.Dialer {
	t.Helper()
	pool := CAPool(t, filepath.Join(dataDir, "certs", "ca.pem"))
	return &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 10 * time.Second}
}
