package testutil

import (
	"os"
	"path/filepath"

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
