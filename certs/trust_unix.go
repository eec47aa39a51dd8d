//go:build !windows

package certs

// Helpers shared by the Unix trust stores (NSS, system anchors, keychains).

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// isRoot is a variable so tests can exercise system scope without root.
var isRoot = func() bool { return os.Geteuid() == 0 }

// account is the user whose browser stores we change: the current user, or
// under sudo the user who ran sudo, since root's own NSS databases serve no
// browser anyone looks at.
type account struct {
	home     string
	uid, gid int
	other    bool // not the user this process runs as: run certutil as them
}

func invokingAccount() (account, error) {
	if name := os.Getenv("SUDO_USER"); isRoot() && name != "" && name != "root" {
		if u, err := user.Lookup(name); err == nil {
			uid, uerr := strconv.Atoi(u.Uid)
			gid, gerr := strconv.Atoi(u.Gid)
			if uerr == nil && gerr == nil && u.HomeDir != "" {
				return account{home: u.HomeDir, uid: uid, gid: gid, other: true}, nil
			}
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return account{}, fmt.Errorf("find home directory for the NSS databases: %w", err)
	}
	return account{home: home, uid: os.Getuid(), gid: os.Getgid()}, nil
}

// command runs name with args and returns its combined output; a failure
// carries the command line and what it printed.
func command(cmd *exec.Cmd) ([]byte, error) {
	out, err := cmd.CombinedOutput()
	if err != nil {
		line := strings.Join(cmd.Args, " ")
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return out, fmt.Errorf("%s: %w", line, err)
		}
		return out, fmt.Errorf("%s: %w: %s", line, err, msg)
	}
	return out, nil
}

// toolDirs are searched after PATH; a variable so tests can empty it.
var toolDirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/bin", "/opt/homebrew/bin"}

// lookTool finds a command in PATH or, because a sudo'd or desktop session
// may lack them in PATH, in the usual system directories.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range toolDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// mkdirOwned creates dir and its missing parents as 0700, owned by acct.
func mkdirOwned(dir string, acct account) error {
	var created []string
	for d := dir; !exists(d); d = filepath.Dir(d) {
		created = append(created, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if acct.other {
		for _, d := range created {
			if err := os.Chown(d, acct.uid, acct.gid); err != nil {
				return fmt.Errorf("give %s to its user: %w", d, err)
			}
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// absentStore is a store that is not on this machine; listing it tells the
// user where we looked.
type absentStore struct{ st StoreStatus }

func (a absentStore) info() StoreStatus                { return a.st }
func (a absentStore) status(*rootCert) (State, string) { return StateNotPresent, a.st.Detail }
func (a absentStore) install(*rootCert) error          { return fmt.Errorf("%w: %s", errSkip, a.st.Detail) }
func (a absentStore) uninstall(*rootCert) (bool, error) {
	return false, fmt.Errorf("%w: %s", errSkip, a.st.Detail)
}
