package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"orionbridge/internal/machinedir"
)

// NoMachineDir is where the tests' bridges look for a machine certificate:
// a folder that never exists. Without it a test's bridge would serve the
// machine certificate of whatever package is installed on the computer
// running the tests (certs.OpenServed), not the CA the test trusts. Tests
// of the machine certificate set machinedir.Env themselves (or unset it,
// installer/machine_test.go, which installs the real package).
var NoMachineDir = filepath.Join(os.TempDir(), "orionbridge-tests-have-no-machine-dir")

func init() {
	if _, set := os.LookupEnv(machinedir.Env); !set {
		os.Setenv(machinedir.Env, NoMachineDir)
	}
}

// MachineRoot is a machine data folder for one test (not created yet),
// inside a fresh folder only root can change, as /var/lib is, so that the
// machine certificate's ownership checks pass for real. It needs root.
func MachineRoot(t testing.TB) string {
	t.Helper()
	RequireRoot(t, "the machine certificate is root's")
	parent, err := os.MkdirTemp("", "orionbridge-machine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(parent, "orionbridge")
}
