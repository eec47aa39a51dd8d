package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"testing"
)

// LocalUser is a real account made for one test with useradd, with a home
// folder of its own; it is removed at cleanup.
type LocalUser struct {
	Name     string
	UID, GID int
	Home     string
}

// AddUser creates a local account (useradd) whose name starts with "ob" and
// role. It needs root; under CI a failure fails the test, never skips it.
func AddUser(t testing.TB, role string) LocalUser {
	t.Helper()
	RequireRoot(t, "creates a second OS user with useradd")
	RequireTools(t, Tool{Name: "useradd", Deb: "passwd"}, Tool{Name: "runuser", Deb: "util-linux"})
	b := make([]byte, 4)
	rand.Read(b)
	name := "ob" + role + hex.EncodeToString(b) // < 32 characters, unique per run
	home, err := os.MkdirTemp("", "orionbridge-home-")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("useradd", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh", "--user-group", name).CombinedOutput()
	if err != nil {
		os.RemoveAll(home)
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		os.RemoveAll(home)
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return LocalUser{Name: name, UID: uid, GID: gid, Home: home}
}

// Command is name with args run as u (runuser) with u's HOME.
func (u LocalUser) Command(name string, args ...string) *exec.Cmd {
	argv := append([]string{"-u", u.Name, "--", "env", "HOME=" + u.Home, "XDG_CONFIG_HOME=" + u.Home + "/.config",
		"XDG_DATA_HOME=" + u.Home + "/.local/share", name}, args...)
	return exec.Command("runuser", argv...)
}

// Sh runs a shell script as u and fails the test if it fails.
func (u LocalUser) Sh(t testing.TB, script string) {
	t.Helper()
	out, err := exec.Command("runuser", "-u", u.Name, "--", "sh", "-ec", script).CombinedOutput()
	if err != nil {
		t.Fatalf("as %s: %s: %v: %s", u.Name, script, err, out)
	}
}
