//go:build !windows

package bridge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// announceDefault: /run is the FHS place for runtime state that must go at
// reboot, as the entries must. installer/linux/orionbridge-tmpfiles.conf
// creates it at boot (`d /run/orionbridge 1777 root root -`); a bridge run
// as root creates it too (ensureAnnounceDir). macOS has /var/run.
func announceDefault() string {
	if runtime.GOOS == "linux" {
		return "/run/orionbridge"
	}
	return "/var/run/orionbridge"
}

// checkAnnounceDir accepts dir when it is a real directory (not a link)
// owned by root or by us, and, when others may write it, sticky: without
// the sticky bit anyone could delete or rename another user's entry.
func checkAnnounceDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("announce directory %s: %w", dir, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir():
		return fmt.Errorf("announce directory %s: is not a directory (%v): remove it; the package creates it as root with mode 1777", dir, fi.Mode().Type())
	case st == nil || st.Uid != 0 && int(st.Uid) != os.Getuid():
		return fmt.Errorf("announce directory %s: owned by uid %d, not root: remove it; the package creates it as root with mode 1777", dir, st.Uid)
	case fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
		return fmt.Errorf("announce directory %s: writable by others without the sticky bit (mode %04o): chmod 1777 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// ensureAnnounceDir makes dir when it is missing and we are root (what
// the tmpfiles.d snippet would have made), then checks it. An ordinary
// user never creates it: a directory they own could be emptied by them.
func ensureAnnounceDir(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) && os.Getuid() == 0 {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create announce directory %s: %w", dir, err)
		}
		// Mkdir's mode goes through the umask; chmod sets 1777 exactly.
		if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
			return fmt.Errorf("announce directory %s: %w", dir, err)
		}
	}
	return checkAnnounceDir(dir)
}

// openAnnouncement opens an entry without following a link and checks it
// is a regular file owned by the uid in its name and writable only by it.
func openAnnouncement(dir, path, userKey string) (*os.File, error) {
	if err := checkAnnounceDir(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("announce entry %s: is a symbolic link: not believed", path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		st, _ := fi.Sys().(*syscall.Stat_t)
		switch {
		case !fi.Mode().IsRegular():
			err = fmt.Errorf("announce entry %s: not a regular file: not believed", path)
		case st == nil || strconv.FormatUint(uint64(st.Uid), 10) != userKey:
			err = fmt.Errorf("announce entry %s: not owned by uid %s: not believed", path, userKey)
		case fi.Mode().Perm()&0o022 != 0:
			err = fmt.Errorf("announce entry %s: writable by others (mode %04o): not believed", path, fi.Mode().Perm())
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// createEntry creates a new file (O_EXCL, never through a link) that
// every user may read.
func createEntry(tmp string) (*os.File, error) {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	// Umask may have taken read bits: every user must read the entry.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return f, nil
}

// processAlive: signal 0 checks existence; EPERM means it exists but is
// another user's (the entry's owner checked elsewhere).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
