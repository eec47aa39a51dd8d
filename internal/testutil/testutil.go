// Package testutil holds what the tests of several packages repeat: a
// locked buffer for logs written from many goroutines, free ports, a
// waiter that polls until a condition holds, files and a private HOME.
// It is imported by tests only.
package testutil

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// SetHome points every location the OS lookups use (HOME and the XDG
// variables) at fresh directories, for the rest of the test.
func SetHome(t testing.TB) (home, configHome, dataHome string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("uses the XDG variables")
	}
	home, configHome, dataHome = t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", configHome)
	t.Setenv("XDG_DATA_HOME", dataHome)
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

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
