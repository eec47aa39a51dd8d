//go:build !windows

package cli

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// sudoUser is the person behind `sudo orionbridge certs install --scope
// system`. The CA to trust is the one in *their* data dir, which their
// bridge serves, not root's.
type sudoUser struct {
	home     string
	uid, gid int
}

func invokingUser() (sudoUser, bool) {
	name := os.Getenv("SUDO_USER")
	if os.Geteuid() != 0 || name == "" || name == "root" {
		return sudoUser{}, false
	}
	u, err := user.Lookup(name)
	if err != nil {
		return sudoUser{}, false
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || u.HomeDir == "" {
		return sudoUser{}, false
	}
	return sudoUser{home: u.HomeDir, uid: uid, gid: gid}, true
}

// useHome makes the default config and data paths resolve in the user's
// home, as they do when the user runs the bridge.
func (u sudoUser) useHome() {
	os.Setenv("HOME", u.home)
	os.Unsetenv("XDG_CONFIG_HOME")
	os.Unsetenv("XDG_DATA_HOME")
}

// own gives the files root created under dir (and dir's parents up to the
// home) back to the user, so their bridge can read its own key.
func (u sudoUser) own(dir string) error {
	for d := filepath.Dir(dir); len(d) > len(u.home) && filepath.Dir(d) != d; d = filepath.Dir(d) {
		if err := os.Lchown(d, u.uid, u.gid); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.uid, u.gid)
	})
}
