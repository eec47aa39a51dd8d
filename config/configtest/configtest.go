// Package configtest helps the tests of the packages above config (app,
// cli, tray) with what they need of it: a machine-wide config of their own.
package configtest

import (
	"path/filepath"
	"testing"

	"orionbridge/config"
	"orionbridge/internal/testutil"
)

// UseManagedConfig points the machine-wide config at a temporary file with
// content (none when content is "") until the test ends, and returns its
// path. Tests that use it must not run in parallel.
func UseManagedConfig(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "managed.toml")
	if content != "" {
		testutil.WriteFile(t, path, content)
	}
	old := config.ManagedPath
	config.ManagedPath = func() string { return path }
	t.Cleanup(func() { config.ManagedPath = old })
	return path
}
