package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"orionbridge/certs"
	"orionbridge/internal/machinedir"
	"orionbridge/internal/testutil"
)

// TestCertsMachineCommands: with a machine certificate (made as `certs
// machine install` makes it, without touching this machine's trust stores:
// installer/machine_test.go does that with the real package), the user's
// commands act on it: status says it is served and why, path names its CA,
// renew names the administrator's command; without one they fall back to
// the user's own CA.
func TestCertsMachineCommands(t *testing.T) {
	testutil.SetHome(t)
	root := testutil.MachineRoot(t)
	t.Setenv(machinedir.Env, root)
	data := t.TempDir()
	cfg := testutil.TempFile(t, "c.toml", fmt.Sprintf("data_dir = %q\n", data))

	steps := []struct {
		args []string
		code int
		want string // in stdout+stderr
	}{
		{[]string{"certs", "status", "--config", cfg}, 1, "no machine certificate in " + filepath.Join(root, "certs")},
		{[]string{"certs", "machine", "status"}, 1, "No machine certificate"},
		{[]string{"certs", "machine", "renew"}, 0, "the machine leaf is not due"},
		{[]string{"certs", "path", "--config", cfg}, 0, filepath.Join(root, "certs", "ca.pem")},
		{[]string{"certs", "status", "--config", cfg}, 1, "installed for every user of this computer by an administrator"},
		{[]string{"certs", "renew", "--config", cfg}, 1, "orionbridge certs machine renew --force"},
		{[]string{"certs", "machine", "renew", "--force"}, 0, "issued the machine leaf (forced renewal)"},
		{[]string{"certs", "machine", "status"}, 0, "Leaf certificate:"},
		{[]string{"certs", "machine", "install", "--force"}, 2, "--force is for renew"},
	}
	for i, st := range steps {
		if i == 2 {
			// What `certs machine install` does first, without the trust.
			if _, err := certs.MaintainMachine(root, false, certs.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		code, out, errOut := runMain(t, st.args...)
		if code != st.code || !strings.Contains(out+errOut, st.want) {
			t.Fatalf("orionbridge %s: exit %d, want %d and %q in:\n%s%s", strings.Join(st.args, " "), code, st.code, st.want, out, errOut)
		}
	}
	// Gone again: the user's own CA.
	if _, err := certs.RemoveMachine(root); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runMain(t, "certs", "path", "--config", cfg); code != 0 || strings.TrimSpace(out) != filepath.Join(data, "certs", "ca.pem") {
		t.Errorf("certs path without the machine certificate: %d %q", code, out)
	}
}
